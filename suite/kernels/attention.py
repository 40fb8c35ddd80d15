"""The attention family: flash-style scaled-dot-product attention with GQA and causal masks.

Kernels (kernels_cu/): `attention_fp32` (SIMT, float32) and `attention_tc` (mma.sync, float16 and
bfloat16). Both take the same arguments, so one launcher serves both; the tile sizes are template
parameters picked per head dim from the tables below. The backward kernels (kernels_cu/attention_bwd.cu)
have their own launcher, `backward_launcher`; `attention_decode` (kernels_cu/attention_decode.cu, split-KV
for short queries) has `decode_launcher`. This module is attention's one home for launch geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from suite import KERNELS_DIR
from suite.errors import InputError
from suite.kernels import attention_fa3 as fa3
from suite.kernels.family import (OUTPUT, Family, Instantiation, Launched, Param, Tolerance, autograd_outputs, grad_key,
                                  pass_param)
from suite.kernels.op_arguments import INT32_MAX
from suite.references.attention import (CAUSAL_MODES, attention_reference, causal_offset, visible_pairs)

FP32, TC, BWD = "attention_fp32", "attention_tc", "attention_bwd"
SOURCES = {FP32: KERNELS_DIR / "attention_fp32.cu", TC: KERNELS_DIR / "attention_tc.cu",
           BWD: KERNELS_DIR / "attention_bwd.cu"}
KERNEL_DTYPES = {FP32: ("float32",), TC: ("float16", "bfloat16")}
CUDA_TYPES = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16"}
MAX_HEAD_DIM = 256
GRID_YZ_MAX = 65535  # grid y (heads) and z (batch) limits
STATIC_SMEM_LIMIT = 48 * 1024  # above this a kernel must opt in to dynamic shared memory


@dataclass(frozen=True)
class TileConfig:
    """One template instantiation: head-dim tile, query rows and keys per tile, warps, K/V stages."""

    head_tile: int
    block_m: int
    block_n: int
    warps: int
    stages: int = 1


# Smallest head tile >= head_dim wins. fp32: 8 threads per query row, so 16 rows take 4 warps;
# P goes through shared memory. Sizes keep the fp32 kernel under 48 KiB up to d=128.
FP32_TILES = tuple(TileConfig(hd, 16, 32 if hd <= 128 else 16, 4) for hd in range(32, MAX_HEAD_DIM + 1, 32))
# Tensor cores: a plan per architecture row, head tile (a multiple of 16, the mma k) and causal mode,
# following FlashAttention-2's forward table (shared/reference/gpu-tuning-facts.md, section 1): a
# head tile takes the row of the smallest FlashAttention-2 head dim >= it (48 -> 64, 80 -> 96,
# 112 -> 128, 160 and 224 -> 192 and 256). Shapes are (block_m, block_n, warps, stages); stages is the
# K/V buffers each (1: FlashAttention-2's single buffer). 4 warps x 32 rows let each K/V fragment read
# from shared memory feed two m tiles. The 4-warp rows take 215-255 registers per thread, which let 2
# blocks share an SM, the 8-warp rows 197-249, 1; stages are the most (up to 3) that keep those
# blocks in shared memory. Every row compiles spill-free for its architectures (`suite check`
# compiles each shape for the rows' architectures). This kernel pads shared rows by 16 bytes (ldmatrix banks), so its tiles
# are 6 % (d=128) to 25 % (d=32) larger than FlashAttention-2's. Departures, each forced by registers or shared memory:
# - d <= 64: 128 x 64 instead of 128 x 128: 4 warps x 128 keys spill at d=64 (16 B on sm_80 with one
#   stage, 112-144 B on sm_90), and the double-buffered 90 KiB fits once per sm_80 SM.
# - d=112/128 on sm_80: 128 x 32 (double-buffered: 68 KiB, 2 blocks per SM) instead of 128 x 64: with
#   the padding, two 128 x 64 stages take 102 KiB (1 block per SM) and one stage spills 8 B on
#   sm_80. d=112 on sm_90 too: its 128 x 64 spills 72 B.
# - sm8x, d=128: 128 x 32 and 64 x 64 are FlashAttention-2's, but single-buffered they take 51 KiB,
#   and two blocks need 104 KiB of the SM's 100: both run 1 block per SM, so double-buffered. (At
#   d=112, 45 KiB single-buffered: 2 blocks.)
# - sm8x, d=192 to 256: 128 x 32, single-buffered; 128 x 64 at d=192 needs 100 KiB (> 99), and
#   FlashAttention-2's 64 x 64 at d=256 spills 80 B for sm_86 (4 warps x 256 columns of O).
# - sm_90, d=256: 128 x 64 x 8 warps, 2 stages (198 KiB, 1 block per SM): FlashAttention-2's H100
#   64 x 64 x 4 warps spills 88 B here.
PLAN_ROWS = {"sm_80": ("sm_80",), "sm8x": ("sm_86", "sm_89"), "sm_90": ("sm_90",)}
FALLBACK_ROW = "sm8x"  # other GPUs: the row that needs the least shared memory per block
_A100 = {32: (128, 128, 4, 2), 48: (128, 64, 4, 3), 64: (128, 64, 4, 3), 80: (128, 64, 4, 2), 96: (128, 64, 4, 2),
         112: (128, 32, 4, 2), 128: (128, 32, 4, 2), 160: (128, 64, 8, 2), 192: (128, 64, 8, 2),
         224: (128, 64, 8, 1), 256: (128, 64, 8, 1)}
TC_PLAN = {
    "sm_80": _A100,
    "sm8x": {32: (128, 128, 4, 1), 48: (128, 64, 4, 1), 64: (128, 64, 4, 1), 80: (128, 64, 4, 1),
             96: (128, 64, 4, 2), 112: (128, 32, 4, 1), 128: (128, 32, 4, 2), 160: (128, 64, 8, 1),
             192: (128, 32, 8, 1), 224: (128, 32, 8, 1), 256: (128, 32, 8, 1)},
    "sm_90": _A100 | {128: (128, 64, 4, 2), 224: (128, 64, 8, 2), 256: (128, 64, 8, 2)},
}
# Causal mode differs on sm8x only (FlashAttention-2: 64 x 64 there for d=96 and d=128): causal blocks
# see fewer key tiles, so smaller blocks balance the SMs; single-buffered up to d=112 for 2 blocks per SM.
TC_PLAN_CAUSAL = {"sm8x": {96: (64, 64, 4, 1), 112: (64, 64, 4, 1), 128: (64, 64, 4, 2)}}
TC_HEAD_TILES = tuple(TC_PLAN["sm_80"])
# The host backend's default row: what the smoke tier and the tests without an arch run.
DEFAULT_ARCH = "sm_80"
# Other tensor-core shapes, by head tile: (block_m, block_n, warps, stages), each with the
# architectures it is meant for (None: all). A case picks one with its `tiles` parameter, so one GPU
# sweep (cases/attention.yaml, tile_tuning) times them against the plan; each compiles without spills
# for its architectures (`suite check`). 128x64 with 8 warps at d=128 is the plan before it followed
# FlashAttention-2 (16 rows per warp); 64-row blocks fit two per SM. (128x64 with 3 stages at d=128
# and FlashAttention-2's H100 64x64 at d=256 spill, so they are not offered.)
A100_H100 = ("sm_80", "sm_90")  # more than sm8x's 99 KiB of shared memory
TC_CANDIDATES = {
    64: (((64, 64, 4, 3), None), ((128, 128, 8, 2), None)),
    128: (((128, 32, 4, 2), None), ((128, 32, 4, 3), None), ((64, 64, 4, 2), None), ((64, 64, 4, 3), A100_H100),
          ((128, 64, 4, 2), A100_H100), ((128, 64, 8, 2), A100_H100)),
    256: (((128, 64, 8, 2), ("sm_90",)),),
}
AUTO = "auto"


def plan_row(arch: str) -> str:
    """The TC_PLAN row of a GPU architecture ("sm_86"; a trailing "a" as in sm_90a is ignored)."""
    arch = arch.removesuffix("a")
    return next((row for row, archs in PLAN_ROWS.items() if arch in archs), FALLBACK_ROW)


def _candidates() -> list[tuple[TileConfig, tuple[str, ...] | None]]:
    """TC_CANDIDATES as tile configurations, with the architectures each is meant for."""
    return [(TileConfig(hd, *shape), archs) for hd, shapes in TC_CANDIDATES.items() for shape, archs in shapes]


def _with_archs(row_configs) -> list[tuple[TileConfig, tuple[str, ...]]]:
    """(row, shape) pairs of a plan as each shape with the architectures of the rows using it."""
    archs: dict[TileConfig, tuple[str, ...]] = {}
    for row, cfg in row_configs:
        archs[cfg] = tuple(dict.fromkeys(archs.get(cfg, ()) + PLAN_ROWS[row]))
    return list(archs.items())


def _plan_configs() -> list[tuple[TileConfig, tuple[str, ...]]]:
    """Every shape of the plan, with the architectures of the rows using it."""
    return _with_archs((row, TileConfig(hd, *shape)) for plans in (TC_PLAN, TC_PLAN_CAUSAL)
                       for row, shapes in plans.items() for hd, shape in shapes.items())


def tile_label(cfg: TileConfig) -> str:
    """The name a case file gives a shape: BMxBNwWARPSsSTAGES, e.g. 128x64w8s2."""
    return f"{cfg.block_m}x{cfg.block_n}w{cfg.warps}s{cfg.stages}"


def _default(kernel: str, head_dim: int, arch: str, causal: bool) -> TileConfig:
    """The plan's shape for `head_dim` (the fp32 kernel has one per head tile, whatever the arch)."""
    head_tiles = [cfg.head_tile for cfg in FP32_TILES] if kernel == FP32 else TC_HEAD_TILES
    head_tile = next((hd for hd in head_tiles if hd >= head_dim), None)
    if head_tile is None:
        raise InputError(f"{kernel} supports head dims up to {head_tiles[-1]}; got {head_dim}")
    if kernel == FP32:
        return next(cfg for cfg in FP32_TILES if cfg.head_tile == head_tile)
    row = plan_row(arch)
    shape = (TC_PLAN_CAUSAL.get(row, {}).get(head_tile) if causal else None) or TC_PLAN[row][head_tile]
    return TileConfig(head_tile, *shape)


