"""The protocol every synthesis stage follows (TorchIO's split: a random part samples, a deterministic part applies).

    params = stage.sample(batch, size, generator, device)   # all randomness of the parameters, per image
    x = stage.apply(params, x, generator)                   # deterministic in params; `generator` only for
                                                            # per-pixel noise drawn while applying
Every stage is built from its Hydra config node (YAML keys = constructor arguments), validates its ranges in
the constructor with a ConfigError naming the key, and reports ``enabled``; the generator skips a disabled
stage entirely (no parameters drawn, no cost). Tensors are created on `device`, never copied to the host.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Stage(Protocol):
    @property
    def enabled(self) -> bool: ...

    def sample(self, batch: int, size: tuple[int, int], generator: torch.Generator | None,
               device: torch.device | str) -> Any: ...

    def apply(self, params: Any, x: Any, generator: torch.Generator | None = None) -> Any: ...
