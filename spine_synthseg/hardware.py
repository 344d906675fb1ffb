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
    """A record of the machine for benchmark files: processor (and its model name), core count, memory and the flags
    that matter here."""
    import os

    import torch

    flags = cpu_flags()
    return {"cpu": platform.processor() or platform.machine(), "model_name": _proc_field("/proc/cpuinfo", "model name"),
            "cores": os.cpu_count(), "memory_gib": _memory_gib(), "torch": torch.__version__,
            "bf16_flags": sorted(flags & {*NATIVE_BF16_FLAGS, "amx_tile", "amx_int8"}),
            "avx512f": "avx512f" in flags, "native_bf16": native_bf16(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _proc_field(path: str, key: str) -> str | None:
    """The value of the first `key: value` line of a /proc file; None where unreadable."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].strip() == key), None)


def _memory_gib() -> float | None:
    total = _proc_field("/proc/meminfo", "MemTotal")  # "24683712 kB"
    return round(int(total.split()[0]) / 2**20, 1) if total else None
