"""The attention family: flash-style scaled-dot-product attention with GQA and causal masks.

Kernels (kernels_cu/): `attention_fp32` (SIMT, float32) and `attention_tc` (mma.sync, float16 and
bfloat16). Both take the same arguments, so one launcher serves both; the tile sizes are template
parameters picked per head dim from the tables below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from suite import KERNELS_DIR
from suite.errors import InputError
from suite.kernels.family import Family, Instantiation, Launched, Param, Tolerance
from suite.references.attention import (CAUSAL_MODES, attention_reference, causal_offset, visible_pairs)

FP32, TC = "attention_fp32", "attention_tc"
SOURCES = {FP32: KERNELS_DIR / "attention_fp32.cu", TC: KERNELS_DIR / "attention_tc.cu"}
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
# Tensor cores: head tiles are multiples of 16 (the mma k). Up to d=80, 4 warps x 32 query rows and
# 64-key tiles (FlashAttention-2's A100/H100 shape); above, 8 warps x 16 rows, which keeps the S and O
# accumulators within 255 registers without spills (4 x 32 rows spills from d=96 on sm_80/sm_90),
# with 32-key tiles past d=128 so the 128x(d+8) Q tile and two K/V stages fit sm_80's 163 KiB.
TC_TILES = (
    tuple(TileConfig(hd, 128, 64, 4, 3) for hd in (32, 48, 64))
    + (TileConfig(80, 128, 64, 4, 2),)
    + tuple(TileConfig(hd, 128, 64, 8, 2) for hd in (96, 112, 128))
    + tuple(TileConfig(hd, 128, 32, 8, 2) for hd in (160, 192, 224, 256))
)
TILES = {FP32: FP32_TILES, TC: TC_TILES}
# Other tensor-core shapes, by head tile: (block_m, block_n, warps, stages), each with the
# architectures it is meant for (None: all). A case picks one with its `tiles` parameter, so one GPU
# sweep (cases/attention.yaml, tile_tuning) times them against the defaults above; each compiles
# without spills for its architectures (`suite check`). 4 warps x 32 rows let each K/V fragment feed
# two m tiles (half the shared-memory reads per mma of 8 x 16 rows): FlashAttention-2's shapes are
# 128x64 with 4 warps at d=128 (spill-free on sm_90 only, ptxas for sm_80 spills 56 B) and 128x64 with
# 8 warps at d=256 (Hopper's shared memory only); 128x32 is its sm8x choice; 64-row blocks fit two
# per SM.
SM90 = ("sm_90",)
TC_CANDIDATES = {
    64: (((64, 64, 4, 3), None), ((128, 128, 8, 2), None)),
    128: (((128, 32, 4, 2), None), ((128, 32, 4, 3), None), ((64, 64, 4, 2), None), ((64, 64, 4, 3), None),
          ((128, 64, 4, 2), SM90), ((128, 64, 4, 3), SM90)),
    256: (((128, 64, 8, 2), SM90), ((64, 64, 4, 2), SM90)),
}
AUTO = "auto"


def _candidates() -> list[tuple[TileConfig, tuple[str, ...] | None]]:
    """TC_CANDIDATES as tile configurations, with the architectures each is meant for."""
    return [(TileConfig(hd, *shape), archs) for hd, shapes in TC_CANDIDATES.items() for shape, archs in shapes]


def tile_label(cfg: TileConfig) -> str:
    """The name a case file gives a shape: BMxBNwWARPSsSTAGES, e.g. 128x64w8s2."""
    return f"{cfg.block_m}x{cfg.block_n}w{cfg.warps}s{cfg.stages}"


def tile_choices(kernel: str, head_dim: int) -> dict[str, TileConfig]:
    """The shapes `kernel` can run `head_dim` with, by label: the default first."""
    for default in TILES[kernel]:
        if default.head_tile >= head_dim:
            break
    else:
        raise InputError(f"{kernel} supports head dims up to {TILES[kernel][-1].head_tile}; got {head_dim}")
    others = [cfg for cfg, _ in _candidates() if cfg.head_tile == default.head_tile] if kernel == TC else []
    return {tile_label(cfg): cfg for cfg in (default, *others)}


def tile_config(kernel: str, head_dim: int, tiles: str = AUTO) -> TileConfig:
    """The shape for `head_dim`: the default, or the one labelled `tiles` (see tile_choices)."""
    choices = tile_choices(kernel, head_dim)
    if tiles == AUTO:
        return next(iter(choices.values()))
    if tiles not in choices:
        raise InputError(f"{kernel} has no tile shape {tiles!r} for head_dim {head_dim}; choose one of "
                         f"{', '.join(choices)} or {AUTO}")
    return choices[tiles]


def all_configs(kernel: str) -> list[tuple[TileConfig, tuple[str, ...] | None]]:
    """Every shape `kernel` may launch, with the architectures it is meant for: defaults, candidates."""
    return [(cfg, None) for cfg in TILES[kernel]] + (_candidates() if kernel == TC else [])


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


def _unit_last_stride(t: torch.Tensor) -> torch.Tensor:
    return t if t.stride(-1) == 1 or t.shape[-1] == 1 else t.contiguous()


def launcher(kernel: str, q, k, v, out, mode: str, scale: float | None, backend, tiles: str = AUTO) -> Callable[[], None]:
    """Prepare one launch of `kernel` writing `out` (shapes already checked); returns a callable
    that launches it (and launches again on every call, with no allocation: copies that the
    layout needs are made here, once). `tiles`: a tile shape label (tile_choices), or auto."""
    batch, heads_q, seq_q, head_dim = q.shape
    heads_kv, seq_k = k.shape[1], k.shape[2]
    dtype = str(q.dtype).removeprefix("torch.")
    cfg = tile_config(kernel, head_dim, tiles)
    scale = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
    if kernel == TC and scale <= 0:
        # The tensor-core kernel applies the scale inside its exponent and needs it positive: a
        # negative scale's sign goes into a copy of q; scale 0 makes every visible score 0, as q = 0 does.
        q, scale = (-q, -scale) if scale < 0 else (torch.zeros_like(q), 1.0)
    operand = _tc_operand if kernel == TC else _unit_last_stride
    q, k, v = operand(q), operand(k), operand(v)
    if out.stride(-1) != 1 and head_dim > 1:
        raise InputError(f"{kernel}: the output needs unit stride along the head dim; got strides {out.stride()}")

    fn = backend.load_module(SOURCES[kernel], all_name_expressions(kernel)).get_function(
        name_expression(kernel, dtype, cfg))
    smem = shared_bytes(kernel, cfg)
    if smem > STATIC_SMEM_LIMIT:
        fn.max_dynamic_shared_size_bytes = smem
    strides = [np.int64(s) for t in (q, k, v, out) for s in t.stride()[:3]]
    args = (q, k, v, out, np.int32(heads_q), np.int32(heads_kv), np.int32(seq_q), np.int32(seq_k),
            np.int32(head_dim), *strides, np.float32(scale * math.log2(math.e)), np.int32(mode != "none"),
            np.int32(causal_offset(mode, seq_q, seq_k)))
    grid = (-(-seq_q // cfg.block_m), heads_q, batch)
    block = (threads(cfg), 1, 1)
    return lambda: fn(grid, block, args, shared_mem=smem)


def _heads_kv(params) -> int:
    return params["heads_kv"] or params["heads_q"]


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


_CANDIDATE_LIST = "; ".join(f"d{hd}: " + ", ".join(tile_label(cfg) for cfg, _ in _candidates() if cfg.head_tile == hd)
                            for hd in TC_CANDIDATES)

_SDPA_BACKENDS = {"sdpa_math": "MATH", "sdpa_flash": "FLASH_ATTENTION", "sdpa_efficient": "EFFICIENT_ATTENTION",
                  "sdpa_cudnn": "CUDNN_ATTENTION"}


class AttentionFamily(Family):
    name = "attention"
    description = "flash-style multi-head attention (GQA/MQA, causal top-left or bottom-right)"
    kernels = {FP32: "fp32 SIMT, shared-memory tiles, online softmax",
               TC: "fp16/bf16 mma.sync m16n8k16, ldmatrix, cp.async pipeline, FlashAttention-2 split of Q"}
    baselines = {name: f"torch SDPA restricted to the {b.lower()} backend" for name, b in _SDPA_BACKENDS.items()}
    params = {
        "batch": Param("int", 1, minimum=1),
        "heads_q": Param("int", minimum=1, help="query heads"),
        "heads_kv": Param("int", 0, minimum=0, help="key/value heads; 0 means heads_q (plain multi-head)"),
        "seq_q": Param("int", minimum=1),
        "seq_k": Param("int", minimum=1),
        "head_dim": Param("int", minimum=1),
        "causal": Param("str", "none", choices=CAUSAL_MODES),
        "tiles": Param("str", AUTO, help=f"{TC} tile shape BMxBNwWARPSsSTAGES (`{AUTO}`: the head dim's default; "
                                         f"a sweep naming one runs {TC} only); others by head tile: {_CANDIDATE_LIST}"),
    }
    kernel_dtypes = KERNEL_DTYPES
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
        """attention_fp32 has one tile shape per head dim: a sweep choosing `tiles` is attention_tc's."""
        tuned = params is not None and params["tiles"] != AUTO
        return super().supports(kernel, dtype) and not (tuned and kernel == FP32)

    def shape_label(self, params) -> str:
        heads = f"{params['heads_q']}/{_heads_kv(params)}"
        mask = "" if params["causal"] == "none" else f" {params['causal']}"
        tiles = "" if params["tiles"] == AUTO else f" tiles {params['tiles']}"
        return f"b{params['batch']} h{heads} s{params['seq_q']}x{params['seq_k']} d{params['head_dim']}{mask}{tiles}"

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        gen = torch.Generator().manual_seed(seed)
        b, d = params["batch"], params["head_dim"]

        def randn(heads, seq):
            return torch.randn(b, heads, seq, d, generator=gen).to(device=device, dtype=getattr(torch, dtype))

        return {"q": randn(params["heads_q"], params["seq_q"]), "k": randn(_heads_kv(params), params["seq_k"]),
                "v": randn(_heads_kv(params), params["seq_k"])}

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        q = inputs["q"]
        out = torch.full(q.shape, float("nan"), dtype=q.dtype, device=q.device)
        again = launcher(kernel, q, inputs["k"], inputs["v"], out, params["causal"], None, backend, params["tiles"])
        again()
        rows = checked_rows(params["seq_q"])
        return Launched(out, again, None if rows is None else lambda o: o[:, :, rows.to(o.device)])

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        qkv, rows = (inputs["q"], inputs["k"], inputs["v"]), checked_rows(params["seq_q"])
        ref64 = attention_reference(*qkv, causal=params["causal"], rows=rows)
        ref_lowp = None if dtype == "float32" else attention_reference(*qkv, causal=params["causal"], rows=rows,
                                                                       dtype=getattr(torch, dtype))
        return ref64, ref_lowp

    def flops(self, kernel: str, params) -> float:
        pairs = visible_pairs(params["causal"], params["seq_q"], params["seq_k"])
        return 4.0 * params["batch"] * params["heads_q"] * params["head_dim"] * pairs

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        """q, k, v read once and the output written once."""
        per_row = params["batch"] * params["head_dim"] * getattr(torch, dtype).itemsize
        return per_row * (2 * params["heads_q"] * params["seq_q"] + 2 * _heads_kv(params) * params["seq_k"])

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

        def call():
            with sdpa_kernel(sdpa_backend):
                return F.scaled_dot_product_attention(q, k, v, **kwargs)

        try:
            call()
        except (RuntimeError, TypeError, NotImplementedError):  # "no available kernel", old torch
            return None
        return call

    def instantiations(self) -> list[Instantiation]:
        out = []
        for kernel in TILES:
            for dtype in KERNEL_DTYPES[kernel]:
                for cfg, archs in all_configs(kernel):
                    out.append(Instantiation(
                        source=SOURCES[kernel], name_expression=name_expression(kernel, dtype, cfg),
                        threads_per_block=threads(cfg), dynamic_smem=shared_bytes(kernel, cfg),
                        tensor_core=kernel == TC, expect=("LDSM", "LDGSTS") if kernel == TC else (),
                        label=f"{dtype} d<={cfg.head_tile} {cfg.block_m}x{cfg.block_n} "
                              f"{cfg.warps}w{f' {cfg.stages}st' if kernel == TC else ''}", archs=archs))
        return out


FAMILY = AttentionFamily()
