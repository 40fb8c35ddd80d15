"""Attention's kernels and their tile shapes: the tensor-core plan per architecture row, head
dim and causal mode, the candidates a case may pick, and what a shape costs (threads, shared memory,
the template name). Launchers: attention_launch.py (forward), attention_grad.py (backward),
attention_decode.py (split-KV decode); the family is attention.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite import KERNELS_DIR
from suite.errors import InputError


FP32, TC, BWD, BWD_TC, DECODE = ("attention_fp32", "attention_tc", "attention_bwd", "attention_bwd_tc",
                                  "attention_decode")
SOURCES = {FP32: KERNELS_DIR / "attention_fp32.cu", TC: KERNELS_DIR / "attention_tc.cu",
           BWD: KERNELS_DIR / "attention_bwd.cu", BWD_TC: KERNELS_DIR / "attention_bwd_tc.cu",
           DECODE: KERNELS_DIR / "attention_decode.cu"}
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


def with_archs(row_configs) -> list[tuple[TileConfig, tuple[str, ...]]]:
    """(row, shape) pairs of a plan as each shape with the architectures of the rows using it."""
    archs: dict[TileConfig, tuple[str, ...]] = {}
    for row, cfg in row_configs:
        archs[cfg] = tuple(dict.fromkeys(archs.get(cfg, ()) + PLAN_ROWS[row]))
    return list(archs.items())


def _plan_configs() -> list[tuple[TileConfig, tuple[str, ...]]]:
    """Every shape of the plan, with the architectures of the rows using it."""
    return with_archs((row, TileConfig(hd, *shape)) for plans in (TC_PLAN, TC_PLAN_CAUSAL)
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


def smallest_tile(tiles, head_dim: int) -> TileConfig | None:
    """The first of `tiles` whose head tile covers `head_dim`, or None."""
    return next((cfg for cfg in tiles if cfg.head_tile >= head_dim), None)
