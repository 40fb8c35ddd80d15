"""Tensor maps (CUtensorMap) for TMA copies on the host backend.

`encode_tiled` takes cuTensorMapEncodeTiled's arguments, applies the driver's documented argument
rules (cuda.h, "Tensor Map Object Managment") and returns the 128 bytes a kernel receives as a
`const __grid_constant__ CUtensorMap` parameter. The driver's encoding is undocumented, so the
emulation stores the arguments themselves in the layout of include/emu/hopper/tensormap.h, behind
a magic word: the runtime refuses a map it did not write (a driver-encoded map, or garbage).
`kernel_argument` wraps the bytes the way a CuPy user passes a by-value struct (a one-element
numpy array of 128-byte voids), which the host backend accepts too. On a GPU, encode with
cuda-python's cuTensorMapEncodeTiled instead (shared/reference/hopper-wgmma-tma.md, 3.4).
"""

from __future__ import annotations

import struct
from typing import Sequence

import numpy as np

from suite.errors import InputError

MAGIC = 0x50414D54534D4553  # "SEMSTMAP", __SUITE_TENSORMAP_MAGIC
MAP_BYTES = 128
MAX_RANK = 5

# CUtensorMapDataType: name -> (enum value, element bytes, floating point); 4/6-bit packed types
# are refused (not emulated).
DATA_TYPES = {
    "uint8": (0, 1, False), "uint16": (1, 2, False), "uint32": (2, 4, False), "int32": (3, 4, False),
    "uint64": (4, 8, False), "int64": (5, 8, False), "float16": (6, 2, True), "float32": (7, 4, True),
    "float64": (8, 8, True), "bfloat16": (9, 2, True), "float32_ftz": (10, 4, True), "tfloat32": (11, 4, True),
    "tfloat32_ftz": (12, 4, True),
}  # fmt: skip
INTERLEAVES = {"none": 0, "16B": 1, "32B": 2}
SWIZZLES = {"none": 0, "32B": 1, "64B": 2, "128B": 3}
SWIZZLE_BYTES = {"32B": 32, "64B": 64, "128B": 128}
L2_PROMOTIONS = {"none": 0, "64B": 1, "128B": 2, "256B": 3}
OOB_FILLS = {"none": 0, "nan": 1}  # CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE (zeros), _NAN_REQUEST_ZERO_FMA

# magic, address, dims[5], strides[5], box-1[5], element strides[5], rank, dtype, element size,
# interleave, swizzle, L2 promotion, OOB fill, is_float, 14 reserved bytes
_LAYOUT = struct.Struct("<QQ5Q5Q5B5B8B14x")
assert _LAYOUT.size == MAP_BYTES


def _choice(name: str, value: str, table: dict) -> int:
    if value not in table:
        raise InputError(f"tensor map: {name} {value!r} is not one of {', '.join(table)}")
    return table[value]


def _count(name: str, values: Sequence[int], expected: int, rank: int) -> list[int]:
    values = [int(v) for v in values]
    if len(values) != expected:
        raise InputError(f"tensor map: {name} has {len(values)} entries; rank {rank} needs {expected}")
    return values


