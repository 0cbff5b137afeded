"""Memory bounds: estimate what a request needs from its sizes and refuse it up front.

Every command that allocates in proportion to a flag (``--hidden``, ``--batch-size``,
``--steps``, ``--examples``, ...) calls `require_memory` with its estimate before allocating,
so an impossible request is one line naming the flag instead of a hang, a swelling process or
a MemoryError traceback.
"""
from __future__ import annotations

import os

from loopnet.errors import ConfigError

# Bytes one Python float costs in a list (8-byte pointer + 24-byte float object): the python
# backend's buffers; NumPy's float64 arrays cost 8.
PY_FLOAT_BYTES = 32
# Refuse what needs more than this share of the memory available now.
SHARE = 0.8


def available_bytes() -> int:
    """Memory available to this process now: MemAvailable from /proc/meminfo on Linux, else
    physical memory (``os.sysconf``), else 8 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 8 << 30


def format_bytes(count: float) -> str:
    """1536 → '1.5 KiB'; up to EiB, then a power of ten."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if count < 1024 or unit == "EiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.3g} EiB"


def require_memory(needed: float, what: str, error: type = ConfigError) -> None:
    """Raise `error` (ConfigError by default) when `needed` bytes exceed what is available.

    `what` names the request, e.g. ``"--hidden 100000000 (a 784-100000000-10 network)"``.
    """
    available = available_bytes()
    if needed > SHARE * available:
        raise error(f"{what} needs about {format_bytes(needed)} of memory; this machine has "
                    f"{format_bytes(available)} available")


def network_bytes(sizes: list[int], backend: str = "python") -> int:
    """Parameters, gradients and optimizer state of a network (about 4 copies of its weights)."""
    weights = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    per_value = 8 if backend == "numba" else PY_FLOAT_BYTES
    return 4 * weights * per_value
