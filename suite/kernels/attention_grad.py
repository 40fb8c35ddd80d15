"""The backward launcher of the attention family (kernels_cu/attention_bwd.cu and attention_bwd_tc.cu)
and its tile shapes. The forward's launcher is in attention_launch.py.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from suite.errors import InputError
from suite.kernels.attention_launch import NULL_TENSOR, tc_operand
from suite.kernels.attention_tiles import (BWD, BWD_TC, CUDA_TYPES, KERNEL_DTYPES, MAX_HEAD_DIM, SOURCES, STATIC_SMEM_LIMIT,
                                          TC, TileConfig, smallest_tile)
from suite.references.attention import causal_offset


# ----------------------------------------------------------------------------------------------
# Backward: delta (attention_bwd.cu), then dK/dV per key block (attention_bwd_tc.cu on tensor cores
# for fp16/bf16 up to d=128; attention_bwd.cu's SIMT kernel otherwise), dQ either through fp32
# atomics in that same kernel plus a conversion (fast) or through attention_bwd_dq, a SIMT kernel
# per query block (deterministic).
# SIMT tiles: 16 keys x 16 query rows at 8 threads per row (4 warps); its fp32 tiles of 16 x (HD+1)
# fit sm_86's 99 KiB up to d=256 (67 KiB there). Tensor-core tiles: 4 warps of 16 keys; 64 query
# rows per step up to d=64, 32 above, which keeps dK, dV (HD regs), S^T and dP^T (BM regs) and the
# fragments within 255 registers; past d=128 dK and dV alone would need 256+.

BWD_DTYPES = ("float32", "float16", "bfloat16")
BWD_TILES = tuple(TileConfig(hd, 16, 16, 4) for hd in range(32, MAX_HEAD_DIM + 1, 32))
BWD_TC_TILES = (TileConfig(32, 64, 64, 4), TileConfig(64, 64, 64, 4), TileConfig(96, 32, 64, 4),
                TileConfig(128, 32, 64, 4))
ROW_THREADS = 128  # attention_bwd_delta: one warp per row
CONVERT_THREADS, CONVERT_MAX_BLOCKS = 256, 65536  # grid-stride conversion of dQ
# part -> (source, dtypes, tiles): tiles None for the row-wise kernels
BWD_PARTS = {
    "delta": (BWD, BWD_DTYPES, None),
    "dq_convert": (BWD, ("float16", "bfloat16"), None),  # fp32 dQ takes the atomics itself
    "dkdv": (BWD, BWD_DTYPES, BWD_TILES),
    "dq": (BWD, BWD_DTYPES, BWD_TILES),
    "dkdv_tc": (BWD_TC, KERNEL_DTYPES[TC], BWD_TC_TILES),
}


def backward_tile(head_dim: int) -> TileConfig:
    """The SIMT backward tile for head_dim."""
    cfg = smallest_tile(BWD_TILES, head_dim)
    if cfg is None:
        raise InputError(f"{BWD} supports head dims up to {BWD_TILES[-1].head_tile}; got {head_dim}")
    return cfg


def backward_shared_bytes(part: str, cfg: TileConfig | None) -> int:
    """Dynamic shared memory, matching the layouts in attention_bwd.cu and attention_bwd_tc.cu."""
    if cfg is None:
        return 0
    hd, bm, bn = cfg.head_tile, cfg.block_m, cfg.block_n
    if part == "dkdv":  # K, V, Q, dO padded by one column; P and dS [key][query] by 8; lse and delta
        return 4 * (2 * (bn + bm) * (hd + 1) + 2 * bn * (bm + 8) + 2 * bm)
    if part == "dq":  # Q, dO, K, V padded by one column; dS [query][key] by 8
        return 4 * (2 * (bm + bn) * (hd + 1) + bm * (bn + 8))
    return 2 * (2 * (bn + bm) * (hd + 8) + bn * (bm + 8)) + 8 * bm  # K, V, Q, dO, dS^T; lse and delta


def backward_threads(part: str, cfg: TileConfig | None) -> int:
    """Threads per block; cfg (the tile) matters to the dkdv and dq kernels only."""
    return {"delta": ROW_THREADS, "dq_convert": CONVERT_THREADS}.get(part) or 32 * cfg.warps


def backward_name(part: str, dtype: str, cfg: TileConfig | None) -> str:
    ctype = CUDA_TYPES[dtype]
    if cfg is None:
        return f"attention_bwd_{part}<{ctype}>"
    if part == "dkdv_tc":
        return f"{BWD_TC}<{ctype}, {cfg.head_tile}, {cfg.block_m}, {cfg.warps}>"
    return f"attention_bwd_{part}<{ctype}, {cfg.head_tile}, {cfg.block_m}, {cfg.block_n}>"


def backward_instances() -> list[tuple[str, str, TileConfig | None]]:
    """(part, dtype, tile) of every backward kernel the launcher may load."""
    return [(part, dt, cfg) for part, (_, dtypes, tiles) in BWD_PARTS.items() for dt in dtypes
            for cfg in (tiles or (None,))]


def _backward_names(source) -> list[str]:
    return [backward_name(part, dt, cfg) for part, dt, cfg in backward_instances() if BWD_PARTS[part][0] == source]


def backward_launcher(q, k, v, out, lse, grad_out, grad_q, grad_k, grad_v, mode: str, scale: float | None, backend,
                      deterministic: bool) -> Callable[[], None]:
    """Prepare the backward of one attention call (shapes already checked): `out` and `lse` are the
    forward's output and log-sum-exp (`launcher(..., lse=)`), `grad_out` the output's gradient;
    writes grad_q, grad_k and grad_v (contiguous, shaped like q, k, v). Returns a callable that
    launches every backward kernel again, with no allocation. deterministic: dQ from a kernel per
    query block (bitwise reproducible) instead of fp32 atomics; dK and dV are reproducible in both."""
    batch, heads_q, seq_q, head_dim = q.shape
    heads_kv, seq_k = k.shape[1], k.shape[2]
    dtype = str(q.dtype).removeprefix("torch.")
    simt_cfg = backward_tile(head_dim)
    tc_cfg = smallest_tile(BWD_TC_TILES, head_dim) if dtype in KERNEL_DTYPES[TC] else None
    scale = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
    for name, grad, like in (("grad_q", grad_q, q), ("grad_k", grad_k, k), ("grad_v", grad_v, v)):
        if grad.shape != like.shape or grad.dtype != like.dtype or not grad.is_contiguous():
            raise InputError(f"{BWD}: {name} must be a contiguous {like.dtype} tensor of shape {tuple(like.shape)}")
    q, k, v, out, grad_out = (t.contiguous() for t in (q, k, v, out, grad_out))

    def kernel(part, cfg):
        fn = backend.load_module(SOURCES[BWD_PARTS[part][0]],
                                 _backward_names(BWD_PARTS[part][0])).get_function(backward_name(part, dtype, cfg))
        if backward_shared_bytes(part, cfg) > STATIC_SMEM_LIMIT:
            fn.max_dynamic_shared_size_bytes = backward_shared_bytes(part, cfg)
        if part.startswith("dkdv"):
            fn.accumulators = frozenset({8})  # dq_accum: atomics add into it (the host's initcheck skips it)
        return fn, part, cfg

    delta = torch.empty(batch, heads_q, seq_q, dtype=torch.float32, device=q.device)
    if deterministic:
        dq_accum = NULL_TENSOR.to(q.device)
    else:  # fp32 dQ takes the atomics itself; fp16/bf16 go through an fp32 buffer and a conversion
        dq_accum = grad_q if grad_q.dtype == torch.float32 else torch.empty(q.shape, dtype=torch.float32,
                                                                            device=q.device)
    rows = batch * heads_q * seq_q
    tail = (np.int32(heads_q), np.int32(heads_kv), np.int32(seq_q), np.int32(seq_k), np.int32(head_dim))
    softmax = (np.float32(scale * math.log2(math.e)), np.float32(scale), np.int32(mode != "none"),
               np.int32(causal_offset(mode, seq_q, seq_k)))
    launches = [(kernel("delta", None), (-(-rows // (ROW_THREADS // 32)), 1, 1),
                 (grad_out, out, delta, dq_accum, np.int64(rows), np.int32(head_dim)))]
    if tc_cfg is not None:  # rows padded to 16-byte multiples for cp.async (a copy only when needed)
        tq, tk, tv, tdo = (tc_operand(t) for t in (q, k, v, grad_out))
        launches.append((kernel("dkdv_tc", tc_cfg), (-(-seq_k // (16 * tc_cfg.warps)), heads_kv, batch),
                         (tq, tk, tv, tdo, lse, delta, grad_k, grad_v, dq_accum, *tail, np.int32(tq.shape[-1]),
                          *softmax)))
    else:
        launches.append((kernel("dkdv", simt_cfg), (-(-seq_k // simt_cfg.block_n), heads_kv, batch),
                         (q, k, v, grad_out, lse, delta, grad_k, grad_v, dq_accum, *tail, *softmax)))
    if deterministic:
        launches.append((kernel("dq", simt_cfg), (-(-seq_q // simt_cfg.block_m), heads_q, batch),
                         (q, k, v, grad_out, lse, delta, grad_q, *tail, *softmax)))
    elif dq_accum is not grad_q:
        blocks = min(CONVERT_MAX_BLOCKS, -(-grad_q.numel() // CONVERT_THREADS))
        launches.append((kernel("dq_convert", None), (blocks, 1, 1), (dq_accum, grad_q, np.int64(grad_q.numel()))))

    bound = [fn.bind(grid, (backward_threads(part, cfg), 1, 1), args, shared_mem=backward_shared_bytes(part, cfg))
             for (fn, part, cfg), grid, args in launches]

    def launch_all():
        for launch in bound:
            launch()

    return launch_all