def tile_choices(kernel: str, head_dim: int, arch: str = DEFAULT_ARCH, causal: bool = False) -> dict[str, TileConfig]:
    """The shapes `kernel` can run `head_dim` with on `arch` ("sm_80", ...) in this causal mode, by
    label: the plan's first, then the candidates of its head tile."""
    default = _default(kernel, head_dim, arch, causal)
    others = [cfg for cfg, _ in _candidates() if cfg.head_tile == default.head_tile] if kernel == TC else []
    return {tile_label(cfg): cfg for cfg in (default, *others)}


def tile_config(kernel: str, head_dim: int, tiles: str = AUTO, arch: str = DEFAULT_ARCH,
                causal: bool = False) -> TileConfig:
    """The shape for `head_dim`: the plan's for `arch` and the causal mode, or the one labelled
    `tiles` (see tile_choices)."""
    choices = tile_choices(kernel, head_dim, arch, causal)
    if tiles == AUTO:
        return next(iter(choices.values()))
    if tiles not in choices:
        raise InputError(f"{kernel} has no tile shape {tiles!r} for head_dim {head_dim}; choose one of "
                         f"{', '.join(choices)} or {AUTO}")
    return choices[tiles]


def all_configs(kernel: str) -> list[tuple[TileConfig, tuple[str, ...] | None]]:
    """Every shape `kernel` may launch, with the architectures it is meant for: the plan, candidates
    (a shape in both is meant for every architecture either names)."""
    if kernel == FP32:
        return [(cfg, None) for cfg in FP32_TILES]
    merged: dict[TileConfig, tuple[str, ...] | None] = dict(_plan_configs())
    for cfg, archs in _candidates():
        known = merged.get(cfg, ())
        merged[cfg] = None if archs is None or known is None else tuple(dict.fromkeys(known + archs))
    return list(merged.items())


