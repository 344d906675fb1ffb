"""Tensor operations shared by inference, validation and the generator."""

from __future__ import annotations

import torch


def argmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x.argmax(dim)``, the first maximum on ties, computed as ``x.max(dim).indices``: the same indices, but on the
    CPU (torch 2.13) much faster for a reduction over a non-innermost dimension, such as the classes of a
    (4, H, W) softmax or of (N, 4, H, W) logits: 0.22 against 6.9 ms for (4, 210, 168) (benchmarks/inference_speed.py)."""
    return x.max(dim).indices


def quantile(x: torch.Tensor, q: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``torch.quantile(x, q, dim)`` (linear interpolation; q: 1D, in [0, 1]; output (len(q), *rest)), computed from
    the few order statistics it needs with ``topk`` from the nearer end instead of a full sort: the same values,
    and 5-6x faster for the 0.5 / 99.5 % percentiles of a slice or a batch (benchmarks/kernel_speed.py). Falls
    back to torch.quantile off the CPU (where it was not measured, and its checks would wait on the device), for
    NaNs, q outside [0, 1], dtypes other than float32 / float64 (or q's not x's) and order statistics deeper than a
    tenth of the data."""
    if (x.device.type != "cpu" or x.ndim == 0 or q.ndim != 1 or x.dtype not in (torch.float32, torch.float64)
            or q.dtype != x.dtype or bool(((q < 0) | (q > 1)).any()) or bool(x.isnan().any())):
        return torch.quantile(x, q, dim=dim)  # (which raises for other dtypes, as before)
    n = x.shape[dim]
    ranks = q * (n - 1)  # as torch.quantile: the rank in the sorted values, then linear interpolation
    below, above = ranks.long().tolist(), ranks.ceil().long().tolist()
    bottom = [bool(v <= 0.5) for v in q]  # each quantile's order statistics from the bottom, or from the top
    k_low = max([a + 1 for a, b in zip(above, bottom) if b], default=0)
    k_high = max([n - lo for lo, b in zip(below, bottom) if not b], default=0)
    if max(k_low, k_high) > max(1, n // 10):
        return torch.quantile(x, q, dim=dim)
    xs = x.movedim(dim, -1)
    smallest = xs.topk(k_low, dim=-1, largest=False).values if k_low else None  # sorted[..., :k_low]
    largest = xs.topk(k_high, dim=-1, largest=True).values if k_high else None  # sorted[..., n-1], n-2, ...
    order = lambda i, b: smallest[..., i] if b else largest[..., n - 1 - i]  # noqa: E731  sorted[..., i]
    return torch.stack([order(lo, b).lerp(order(hi, b), r - lo)
                        for lo, hi, b, r in zip(below, above, bottom, ranks)])
