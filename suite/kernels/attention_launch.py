"""The forward launcher of attention_fp32 and attention_tc (one launcher serves both: they take the
same arguments), with the operand copies the tensor-core kernel's 16-byte copies and 32-bit offsets
need. Tile shapes: attention_tiles.py.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from suite.errors import InputError
from suite.kernels.attention_tiles import (AUTO, SOURCES, STATIC_SMEM_LIMIT, TC, all_name_expressions, name_expression,
                                          shared_bytes, threads, tile_config)
from suite.kernels.op_arguments import INT32_MAX
from suite.references.attention import causal_offset


def tc_operand(t: torch.Tensor) -> torch.Tensor:
    """`t` itself when cp.async can copy its rows in 16-byte pieces, else a copy whose rows are
    padded with zeros to a multiple of 8 elements (odd head dims, odd strides, unaligned views)."""
    strides_ok = all(s % 8 == 0 for s, n in zip(t.stride()[:-1], t.shape[:-1]) if n > 1)
    if t.stride(-1) == 1 and t.shape[-1] % 8 == 0 and strides_ok and t.data_ptr() % 16 == 0:
        return t
    padded = t.new_zeros(*t.shape[:-1], -(-t.shape[-1] // 8) * 8)
    padded[..., : t.shape[-1]] = t
    return padded


TILE_OVERHANG = 512  # rows past the sequence a tile copy may form an offset for (tiles have <= 256 rows)


def _int32_rows(kernel: str, name: str, t: torch.Tensor, head_tile: int) -> torch.Tensor:
    """`t` (a tc_operand) when attention_tc's 32-bit in-head offsets (row * row stride + column,
    TILE_OVERHANG rows past the sequence included) reach all of it, else a contiguous copy (rows
    head_dim apart); InputError when even that is too long."""
    def fits(x):
        return (x.shape[2] + TILE_OVERHANG) * x.stride(2) + head_tile <= INT32_MAX
    if fits(t):
        return t
    if fits(t := t.contiguous()):
        return t
    raise InputError(f"{kernel}: {name} has {t.shape[2]} rows of {t.shape[3]} per head; attention_tc's 32-bit "
                     f"offsets reach {INT32_MAX} elements of a head")


NULL_TENSOR = torch.empty(0, dtype=torch.float32)


def positive_scale(q: torch.Tensor, scale: float) -> tuple[torch.Tensor, float]:
    """(q, scale) with scale > 0. The tensor-core kernels apply the scale inside their exponent and
    need it positive: a negative scale's sign goes into a copy of q; scale 0 makes every visible
    score 0, as q = 0 does."""
    if scale > 0:
        return q, scale
    return (-q, -scale) if scale < 0 else (torch.zeros_like(q), 1.0)


def check_output_stride(kernel: str, out: torch.Tensor) -> None:
    if out.stride(-1) != 1 and out.shape[-1] > 1:
        raise InputError(f"{kernel}: the output needs unit stride along the head dim; got strides {out.stride()}")


def _unit_last_stride(t: torch.Tensor) -> torch.Tensor:
    return t if t.stride(-1) == 1 or t.shape[-1] == 1 else t.contiguous()


def launcher(kernel: str, q, k, v, out, mode: str, scale: float | None, backend, tiles: str = AUTO,
             lse: torch.Tensor | None = None) -> Callable[[], None]:
    """Prepare one launch of `kernel` writing `out` (shapes already checked); returns a callable
    that launches it (and launches again on every call, with no allocation: copies that the
    layout needs are made here, once). `tiles`: a tile shape label (tile_choices), or auto: the
    plan's shape for the backend's architecture and the causal mode.
    `lse`: None, or a contiguous float32 [B, Hq, Sq] tensor that receives each row's log-sum-exp
    (base 2, of the scaled scores; +inf for a row that sees no key), what the backward needs."""
    batch, heads_q, seq_q, head_dim = q.shape
    heads_kv, seq_k = k.shape[1], k.shape[2]
    dtype = str(q.dtype).removeprefix("torch.")
    cfg = tile_config(kernel, head_dim, tiles, backend.arch, mode != "none")  # the GPU's or the emulated arch
    scale = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
    if kernel == TC:
        q, scale = positive_scale(q, scale)
        q, k, v = (_int32_rows(kernel, n, tc_operand(t), cfg.head_tile) for n, t in (("q", q), ("k", k), ("v", v)))
    else:
        q, k, v = _unit_last_stride(q), _unit_last_stride(k), _unit_last_stride(v)
    check_output_stride(kernel, out)

    fn = backend.load_module(SOURCES[kernel], all_name_expressions(kernel)).get_function(
        name_expression(kernel, dtype, cfg))
    smem = shared_bytes(kernel, cfg)
    if smem > STATIC_SMEM_LIMIT:
        fn.max_dynamic_shared_size_bytes = smem
    # attention_tc takes the row strides of q, k and v as int (_int32_rows made them fit)
    row_stride = np.int32 if kernel == TC else np.int64
    strides = [cast(s) for t in (q, k, v) for cast, s in zip((np.int64, np.int64, row_stride), t.stride()[:3])]
    strides += [np.int64(s) for s in out.stride()[:3]]
    if lse is None:
        lse = NULL_TENSOR.to(q.device)  # an empty tensor passes a null pointer: the kernel skips the write
    elif lse.dtype != torch.float32 or not lse.is_contiguous() or tuple(lse.shape) != (batch, heads_q, seq_q):
        raise InputError(f"{kernel}: lse must be a contiguous float32 tensor of shape {(batch, heads_q, seq_q)}")
    args = (q, k, v, out, lse, np.int32(heads_q), np.int32(heads_kv), np.int32(seq_q), np.int32(seq_k),
            np.int32(head_dim), *strides, np.float32(scale * math.log2(math.e)), np.int32(mode != "none"),
            np.int32(causal_offset(mode, seq_q, seq_k)))
    grid = (-(-seq_q // cfg.block_m), heads_q, batch)
    block = (threads(cfg), 1, 1)
    return fn.bind(grid, block, args, shared_mem=smem)