def threads(cfg: TileConfig) -> int:
    return 32 * cfg.warps


def shared_bytes(kernel: str, cfg: TileConfig) -> int:
    """Dynamic shared memory, matching the layouts in the .cu files."""
    hd, bm, bn = cfg.head_tile, cfg.block_m, cfg.block_n
    if kernel == FP32:  # Q, K padded by one column; V; P padded by eight
        return 4 * (bm * (hd + 1) + bn * (hd + 1) + bn * hd + bm * (bn + 8))
    return 2 * (hd + 8) * (bm + 2 * cfg.stages * bn)  # Q and the K/V stages, rows padded by 16 bytes


def name_expression(kernel: str, dtype: str, cfg: TileConfig) -> str:
    if kernel == FP32:
        return f"attention_fp32<{cfg.head_tile}, {cfg.block_m}, {cfg.block_n}>"
    return (f"attention_tc<{CUDA_TYPES[dtype]}, {cfg.head_tile}, {cfg.block_m}, {cfg.block_n}, "
            f"{cfg.warps}, {cfg.stages}>")


def all_name_expressions(kernel: str) -> list[str]:
    return [name_expression(kernel, dt, cfg) for dt in KERNEL_DTYPES[kernel] for cfg, _ in all_configs(kernel)]


def _tc_operand(t: torch.Tensor) -> torch.Tensor:
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
    """`t` (a _tc_operand) when attention_tc's 32-bit in-head offsets (row * row stride + column,
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


_NULL = torch.empty(0, dtype=torch.float32)


def _positive_scale(q: torch.Tensor, scale: float) -> tuple[torch.Tensor, float]:
    """(q, scale) with scale > 0. The tensor-core kernels apply the scale inside their exponent and
    need it positive: a negative scale's sign goes into a copy of q; scale 0 makes every visible
    score 0, as q = 0 does."""
    if scale > 0:
        return q, scale
    return (-q, -scale) if scale < 0 else (torch.zeros_like(q), 1.0)


def _check_output_stride(kernel: str, out: torch.Tensor) -> None:
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
        q, scale = _positive_scale(q, scale)
        q, k, v = (_int32_rows(kernel, n, _tc_operand(t), cfg.head_tile) for n, t in (("q", q), ("k", k), ("v", v)))
    else:
        q, k, v = _unit_last_stride(q), _unit_last_stride(k), _unit_last_stride(v)
    _check_output_stride(kernel, out)

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
        lse = _NULL.to(q.device)  # an empty tensor passes a null pointer: the kernel skips the write
    elif lse.dtype != torch.float32 or not lse.is_contiguous() or tuple(lse.shape) != (batch, heads_q, seq_q):
        raise InputError(f"{kernel}: lse must be a contiguous float32 tensor of shape {(batch, heads_q, seq_q)}")
    args = (q, k, v, out, lse, np.int32(heads_q), np.int32(heads_kv), np.int32(seq_q), np.int32(seq_k),
            np.int32(head_dim), *strides, np.float32(scale * math.log2(math.e)), np.int32(mode != "none"),
            np.int32(causal_offset(mode, seq_q, seq_k)))
    grid = (-(-seq_q // cfg.block_m), heads_q, batch)
    block = (threads(cfg), 1, 1)
    return fn.bind(grid, block, args, shared_mem=smem)


def _heads_kv(params) -> int:
    return params["heads_kv"] or params["heads_q"]


GRAD_MODES = ("fast", "deterministic")  # as the deformable family's grad_mode


def _deterministic(params) -> bool:
    return params["grad_mode"] == "deterministic"


# Above this many query rows the references cover a sample of rows: a float64 reference of all of a
# 16k-token case costs a few TFLOP (tens of seconds even on an H100), more than timing it. The sample
# holds the first and the last EDGE_ROWS rows (the first query blocks, the partial last block, the
# causal corners) and RANDOM_ROWS rows drawn in between, the same for a shape every time.
CHECK_ALL_ROWS_UP_TO = 1024
EDGE_ROWS, RANDOM_ROWS = 256, 512


def checked_rows(seq_q: int) -> torch.Tensor | None:
    """The query rows the references cover (sorted), or None for all of them."""
    if seq_q <= CHECK_ALL_ROWS_UP_TO:
        return None
    middle = torch.arange(EDGE_ROWS, seq_q - EDGE_ROWS)
    drawn = middle[torch.randperm(len(middle), generator=torch.Generator().manual_seed(seq_q))[:RANDOM_ROWS]]
    return torch.cat([torch.arange(EDGE_ROWS), drawn.sort().values, torch.arange(seq_q - EDGE_ROWS, seq_q)])


# ----------------------------------------------------------------------------------------------
# Backward: delta (attention_bwd.cu), then dK/dV per key block (attention_bwd_tc.cu on tensor cores
# for fp16/bf16 up to d=128; attention_bwd.cu's SIMT kernel otherwise), dQ either through fp32
# atomics in that same kernel plus a conversion (fast) or through attention_bwd_dq, a SIMT kernel
# per query block (deterministic).
# SIMT tiles: 16 keys x 16 query rows at 8 threads per row (4 warps); its fp32 tiles of 16 x (HD+1)
# fit sm_86's 99 KiB up to d=256 (67 KiB there). Tensor-core tiles: 4 warps of 16 keys; 64 query
# rows per step up to d=64, 32 above, which keeps dK, dV (HD regs), S^T and dP^T (BM regs) and the
# fragments within 255 registers; past d=128 dK and dV alone would need 256+.

BWD_TC = "attention_bwd_tc"
SOURCES[BWD_TC] = KERNELS_DIR / "attention_bwd_tc.cu"
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


def _smallest_tile(tiles, head_dim: int) -> TileConfig | None:
    return next((cfg for cfg in tiles if cfg.head_tile >= head_dim), None)


def backward_tile(head_dim: int) -> TileConfig:
    """The SIMT backward tile for head_dim."""
    cfg = _smallest_tile(BWD_TILES, head_dim)
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
    tc_cfg = _smallest_tile(BWD_TC_TILES, head_dim) if dtype in KERNEL_DTYPES[TC] else None
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
        dq_accum = _NULL.to(q.device)
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
        tq, tk, tv, tdo = (_tc_operand(t) for t in (q, k, v, grad_out))
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


# ----------------------------------------------------------------------------------------------
# Decode: split-KV attention for a few query rows against many keys (kernels_cu/attention_decode.cu),
# FlashAttention-2's flash-decoding. The query heads of a KV group are packed into the M dimension;
# one block per (batch, KV head, split, 64 packed rows) writes fp32 partial outputs and log-sum-exps,
# and a combine kernel merges the splits. Tiles: 4 warps of 16 packed rows (FlashAttention-2's
# split-KV BlockM of 64), 64-key tiles in 3 cp.async stages: 121 KiB of shared memory at d=128, more
# than sm_86/sm_89 give a block (99 KiB), so their row keeps 2 stages there (87 KiB).

DECODE = "attention_decode"
SOURCES[DECODE] = KERNELS_DIR / "attention_decode.cu"
DECODE_DTYPES = KERNEL_DTYPES[TC]
DECODE_MAX_SEQ_Q = 16  # decode cases: longer queries fill the GPU with query blocks (attention_tc)
DECODE_TILES = tuple(TileConfig(hd, 64, 64, 4, 3) for hd in (32, 64, 96, 128))
DECODE_PLAN = {"sm_80": DECODE_TILES, "sm8x": DECODE_TILES[:-1] + (TileConfig(128, 64, 64, 4, 2),),
               "sm_90": DECODE_TILES}
DECODE_MAX_SPLITS = 128  # the combine kernel's DECODE_MAX_SPLITS
COMBINE_WARPS = 4  # the combine kernel's DECODE_COMBINE_WARPS: one warp per output row


def decode_tile(head_dim: int, arch: str = DEFAULT_ARCH) -> TileConfig:
    cfg = _smallest_tile(DECODE_PLAN[plan_row(arch)], head_dim)
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
    return _with_archs((row, cfg) for row, tiles in DECODE_PLAN.items() for cfg in tiles)


def decode_launcher(q, k, v, out, mode: str, scale: float | None, backend) -> Callable[[], None]:
    """Prepare one split-KV launch writing `out` (shapes already checked, fp16/bf16, head_dim <= 128);
    returns a callable that launches the split and combine kernels again with no allocation (the
    fp32 workspaces are made here, once). Splits: decode_splits with the GPU's SM count."""
    batch, heads_q, seq_q, head_dim = q.shape
    heads_kv, seq_k = k.shape[1], k.shape[2]
    dtype = str(q.dtype).removeprefix("torch.")
    cfg = decode_tile(head_dim, backend.arch)
    q, scale = _positive_scale(q, 1.0 / math.sqrt(head_dim) if scale is None else float(scale))
    q, k, v = _tc_operand(q), _tc_operand(k), _tc_operand(v)
    _check_output_stride(DECODE, out)

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


