"""The C allocator's settings for the worker process."""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's mallopt() parameter number (malloc.h)


def cap_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX does); False where that is not glibc.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and
    memory freed in one is not reused by another: the fan-out's few dozen threads left the
    worker 7-9 MB larger at its peak (2,000 channels) than with two arenas, with times within
    the benchmark's run-to-run spread. Called before the worker starts its threads."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to cap
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