def encode_tiled(dtype: str, rank: int, global_address: int, global_dim: Sequence[int],
                 global_strides: Sequence[int], box_dim: Sequence[int], element_strides: Sequence[int],
                 interleave: str = "none", swizzle: str = "none", l2_promotion: str = "none",
                 oob_fill: str = "none") -> bytes:
    """cuTensorMapEncodeTiled for the emulation: dims innermost first, global_strides in bytes for
    dims 1..rank-1, box_dim and element_strides in elements. InputError (the driver's
    CUDA_ERROR_INVALID_VALUE) names the argument and the rule it breaks."""
    if dtype not in DATA_TYPES:
        raise InputError(f"tensor map: dtype {dtype!r} is not one of {', '.join(DATA_TYPES)} (packed 4/6-bit types "
                         "are not emulated)")
    code, size, is_float = DATA_TYPES[dtype]
    if not 1 <= rank <= MAX_RANK:
        raise InputError(f"tensor map: rank {rank} is outside 1..{MAX_RANK}")
    ilv = _choice("interleave", interleave, INTERLEAVES)
    swz = _choice("swizzle", swizzle, SWIZZLES)
    l2 = _choice("l2_promotion", l2_promotion, L2_PROMOTIONS)
    oob = _choice("oob_fill", oob_fill, OOB_FILLS)
    if ilv and rank < 3:
        raise InputError(f"tensor map: interleave {interleave} needs rank >= 3; got {rank}")
    address_align = 32 if interleave == "32B" else 16
    if global_address % address_align:
        raise InputError(f"tensor map: global_address 0x{global_address:x} is not {address_align}-byte aligned")
    dims = _count("global_dim", global_dim, rank, rank)
    strides = _count("global_strides", global_strides, rank - 1, rank)
    box = _count("box_dim", box_dim, rank, rank)
    steps = _count("element_strides", element_strides, rank, rank)
    for i, d in enumerate(dims):
        if not 1 <= d <= 2**32:
            raise InputError(f"tensor map: global_dim[{i}] = {d} is outside 1..2^32")
    stride_align = 32 if interleave == "32B" else 16
    for i, s in enumerate(strides):
        if s <= 0 or s % stride_align or s >= 2**40:
            raise InputError(f"tensor map: global_strides[{i}] = {s} bytes must be a positive multiple of "
                             f"{stride_align} below 2^40")
    for i, b in enumerate(box):
        if not 1 <= b <= 256:
            raise InputError(f"tensor map: box_dim[{i}] = {b} is outside 1..256")
    if not ilv and box[0] * size % 16:
        raise InputError(f"tensor map: box_dim[0] * {size} bytes = {box[0] * size} must be a multiple of 16 bytes")
    for i, e in enumerate(steps):
        if not 1 <= e <= 8:
            raise InputError(f"tensor map: element_strides[{i}] = {e} is outside 1..8")
    if not ilv and swz and box[0] * size > SWIZZLE_BYTES[swizzle]:
        raise InputError(f"tensor map: swizzle {swizzle} takes an inner box of at most {SWIZZLE_BYTES[swizzle]} "
                         f"bytes; box_dim[0] * {size} = {box[0] * size}")
    if interleave == "32B" and swizzle != "32B":
        raise InputError(f"tensor map: interleave 32B needs swizzle 32B; got {swizzle}")
    if oob and not is_float:
        raise InputError(f"tensor map: oob_fill nan needs a floating-point dtype; got {dtype}")
    if not ilv:
        steps[0] = 1  # the driver ignores dimension 0's element stride without interleave
    pad = MAX_RANK - rank
    return _LAYOUT.pack(MAGIC, global_address, *dims, *[0] * pad, size, *strides, *[0] * pad,
                        *[b - 1 for b in box], *[0] * pad, *steps, *[1] * pad,
                        rank, code, size, ilv, swz, l2, oob, int(is_float))


def encode_for(tensor, box: Sequence[int], swizzle: str = "none", oob_fill: str = "none",
               l2_promotion: str = "none") -> bytes:
    """encode_tiled for a torch tensor or numpy array (its dims and strides, innermost first; the
    innermost must have unit stride) and a box given innermost first as well."""
    if hasattr(tensor, "data_ptr"):
        dtype = str(tensor.dtype).removeprefix("torch.")
        address, itemsize = tensor.data_ptr(), tensor.element_size()
        shape, strides = list(tensor.shape), [s * itemsize for s in tensor.stride()]
    else:
        dtype, address, itemsize = tensor.dtype.name, tensor.ctypes.data, tensor.dtype.itemsize
        shape, strides = list(tensor.shape), list(tensor.strides)
    if not shape or strides[-1] != itemsize:
        raise InputError(f"tensor map: the tensor's innermost dimension needs unit stride; got strides {strides} bytes")
    rank = len(shape)
    return encode_tiled(dtype, rank, address, shape[::-1], strides[-2::-1], box, [1] * rank, swizzle=swizzle,
                        l2_promotion=l2_promotion, oob_fill=oob_fill)


def kernel_argument(raw: bytes) -> np.ndarray:
    """The map as CuPy passes a by-value struct: a one-element array of 128-byte voids."""
    if len(raw) != MAP_BYTES:
        raise InputError(f"tensor map: expected {MAP_BYTES} bytes; got {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8).copy().view(np.dtype((np.void, MAP_BYTES)))
