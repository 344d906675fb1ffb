"""A parametrised 2D U-Net (Ronneberger et al. 2015) for (B, 1, H, W) -> (B, n_classes, H, W) logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spine_synthseg.errors import ConfigError

NORMS = ("instance", "batch", "group", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.Identity()


class MaxPool2x2(nn.Module):
    """2 x 2 max pooling, stride 2. On the CPU it pools a channels-last copy, returned contiguous: torch 2.13's CPU
    kernel is much faster in that layout (the U-Net's inference: 223 against 182 tiles/s), with the same values and,
    on tied windows, the same gradients (tests/test_speed_paths.py; benchmarks/inference_speed.py, step_speed.py)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return F.max_pool2d(x, 2)
        return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 2).contiguous()


class LeakyReLU(nn.LeakyReLU):
    """LeakyReLU (slope 0.01) in place only where no gradient is taken: in training, in place on instance norm's
    output (a view) makes autograd copy whole activations (out of place: a faster backward, step_speed_relu.json);
    in inference it saves an allocation (10 % less time, kernel_speed.json). The same values and gradients either way
    (tests/test_speed_paths.py)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.negative_slope, inplace=not torch.is_grad_enabled())

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}, inplace=without grad"


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by normalisation and LeakyReLU."""

    def __init__(self, cin: int, cout: int, norm: str, dropout: float):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=norm == "none"), _norm(norm, cout), LeakyReLU(0.01),
            nn.Dropout2d(dropout) if dropout else nn.Identity(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=norm == "none"), _norm(norm, cout), LeakyReLU(0.01),
        )


class UNet(nn.Module):
    """depth: number of resolution levels (2-6; input sides must be divisible by 2**(depth-1)).
    base_channels: width of the first level, doubled at each level (4-128). norm: instance | batch | group | none."""

    def __init__(self, in_channels=1, n_classes=4, depth=4, base_channels=16, norm="instance", dropout=0.0):
        super().__init__()
        if not 2 <= depth <= 6:
            raise ConfigError(f"model.depth={depth} is out of range [2, 6].")
        if not 4 <= base_channels <= 128:
            raise ConfigError(f"model.base_channels={base_channels} is out of range [4, 128].")
        if norm not in NORMS:
            raise ConfigError(f"model.norm={norm!r}; use one of {NORMS}.")
        widths = [base_channels * 2**i for i in range(depth)]
        self.depth = depth
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(ConvBlock(cin, w, norm, dropout))
            cin = w
        self.pool = MaxPool2x2()
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth - 1))
        self.dec = nn.ModuleList(ConvBlock(2 * widths[i], widths[i], norm, dropout) for i in range(depth - 1))
        self.head = nn.Conv2d(widths[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 2 ** (self.depth - 1)
        if x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f"Input size {tuple(x.shape[-2:])} must be divisible by {factor} for depth {self.depth}.")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for i in reversed(range(self.depth - 1)):
            x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))
        return self.head(x)
