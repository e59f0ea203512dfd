"""How the worker process keeps its heap: glibc's malloc arenas and Python's cyclic collector."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

M_ARENA_MAX = -8  # glibc's mallopt() parameter number (malloc.h)
# Net allocations of tracked objects between young-generation collections (Python's default
# is 700). A fan-out post's own objects (futures, lane entries, results) live about a second;
# collected every 700 they survive into the old generation, and promoting enough of them sets
# off a full collection, which holds every thread.
YOUNG_COLLECTION_EVERY = 10_000


def cap_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX does); False where that is not glibc.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and
    memory freed in one is not reused by another: with the fan-out's few dozen threads the
    worker peaks 7-9 MB larger (2,000 channels) than with two arenas, whose times are within
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


def calm_collector(young: int = YOUNG_COLLECTION_EVERY) -> None:
    """Keep full garbage collections rare and short in a long-running process: what start-up
    built (modules, tables, clients) is frozen out of every later collection, and young
    objects are collected every `young` allocations instead of 700.

    At 2,000 channels the default thresholds set off a full collection every 5-10 s, each
    holding every thread for 0.3-0.7 s (6-9 s of a 150 s fan-out); these keep it to 0.8 s in
    all, none longer than 0.1 s (benchmarks/bench_fanout.py)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)
