"""The record layouts shared with suite/emulator/profile/memory_model.h: one `Access` per thread per
memory access (or per marked instruction: an mma, a special-function op), and one `Row` per
instruction class and code address with the launch's counts."""

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


# One instruction class at one code address, summed over a launch: `struct Row` of memory_model.h.
ROW_DTYPE = np.dtype(
    [
        ("pc", "<u8"),
        ("space", "u1"),
        ("kind", "u1"),
        ("op", "u1"),
        ("pad", "V5"),
        *((name, "<u8") for name in ("requests", "threads", "bytes", "wavefronts", "ideal_wavefronts", "sectors",
                                     "ideal_sectors", "lines")),
    ]
)
assert ROW_DTYPE.itemsize == 80


def empty(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=ACCESS_DTYPE)
