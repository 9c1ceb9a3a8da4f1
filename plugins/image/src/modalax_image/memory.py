"""Refuse outputs that cannot fit in memory, before allocating them.

Resizing two images to 30000 x 30000 asks for 21.6 GB: without a check the process grows
until the operating system kills it (or swaps for minutes first). Every place that allocates
an image of a size the user chose (the ``image.resize`` kernel and operator, ``decode_image``,
``ImageModality.process`` and ``generate``) estimates the bytes of its output and of its
largest intermediate from the static shapes, and compares them with the memory available:

* on an accelerator, the device's limit minus what is in use (``Device.memory_stats()``);
* on the host, ``MemAvailable`` of ``/proc/meminfo``, lowered to a cgroup's limit when the
  process runs in a container that sets one (``memory.max``); elsewhere ``os.sysconf``.

Too many bytes is a ``ConfigError`` naming the shape and both byte counts. When the available
memory cannot be read the check passes (it never refuses what might fit). A check costs one
small file read, at trace time or once per decoded file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from modalax.plugin import ConfigError

__all__ = ["available_bytes", "check_fits", "format_bytes", "host_available_bytes", "nbytes"]

_CGROUP = Path("/sys/fs/cgroup")


def format_bytes(n: int) -> str:
    """``n`` bytes in decimal units: ``21.6 GB``."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _cgroup_free() -> int | None:
    try:
        limit = (_CGROUP / "memory.max").read_text().strip()
        used = int((_CGROUP / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def host_available_bytes() -> int | None:
    """Bytes the host can still give this process, or None when that cannot be read."""
    free: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        free = None
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            free = None
    group = _cgroup_free()
    if group is not None:
        free = group if free is None else min(free, group)
    return free


def available_bytes(device: bool = True) -> tuple[int | None, str]:
    """Free bytes where the arrays will live, and where that is: the default jax device
    (``device=True``, when it reports its memory; a CPU device is the host) or the host."""
    if device:
        import jax

        dev = jax.local_devices()[0]
        stats = dev.memory_stats()
        if stats and "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)), f"on {dev.platform}:{dev.id}"
    return host_available_bytes(), "on the host"


def check_fits(owner: str, what: str, nbytes: int, *, device: bool = True) -> None:
    """``ConfigError`` when ``nbytes`` exceed the available memory; ``what`` names the shape."""
    free, where = available_bytes(device)
    if free is not None and nbytes > free:
        raise ConfigError(
            f"{owner}: {what} needs {format_bytes(nbytes)} ({nbytes} bytes), more than the "
            f"{format_bytes(free)} ({free} bytes) available {where}; expected a smaller size or batch"
        )


def nbytes(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes of an array of ``shape`` with ``itemsize``-byte elements."""
    return math.prod(shape) * itemsize
