"""attention_decode's launcher and plan (kernels_cu/attention_decode.cu): split-KV attention for
short queries.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from suite.errors import InputError
from suite.kernels.attention_launch import check_output_stride, positive_scale, tc_operand
from suite.kernels.attention_tiles import (AUTO, CUDA_TYPES, DECODE, DEFAULT_ARCH, KERNEL_DTYPES, SOURCES,
                                          STATIC_SMEM_LIMIT, TC, TileConfig, plan_row, shared_bytes, smallest_tile,
                                          threads, with_archs)
from suite.references.attention import causal_offset


# ----------------------------------------------------------------------------------------------
# Decode: split-KV attention for a few query rows against many keys (kernels_cu/attention_decode.cu),
# FlashAttention-2's flash-decoding. The query heads of a KV group are packed into the M dimension;
# one block per (batch, KV head, split, 64 packed rows) writes fp32 partial outputs and log-sum-exps,
# and a combine kernel merges the splits. Tiles: 4 warps of 16 packed rows (FlashAttention-2's
# split-KV BlockM of 64), 64-key tiles in 3 cp.async stages: 121 KiB of shared memory at d=128, more
# than sm_86/sm_89 give a block (99 KiB), so their row keeps 2 stages there (87 KiB).

DECODE_DTYPES = KERNEL_DTYPES[TC]
DECODE_MAX_SEQ_Q = 16  # decode cases: longer queries fill the GPU with query blocks (attention_tc)
DECODE_TILES = tuple(TileConfig(hd, 64, 64, 4, 3) for hd in (32, 64, 96, 128))
DECODE_PLAN = {"sm_80": DECODE_TILES, "sm8x": DECODE_TILES[:-1] + (TileConfig(128, 64, 64, 4, 2),),
               "sm_90": DECODE_TILES}
DECODE_MAX_SPLITS = 128  # the combine kernel's DECODE_MAX_SPLITS
COMBINE_WARPS = 4  # the combine kernel's DECODE_COMBINE_WARPS: one warp per output row


def decode_tile(head_dim: int, arch: str = DEFAULT_ARCH) -> TileConfig:
    cfg = smallest_tile(DECODE_PLAN[plan_row(arch)], head_dim)
    if cfg is None:
        raise InputError(f"{DECODE} supports head dims up to {DECODE_TILES[-1].head_tile}; got {head_dim}")
    return cfg


def decode_splits(blocks: int, sm_count: int, key_blocks: int) -> int:
    """FlashAttention-2's split count (num_splits_heuristic): 1 when `blocks` (without splitting)
    already fill 80 % of the SMs; else, of the counts up to min(128, SMs, key blocks) that change the
    key blocks per split, the smallest whose wave efficiency (waves / ceil(waves)) is within 85 % of
    the best."""
    if blocks >= 0.8 * sm_count:
        return 1
    efficiency = {}
    for splits in range(1, min(DECODE_MAX_SPLITS, sm_count, key_blocks) + 1):
        if splits == 1 or -(-key_blocks // splits) != -(-key_blocks // (splits - 1)):
            waves = blocks * splits / sm_count
            efficiency[splits] = waves / math.ceil(waves)
    best = max(efficiency.values())
    return min(n for n, e in efficiency.items() if e >= 0.85 * best)


def _decode_row_blocks(cfg: TileConfig, heads_q: int, heads_kv: int, seq_q: int) -> int:
    """Blocks of packed rows (a KV group's query heads x seq_q) per (batch, KV head, split)."""
    return -(-(heads_q // heads_kv * seq_q) // cfg.block_m)


def decode_plan(cfg: TileConfig, batch: int, heads_q: int, heads_kv: int, seq_q: int, seq_k: int, mode: str,
                sm_count: int) -> tuple[int, int]:
    """(splits, keys per split) of a decode launch with tile `cfg`: whole key tiles per split, so only
    the last split is ragged, and no split is empty. Only the keys some row may see are split
    (causal: up to seq_q - 1 + offset, as the kernel's kv_end)."""
    keys = min(seq_k, seq_q + causal_offset(mode, seq_q, seq_k)) if mode != "none" else seq_k
    key_blocks = -(-keys // cfg.block_n)
    blocks = batch * heads_kv * _decode_row_blocks(cfg, heads_q, heads_kv, seq_q)
    tiles_per_split = -(-key_blocks // decode_splits(blocks, sm_count, key_blocks))
    return -(-key_blocks // tiles_per_split), tiles_per_split * cfg.block_n


def decode_shared_bytes(cfg: TileConfig) -> int:
    return shared_bytes(TC, cfg)  # the same Q tile and K/V ring as attention_tc


def decode_names(dtype: str, cfg: TileConfig) -> tuple[str, str]:
    """The split and combine kernels' name expressions."""
    ctype = CUDA_TYPES[dtype]
    return (f"attention_decode_split<{ctype}, {cfg.head_tile}, {cfg.block_n}, {cfg.warps}, {cfg.stages}>",
            f"attention_decode_combine<{ctype}>")


def _all_decode_names() -> list[str]:
    return list(dict.fromkeys(n for dt in DECODE_DTYPES for cfg, _ in decode_configs() for n in decode_names(dt, cfg)))


def decode_configs() -> list[tuple[TileConfig, tuple[str, ...]]]:
    """Every split-kernel shape, with the architectures it is meant for."""
    return with_archs((row, cfg) for row, tiles in DECODE_PLAN.items() for cfg in tiles)


def decode_launcher(q, k, v, out, mode: str, scale: float | None, backend) -> Callable[[], None]:
    """Prepare one split-KV launch writing `out` (shapes already checked, fp16/bf16, head_dim <= 128);
    returns a callable that launches the split and combine kernels again with no allocation (the
    fp32 workspaces are made here, once). Splits: decode_splits with the GPU's SM count."""
    batch, heads_q, seq_q, head_dim = q.shape
    heads_kv, seq_k = k.shape[1], k.shape[2]
    dtype = str(q.dtype).removeprefix("torch.")
    cfg = decode_tile(head_dim, backend.arch)
    q, scale = positive_scale(q, 1.0 / math.sqrt(head_dim) if scale is None else float(scale))
    q, k, v = tc_operand(q), tc_operand(k), tc_operand(v)
    check_output_stride(DECODE, out)

    offset = causal_offset(mode, seq_q, seq_k)
    splits, keys_per_split = decode_plan(cfg, batch, heads_q, heads_kv, seq_q, seq_k, mode, backend.sm_count)
    rows = batch * heads_q * seq_q
    o_part = torch.empty(splits, rows, cfg.head_tile, dtype=torch.float32, device=q.device)
    lse_part = torch.empty(splits, rows, dtype=torch.float32, device=q.device)

    module = backend.load_module(SOURCES[DECODE], _all_decode_names())
    split_name, combine_name = decode_names(dtype, cfg)
    split_fn, combine_fn = module.get_function(split_name), module.get_function(combine_name)
    smem = decode_shared_bytes(cfg)
    if smem > STATIC_SMEM_LIMIT:
        split_fn.max_dynamic_shared_size_bytes = smem
    strides = [np.int64(s) for t in (q, k, v) for s in t.stride()[:3]]
    split = split_fn.bind(
        (batch * heads_kv, splits, _decode_row_blocks(cfg, heads_q, heads_kv, seq_q)), (threads(cfg), 1, 1),
        (q, k, v, o_part, lse_part, np.int32(heads_q), np.int32(heads_kv), np.int32(seq_q), np.int32(seq_k),
         np.int32(head_dim), *strides, np.float32(scale * math.log2(math.e)), np.int32(mode != "none"),
         np.int32(offset), np.int32(keys_per_split)), shared_mem=smem)
    combine = combine_fn.bind(
        (-(-rows // COMBINE_WARPS), 1, 1), (32 * COMBINE_WARPS, 1, 1),
        (o_part, lse_part, out, np.int32(splits), np.int32(rows), np.int32(heads_q), np.int32(seq_q),
         np.int32(head_dim), np.int32(cfg.head_tile), *(np.int64(s) for s in out.stride()[:3])))

    def launch_both():
        split()
        combine()

    return launch_both


def decode_fits(seq_q: int, head_dim: int) -> bool:
    """Whether attention_decode takes queries of this shape: few rows, head dims up to its largest tile."""
    return seq_q <= DECODE_MAX_SEQ_Q and head_dim <= DECODE_TILES[-1].head_tile


def decode_applies(params) -> bool:
    """attention_decode runs the forward cases it fits (decode_fits) with the default tiles."""
    return decode_fits(params["seq_q"], params["head_dim"]) and params["pass"] == "forward" and params["tiles"] == AUTO
