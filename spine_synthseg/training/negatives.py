"""Negatives: training images whose right answer is empty, for every model alike (nnU-Net issue 1412: "add images
with empty masks"; the SPIDER baseline's empty patches). Applied to a finished training batch (crops, generator or
augmentation done), each image replaced with probability `rate` by one of `kinds`, uniformly, target all
background:
  blank     zeros;
  constant  one value U(0, 1);
  noise     out-of-body signal: |N(0, s)|, s ~ U(0.02, 0.2) (the magnitude noise of air);
  shifted   the image moved along its columns (anterior-posterior) until every labelled pixel has left the crop:
            what lies in front of or behind the spine, with zeros where the image ends; an image whose spine
            leaves fewer than MIN_VISIBLE columns on both sides becomes blank instead.
"""

from __future__ import annotations

import torch

from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.sampling import check_range

KINDS = ("blank", "constant", "noise", "shifted")
MIN_VISIBLE = 8  # columns of image left in view by a shifted negative


class Negatives:
    """rate: share of training images replaced (0-0.5). kinds: a non-empty subset of KINDS."""

    def __init__(self, rate: float = 0.0, kinds=KINDS):
        self.rate = check_range("data.negatives.rate", rate, 0, 0.5)
        self.kinds = tuple(kinds)
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise ConfigError(f"data.negatives.kinds={list(kinds)}: use a non-empty subset of {list(KINDS)}.")

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __call__(self, image: torch.Tensor, structures: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images (B, 1, H, W), targets (B, H, W), which were replaced (B,) bool)."""
        b, dev = image.shape[0], image.device
        if not self.enabled:  # draws nothing: a run without negatives keeps its random stream (same seed, same run)
            return image, structures, torch.zeros(b, dtype=torch.bool, device=dev)
        chosen = torch.rand(b, generator=generator, device=dev) < self.rate
        if not bool(chosen.any()):
            return image, structures, chosen
        pick = torch.randint(len(self.kinds), (b,), generator=generator, device=dev)
        kind = torch.tensor([KINDS.index(k) for k in self.kinds], device=dev)[pick]
        value = torch.rand(b, generator=generator, device=dev)[:, None, None, None]
        sigma = 0.02 + 0.18 * torch.rand(b, generator=generator, device=dev)[:, None, None, None]
        noise = (torch.randn(image.shape, generator=generator, device=dev) * sigma).abs().clamp(0, 1)
        shifted, ok = self._shifted(image, structures, torch.rand(b, generator=generator, device=dev))
        k = kind[:, None, None, None]
        negative = torch.where(k == 1, value.expand_as(image), torch.zeros_like(image))
        negative = torch.where(k == 2, noise, negative)
        negative = torch.where((k == 3) & ok[:, None, None, None], shifted, negative)
        out = torch.where(chosen[:, None, None, None], negative.to(image.dtype), image)
        return out, torch.where(chosen[:, None, None], 0, structures), chosen

    @staticmethod
    def _shifted(image: torch.Tensor, structures: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(each image moved along its columns so its labelled pixels leave the view, whether that leaves at least
        MIN_VISIBLE columns of image). u: (B,) U(0, 1) choosing the side where both are possible."""
        w = image.shape[-1]
        cols = torch.arange(w, device=image.device)
        labelled = (structures > 0).any(1)  # (B, W)
        first = torch.where(labelled, cols, w).min(1).values  # anterior-most labelled column (w if none)
        last = torch.where(labelled, cols, -1).max(1).values  # posterior-most (-1 if none)
        front_ok, back_ok = first >= MIN_VISIBLE, (w - 1 - last) >= MIN_VISIBLE
        use_front = front_ok & (~back_ok | (u < 0.5))
        shift = torch.where(use_front, w - first, -(last + 1))  # > 0: move right (shows the front)
        source = cols[None, :] - shift[:, None]  # (B, W) the column each output column shows
        valid = (source >= 0) & (source < w)
        moved = image.gather(-1, source.clamp(0, w - 1)[:, None, None, :].expand_as(image))
        return torch.where(valid[:, None, None, :], moved, 0), (front_ok | back_ok) & labelled.any(1)
