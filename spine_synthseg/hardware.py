"""What this machine's CPU can do, for choices made from it (training precision) and for benchmark records."""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

# CPU flags (Linux /proc/cpuinfo) under which bfloat16 matrix work runs natively rather than emulated:
# x86 AMX tiles or AVX512-BF16 instructions; Arm's BF16 extension.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo ("flags" on x86, "Features" on Arm); empty where unreadable."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def native_bf16() -> bool:
    """True if the CPU computes bfloat16 natively (AMX, AVX512-BF16 or Arm BF16)."""
    return bool(cpu_flags() & set(NATIVE_BF16_FLAGS))


def describe() -> dict:
    """A record of the machine for benchmark files: processor, core count and the flags that matter here."""
    import os

    import torch

    flags = cpu_flags()
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__,
            "bf16_flags": sorted(flags & {*NATIVE_BF16_FLAGS, "amx_tile", "amx_int8"}),
            "avx512f": "avx512f" in flags, "native_bf16": native_bf16(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
