"""A parametrised 2D U-Net (Ronneberger et al. 2015) for (B, 1, H, W) -> (B, n_classes, H, W) logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spine_synthseg.errors import ConfigError

NORMS = ("instance", "batch", "group", "none")


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) with channels-last strides (H*W*C, 1, W*C, C), also where C is 1 (there
    ``x.contiguous(memory_format=torch.channels_last)`` keeps NCHW strides, which torch's convolution reads as NCHW)."""
    return x if x.stride(1) == 1 and x.is_contiguous(memory_format=torch.channels_last) else \
        torch.empty_like(x, memory_format=torch.channels_last).copy_(x)


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether x is laid out channels-last and not also NCHW (as with one channel or 1 x 1 images)."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


class _PerImageNorm(torch.autograd.Function):
    """Instance norm of a channels-last (B, C, H, W) tensor as B batch norms of one image each, forward and
    backward, by torch's channels-last batch-norm kernels; the weight and bias gradients summed in image order."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
        y = torch.empty_like(x)
        mean = torch.empty(x.shape[:2], dtype=weight.dtype)  # torch keeps the statistics in the weight's dtype
        rstd = torch.empty_like(mean)
        for i in range(x.shape[0]):
            torch.ops.aten.native_batch_norm.out(x[i:i + 1], weight, bias, None, None, True, 0.0, eps,
                                                 out=y[i:i + 1], save_mean=mean[i], save_invstd=rstd[i])
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        x, weight, mean, rstd = ctx.saved_tensors
        dy = dy.contiguous(memory_format=torch.channels_last)
        dx, dweight, dbias = torch.empty_like(x), torch.zeros_like(weight), torch.zeros_like(weight)
        for i in range(x.shape[0]):
            dxi, dwi, dbi = torch.ops.aten.native_batch_norm_backward(
                dy[i:i + 1], x[i:i + 1], weight, None, None, mean[i], rstd[i], True, ctx.eps, [True, True, True])
            dx[i:i + 1] = dxi
            dweight += dwi
            dbias += dbi
        return dx, dweight, dbias, None


class InstanceNorm(nn.InstanceNorm2d):
    """Instance norm with a learnt scale and shift per channel (nn.InstanceNorm2d(affine=True): the same parameters,
    values and gradients up to rounding, tests/test_speed_paths.py). On a channels-last CPU tensor, the U-Net's
    layout on the CPU, each image goes through torch's channels-last batch-norm kernels: torch 2.13's instance norm
    would copy the tensor to NCHW and back. Elsewhere it is torch's instance norm."""

    def __init__(self, channels: int):
        super().__init__(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and x.dim() == 4 and is_channels_last(x):
            return _PerImageNorm.apply(x, self.weight, self.bias, self.eps)
        return super().forward(x)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return InstanceNorm(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.Identity()


class MaxPool2x2(nn.Module):
    """2 x 2 max pooling, stride 2. On the CPU it pools a channels-last copy (none where x is channels-last), returned
    in x's layout: torch 2.13's CPU kernel is much faster in that layout (the U-Net's inference in NCHW: 223 against
    182 tiles/s), with the same values and, on tied windows, the same gradients (tests/test_speed_paths.py;
    benchmarks/inference_speed.py, step_speed.py)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return F.max_pool2d(x, 2)
        y = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 2)
        return y if is_channels_last(x) else y.contiguous()


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
    base_channels: width of the first level, doubled at each level (4-128). norm: instance | batch | group | none.

    On the CPU the activations are channels-last from the input to the logits (returned NCHW): oneDNN's
    convolutions then need no layout copies (benchmarks/step_speed.py, inference_speed.py). ``cpu_channels_last =
    False`` (an attribute, not a hyper-parameter: the same weights either way) runs NCHW, as before."""

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
        self.cpu_channels_last = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 2 ** (self.depth - 1)
        if x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f"Input size {tuple(x.shape[-2:])} must be divisible by {factor} for depth {self.depth}.")
        layout = self.cpu_channels_last and x.device.type == "cpu"
        if layout:
            x = channels_last(x)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for i in reversed(range(self.depth - 1)):
            x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))
        return self.head(x).contiguous() if layout else self.head(x)
