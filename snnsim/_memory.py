"""Memory estimates against what the machine has: the builder, the engines and the HDF5 reader
refuse work that would not fit (a :class:`~snnsim.errors.ResourceError`) before allocating."""

from __future__ import annotations

import os

from .errors import ResourceError

__all__ = ["available_memory", "MEMORY_FRACTION"]

MEMORY_FRACTION = 0.9               # of the available memory
_CHECK_FROM = 64 * 2 ** 20          # estimates below this are not compared (no syscall)


def available_memory() -> int | None:
    """Memory available to new allocations (bytes): ``MemAvailable`` from /proc/meminfo, else
    the free physical pages (``os.sysconf``); None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.3g} MiB"


def _check_memory(what: str, nbytes: float) -> None:
    """Raise ResourceError if ``nbytes`` exceeds MEMORY_FRACTION of the available memory."""
    if nbytes < _CHECK_FROM:
        return
    avail = available_memory()
    if avail is not None and nbytes > MEMORY_FRACTION * avail:
        raise ResourceError(f"{what} needs about {_gib(nbytes)}, more than "
                            f"{MEMORY_FRACTION:.0%} of the memory available ({_gib(avail)})")