_CANDIDATE_LIST = "; ".join(f"d{hd}: " + ", ".join(tile_label(cfg) for cfg, _ in _candidates() if cfg.head_tile == hd)
                            for hd in TC_CANDIDATES)

PASS_FLOPS = {"forward": 1.0, "backward": 2.5, "both": 3.5}
_SDPA_BACKENDS = {"sdpa_math": "MATH", "sdpa_flash": "FLASH_ATTENTION", "sdpa_efficient": "EFFICIENT_ATTENTION",
                  "sdpa_cudnn": "CUDNN_ATTENTION"}


class AttentionFamily(Family):
    name = "attention"
    description = "flash-style multi-head attention (GQA/MQA, causal top-left or bottom-right)"
    kernels = {FP32: "fp32 SIMT, shared-memory tiles, online softmax",
               TC: "fp16/bf16 mma.sync m16n8k16, ldmatrix, cp.async pipeline, FlashAttention-2 split of Q",
               DECODE: f"fp16/bf16 split-KV decode (seq_q <= {DECODE_MAX_SEQ_Q}, d <= {DECODE_TILES[-1].head_tile}): "
                       "GQA rows packed, tensor cores, log-sum-exp combine",
               fa3.FA3: "fp16/bf16 sm_90a FlashAttention-3 style forward: TMA producer warp, wgmma consumer "
                        "warpgroups, intra-warpgroup overlap, ping-pong"}
    baselines = {name: f"torch SDPA restricted to the {b.lower()} backend" for name, b in _SDPA_BACKENDS.items()}
    params = {
        "batch": Param("int", 1, minimum=1),
        "heads_q": Param("int", minimum=1, help="query heads"),
        "heads_kv": Param("int", 0, minimum=0, help="key/value heads; 0 means heads_q (plain multi-head)"),
        "seq_q": Param("int", minimum=1),
        "seq_k": Param("int", minimum=1),
        "head_dim": Param("int", minimum=1),
        "causal": Param("str", "none", choices=CAUSAL_MODES),
        "pass": pass_param(),
        "grad_mode": Param("str", "fast", choices=GRAD_MODES,
                           help="backward: fast (dQ by fp32 atomics) | deterministic (dQ per query block, "
                                "bitwise reproducible)"),
        "tiles": Param("str", AUTO, help=f"{TC} tile shape BMxBNwWARPSsSTAGES (`{AUTO}`: the head dim's default; "
                                         f"a sweep naming one runs {TC} only); others by head tile: {_CANDIDATE_LIST}"),
    }
    kernel_dtypes = KERNEL_DTYPES | {DECODE: DECODE_DTYPES, fa3.FA3: fa3.DTYPES}
    tolerances = {
        "float32": Tolerance(atol=1e-5, rtol=1e-5),
        "float16": Tolerance(eps=1e-3),
        "bfloat16": Tolerance(eps=1e-2),
    }

    def check_params(self, params) -> None:
        if params["heads_q"] % _heads_kv(params):
            raise ValueError(f"heads_q ({params['heads_q']}) must be a multiple of heads_kv ({params['heads_kv']})")
        if params["head_dim"] > MAX_HEAD_DIM:
            raise ValueError(f"head_dim {params['head_dim']} is above the kernels' maximum {MAX_HEAD_DIM}")
        if params["heads_q"] > GRID_YZ_MAX or params["batch"] > GRID_YZ_MAX:
            raise ValueError(f"heads_q and batch must be at most {GRID_YZ_MAX} (grid y/z limits)")
        try:
            tile_config(TC, params["head_dim"], params["tiles"])
        except InputError as exc:
            raise ValueError(f"tiles: {exc}") from None

    def supports(self, kernel: str, dtype: str, params=None) -> bool:
        """attention_fp32 has one tile shape per head dim: a sweep choosing `tiles` is attention_tc's.
        attention_decode takes the short-query forward cases only (decode_applies)."""
        if params is None:
            return super().supports(kernel, dtype)
        if kernel == DECODE:
            return super().supports(kernel, dtype) and decode_applies(params)
        if kernel == fa3.FA3:  # forward only, its own tile plan
            return super().supports(kernel, dtype) and params["pass"] == "forward" and params["tiles"] == AUTO
        return super().supports(kernel, dtype) and not (params["tiles"] != AUTO and kernel == FP32)

    def shape_label(self, params) -> str:
        heads = f"{params['heads_q']}/{_heads_kv(params)}"
        mask = "" if params["causal"] == "none" else f" {params['causal']}"
        tiles = "" if params["tiles"] == AUTO else f" tiles {params['tiles']}"
        grads = "" if params["pass"] == "forward" else f" {params['pass']}{' det' if _deterministic(params) else ''}"
        return (f"b{params['batch']} h{heads} s{params['seq_q']}x{params['seq_k']} d{params['head_dim']}{mask}{tiles}"
                f"{grads}")

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        gen = torch.Generator().manual_seed(seed)
        b, d = params["batch"], params["head_dim"]

        def randn(heads, seq):
            return torch.randn(b, heads, seq, d, generator=gen).to(device=device, dtype=getattr(torch, dtype))

        inputs = {"q": randn(params["heads_q"], params["seq_q"]), "k": randn(_heads_kv(params), params["seq_k"]),
                  "v": randn(_heads_kv(params), params["seq_k"])}
        if params["pass"] != "forward":
            inputs["grad_out"] = randn(params["heads_q"], params["seq_q"])
        return inputs

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        q = inputs["q"]
        out = torch.full(q.shape, float("nan"), dtype=q.dtype, device=q.device)
        if params["pass"] == "forward":
            if kernel == fa3.FA3:
                _check_output_stride(kernel, out)
                q_pos, scale = _positive_scale(q, 1.0 / math.sqrt(params["head_dim"]))
                again = fa3.launcher(q_pos, inputs["k"], inputs["v"], out, params["causal"], scale, backend,
                                     _NULL.to(q.device))
            elif kernel == DECODE:
                again = decode_launcher(q, inputs["k"], inputs["v"], out, params["causal"], None, backend)
            else:
                again = launcher(kernel, q, inputs["k"], inputs["v"], out, params["causal"], None, backend,
                                 params["tiles"])
            again()
            rows = checked_rows(params["seq_q"])
            return Launched(out, again, None if rows is None else lambda o: o[:, :, rows.to(o.device)])
        # Backward cases compare every row: each row of q feeds every key's dK and dV.
        lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
        forward = launcher(kernel, q, inputs["k"], inputs["v"], out, params["causal"], None, backend, params["tiles"],
                           lse=lse)
        forward()
        grads = {grad_key(n): torch.full(inputs[n].shape, float("nan"), dtype=q.dtype, device=q.device) for n in "qkv"}
        backward = backward_launcher(q, inputs["k"], inputs["v"], out, lse, inputs["grad_out"], *grads.values(),
                                     params["causal"], None, backend, _deterministic(params))
        backward()
        if params["pass"] == "backward":
            return Launched(grads, backward)
        return Launched({OUTPUT: out} | grads, lambda: (forward(), backward()))

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        qkv, mode = {n: inputs[n] for n in "qkv"}, params["causal"]
        if params["pass"] == "forward":
            rows = checked_rows(params["seq_q"])
            ref64 = attention_reference(*qkv.values(), causal=mode, rows=rows)
            ref_lowp = None if dtype == "float32" else attention_reference(*qkv.values(), causal=mode, rows=rows,
                                                                           dtype=getattr(torch, dtype))
            return ref64, ref_lowp

        def grads_in(precision):
            return autograd_outputs(lambda q, k, v: attention_reference(q, k, v, causal=mode, dtype=precision),
                                    {n: t.to(precision) for n, t in qkv.items()}, inputs["grad_out"].to(precision),
                                    "qkv", with_output=params["pass"] == "both")

        return grads_in(torch.float64), None if dtype == "float32" else grads_in(getattr(torch, dtype))

    def flops(self, kernel: str, params) -> float:
        """The matmuls over the unmasked area; backward counts 2.5x the forward (FlashAttention's
        convention: five matmuls to the forward's two), both 3.5x."""
        pairs = visible_pairs(params["causal"], params["seq_q"], params["seq_k"])
        return PASS_FLOPS[params["pass"]] * 4.0 * params["batch"] * params["heads_q"] * params["head_dim"] * pairs

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        """Forward: q, k, v read once and the output written once. Backward: q, o, dO, k, v read once
        and dq, dk, dv written once (the fp32 dQ accumulator and lse/delta not counted)."""
        per_row = params["batch"] * params["head_dim"] * getattr(torch, dtype).itemsize
        q_rows, kv_rows = params["heads_q"] * params["seq_q"], _heads_kv(params) * params["seq_k"]
        rows = {"forward": 2 * q_rows + 2 * kv_rows, "backward": 4 * q_rows + 4 * kv_rows}
        rows["both"] = rows["forward"] + rows["backward"]
        return per_row * rows[params["pass"]]

    def baseline(self, name: str, kernel: str, params, inputs: dict):
        """SDPA pinned to one backend; None when that backend cannot run these inputs here."""
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
        from torch.nn.attention.bias import causal_lower_right

        q, k, v = inputs["q"], inputs["k"], inputs["v"]
        kwargs = {"enable_gqa": True} if q.shape[1] != k.shape[1] else {}
        if params["causal"] == "top_left":
            kwargs["is_causal"] = True
        elif params["causal"] == "bottom_right":
            kwargs["attn_mask"] = causal_lower_right(q.shape[2], k.shape[2])
        sdpa_backend = getattr(SDPBackend, _SDPA_BACKENDS[name])

        def forward(*qkv):
            with sdpa_kernel(sdpa_backend):
                return F.scaled_dot_product_attention(*qkv, **kwargs)

        leaves = [t.detach().requires_grad_(params["pass"] != "forward") for t in (q, k, v)]
        try:
            saved = forward(*leaves)
            if params["pass"] == "forward":
                return lambda: forward(q, k, v)

            def call():  # SDPA's backward, given the saved forward (pass backward) or after a new one
                out = forward(*leaves) if params["pass"] == "both" else saved
                return torch.autograd.grad(out, leaves, inputs["grad_out"], retain_graph=True)

            call()
        except (RuntimeError, TypeError, NotImplementedError):  # "no available kernel", old torch
            return None
        return call

    def launched_instantiations(self, kernel: str, params, dtype: str) -> list[Instantiation]:
        if kernel == fa3.FA3:  # the one its tile plan picks (the family's others compile for other archs)
            return [fa3.instantiation(dtype, fa3.tile(params["head_dim"], params["causal"] != "none"))]
        return super().launched_instantiations(kernel, params, dtype)

    def instantiations(self) -> list[Instantiation]:
        out = []
        for kernel in KERNEL_DTYPES:
            for dtype in KERNEL_DTYPES[kernel]:
                for cfg, archs in all_configs(kernel):
                    out.append(Instantiation(
                        source=SOURCES[kernel], name_expression=name_expression(kernel, dtype, cfg),
                        threads_per_block=threads(cfg), dynamic_smem=shared_bytes(kernel, cfg),
                        tensor_core=kernel == TC, expect=("LDSM", "LDGSTS") if kernel == TC else (),
                        label=f"{dtype} d<={cfg.head_tile} {cfg.block_m}x{cfg.block_n} "
                              f"{cfg.warps}w{f' {cfg.stages}st' if kernel == TC else ''}", archs=archs))
        for dtype in DECODE_DTYPES:
            for cfg, archs in decode_configs():
                split_name, combine_name = decode_names(dtype, cfg)
                out.append(Instantiation(
                    source=SOURCES[DECODE], name_expression=split_name, threads_per_block=threads(cfg),
                    dynamic_smem=decode_shared_bytes(cfg), tensor_core=True, expect=("LDSM", "LDGSTS"),
                    label=f"{dtype} decode split d<={cfg.head_tile} {cfg.block_m}x{cfg.block_n} {cfg.warps}w "
                          f"{cfg.stages}st", archs=archs))
            out.append(Instantiation(source=SOURCES[DECODE], name_expression=combine_name,
                                     threads_per_block=32 * COMBINE_WARPS, label=f"{dtype} decode combine"))
        for part, dtype, cfg in backward_instances():
            tensor_core = BWD_PARTS[part][0] == BWD_TC
            out.append(Instantiation(
                source=SOURCES[BWD_PARTS[part][0]], name_expression=backward_name(part, dtype, cfg),
                threads_per_block=backward_threads(part, cfg), dynamic_smem=backward_shared_bytes(part, cfg),
                tensor_core=tensor_core, expect=("LDSM", "LDGSTS") if tensor_core else (),
                label=f"{dtype} backward {part}" + (f" d<={cfg.head_tile} {cfg.block_m}x{cfg.block_n}" if cfg else "")))
        return out + fa3.instantiations()


FAMILY = AttentionFamily()
