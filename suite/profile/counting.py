"""The profiler's library from Python: the counting model (suite/emulator/profile/memory_model.h)
applied to access records given here (what the model's tests check it with: made-up accesses with
known answers), and the rows a launch's counting leaves. Profiled launches count their records in
the library, block by block, with the same code."""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

from suite.emulator import build as hb
from suite.profile import accesses as acc
from suite.profile.build import profiler_library


@functools.lru_cache(maxsize=None)
def _library(path: Path) -> ctypes.CDLL:
    # Global: instrumented modules loaded after it find the wrappers' weak hooks (profile_marks.cuh).
    hb_runtime = hb.runtime_library()
    ctypes.CDLL(str(hb_runtime), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    u64p = ctypes.POINTER(ctypes.c_uint64)
    lib.suite_profile_count.argtypes = [ctypes.c_void_p, ctypes.c_uint64, u64p, ctypes.c_int, u64p, u64p, u64p]
    lib.suite_profile_count.restype = ctypes.c_void_p
    lib.suite_profile_begin.argtypes = [ctypes.c_void_p, u64p, ctypes.c_int]
    lib.suite_profile_finish.argtypes = [u64p, u64p, u64p]
    lib.suite_profile_finish.restype = ctypes.c_void_p
    return lib


def library() -> ctypes.CDLL:
    """The profiler's library, loaded (globally) once per process."""
    return _library(profiler_library(hb.runtime_library()))


def rows_from(pointer: int, count: int) -> np.ndarray:
    """A copy of `count` rows at `pointer`."""
    raw = ctypes.string_at(pointer, count * acc.ROW_DTYPE.itemsize) if count else b""
    return np.frombuffer(raw, dtype=acc.ROW_DTYPE).copy()


def count(records: np.ndarray, regions=()) -> tuple[np.ndarray, int, int]:
    """(rows, unique bytes loaded, unique bytes stored) of `records` (ACCESS_DTYPE); `regions` are the
    global arrays as (start, end) pairs, for the unique bytes."""
    lib = library()
    records = np.ascontiguousarray(records, dtype=acc.ACCESS_DTYPE)
    spans = [v for r in regions for v in r]
    n, loaded, stored = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
    pointer = lib.suite_profile_count(records.ctypes.data, len(records), (ctypes.c_uint64 * max(1, len(spans)))(*spans),
                                      len(regions), ctypes.byref(n), ctypes.byref(loaded), ctypes.byref(stored))
    return rows_from(pointer, n.value), loaded.value, stored.value
