"""Stage 5b: rigid in-plane motion during a sequential acquisition, simulated in k-space (ghosting, not blur)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spine_synthseg.synthesis.sampling import check_range, uniform


@dataclass
class MotionParams:
    """shift_rows: (B, H, 2) and shift_cols: (B, W, 2) in-plane translation (dy, dx) in pixels of each
    k-space line for phase encoding along rows / columns; along_rows: (B,) which one applies."""

    shift_rows: torch.Tensor
    shift_cols: torch.Tensor
    along_rows: torch.Tensor
    active: torch.Tensor  # (B,) images that move; the others are left untouched (and cost nothing)


class RandomMotion:
    """Rigid in-plane motion during acquisition, simulated in k-space (ghosting, not a blur).

    With probability prob, n <= max_events movements happen at random times t_e in (0, 1) of a sequential
    (linear ky order) acquisition; each adds a translation d_e ~ U(-max_shift_mm, max_shift_mm)^2. Every
    phase-encoding line acquired after t_e carries the accumulated shift d, i.e. its k-space values are
    multiplied by exp(-2 pi i (ky dy + kx dx)). prob 0 or max_shift_mm 0 disables it.
    """

    def __init__(self, prob: float = 0.3, max_shift_mm: float = 5.0, max_events: int = 3, *, spacing_mm: float):
        self.prob = check_range("synth.motion.prob", prob, 0, 1)
        self.max_shift_mm = check_range("synth.motion.max_shift_mm", max_shift_mm, 0, 30)
        self.max_events = int(check_range("synth.motion.max_events", max_events, 1, 10))
        self.spacing_mm = spacing_mm

    @property
    def enabled(self) -> bool:
        return self.prob > 0 and self.max_shift_mm > 0

    def _line_shifts(self, batch, n_lines, active, generator, device) -> torch.Tensor:
        e = self.max_events
        times = torch.rand((batch, e), generator=generator, device=device)
        used = torch.arange(e, device=device) < torch.randint(1, e + 1, (batch, 1), generator=generator, device=device)
        m = self.max_shift_mm / self.spacing_mm
        steps = uniform(-m, m, (batch, e, 2), generator, device) * (used & active[:, None])[..., None]
        freq = torch.fft.fftfreq(n_lines, device=device)
        line_time = (freq.argsort().argsort().float() + 0.5) / n_lines  # linear ky order: -kmax ... +kmax
        after = (line_time[None, :, None] > times[:, None, :]).float()  # (B, L, E)
        return torch.einsum("ble,bed->bld", after, steps)

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> MotionParams:
        active = torch.rand((batch,), generator=generator, device=device) < self.prob
        return MotionParams(
            shift_rows=self._line_shifts(batch, size[0], active, generator, device),
            shift_cols=self._line_shifts(batch, size[1], active, generator, device),
            along_rows=torch.rand((batch,), generator=generator, device=device) < 0.5,
            active=active,
        )

    @staticmethod
    def apply(params: MotionParams, image: torch.Tensor, generator=None) -> torch.Tensor:
        idx = params.active.nonzero().flatten()
        if idx.numel() == 0:
            return image
        h, w = image.shape[-2:]
        ky = torch.fft.fftfreq(h, device=image.device).view(1, h, 1)
        kx = torch.fft.fftfreq(w, device=image.device).view(1, 1, w)
        r, c = params.shift_rows[idx], params.shift_cols[idx]
        phase_rows = ky * r[:, :, None, 0] + kx * r[:, :, None, 1]  # line = row (ky)
        phase_cols = ky * c[:, None, :, 0] + kx * c[:, None, :, 1]  # line = column (kx)
        phase = torch.where(params.along_rows[idx].view(-1, 1, 1), phase_rows, phase_cols)
        k = torch.fft.fft2(image[idx, 0]) * torch.polar(torch.ones_like(phase), -2 * torch.pi * phase)
        out = image.clone()
        out[idx, 0] = torch.fft.ifft2(k).abs()
        return out
