"""The per-thread access records a profiled launch produces, and their grouping into warp requests.

One record per thread per memory access (or per marked instruction: an mma, a special-function
op), laid out as `struct suite_profile_access` in kernels_cu/profile/profile_hook.cpp. The hardware
issues an instruction once per warp, so the lanes of one warp at the same code address and the same
dynamic occurrence (the n-th time each lane executes that address) form one request, the way GPU
simulators (GPGPU-Sim, Accel-Sim) rebuild warp instructions from per-thread traces.
"""

from __future__ import annotations

import numpy as np

# Where an access goes (`space`).
GLOBAL, SHARED, NO_MEMORY = 0, 1, 2
# What it does (`kind`).
LOAD, STORE, ATOMIC = 0, 1, 2
# Which instruction it is part of (`op`): a plain load/store, or one of the wrappers of
# kernels_cu/common/ that are a single instruction on the GPU.
PLAIN, LDMATRIX, CP_ASYNC, MMA, SFU = 0, 1, 2, 3, 4

OP_NAMES = {PLAIN: "", LDMATRIX: "ldmatrix", CP_ASYNC: "cp.async", MMA: "mma", SFU: "sfu"}
SPACE_NAMES = {GLOBAL: "global", SHARED: "shared", NO_MEMORY: "-"}
KIND_NAMES = {LOAD: "load", STORE: "store", ATOMIC: "atomic"}

ACCESS_DTYPE = np.dtype(
    [
        ("address", "<u8"),
        ("pc", "<u8"),  # code address of the access, module-relative
        ("block", "<u4"),  # linear block index in the grid
        ("occurrence", "<u4"),  # how many times this thread executed `pc` before
        ("warp", "<u2"),  # warp index in the block
        ("lane", "u1"),
        ("size", "u1"),  # bytes
        ("space", "u1"),
        ("kind", "u1"),
        ("op", "u1"),
        ("pad", "V1"),
    ]
)
assert ACCESS_DTYPE.itemsize == 32


def empty(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=ACCESS_DTYPE)


def request_ids(accesses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, ids): `order` sorts the records by request, ids[i] is the request of accesses[order[i]],
    numbered 0.. in that order. Keys: space, kind, op, pc, block, warp, occurrence."""
    if len(accesses) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = [accesses[k] for k in ("lane", "occurrence", "warp", "block", "pc", "op", "kind", "space")]
    order = np.lexsort(keys)  # the last key is the primary one; lane last keeps lanes in order
    sorted_ = accesses[order]
    change = np.zeros(len(order), bool)
    change[0] = True
    for k in ("space", "kind", "op", "pc", "block", "warp", "occurrence"):
        column = sorted_[k]
        change[1:] |= column[1:] != column[:-1]
    return order, np.cumsum(change) - 1
