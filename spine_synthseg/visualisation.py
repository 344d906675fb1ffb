"""Label colours and overlays shared by TensorBoard images, galleries and evaluation figures."""

from __future__ import annotations

import torch

# background (unused), vertebra, disc, canal: RGB in [0, 1]
COLOURS = torch.tensor([[0.0, 0.0, 0.0], [0.95, 0.75, 0.1], [0.2, 0.8, 0.3], [0.2, 0.5, 1.0]])


def label_overlay(image: torch.Tensor, labels: torch.Tensor, alpha: float = 0.45) -> torch.Tensor:
    """(3, H, W) RGB: grey image (H, W) in [0, 1] with coloured labels (H, W) blended at `alpha`."""
    grey = image.detach().float().clamp(0, 1).cpu().expand(3, *image.shape)
    lab = labels.detach().long().cpu()
    colour = COLOURS[lab].permute(2, 0, 1)
    mask = (lab > 0).unsqueeze(0)
    return torch.where(mask, (1 - alpha) * grey + alpha * colour, grey)
