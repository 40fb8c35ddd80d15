"""attention_fa3 (kernels_cu/attention_fa3.cu): FlashAttention-3-style forward for sm_90a.

The tile plan follows FA3's tile_size_fwd_sm90 (fa:hopper/tile_size.h; shared/reference/
hopper-wgmma-tma.md, 4.3) with one departure: P V is always the RS form (P from registers), so at
d=64 the plan takes FA3's 192 x 128 RS row (its causal one) for both masks instead of 192 x 192 SS.
Q, K and V reach the kernel as tensor maps (4-D: head dim, seq, heads, batch; 128-byte swizzle;
boxes of 64 columns), encoded by the driver on a GPU and by suite/emulator/tensormap.py on the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from suite import KERNELS_DIR
from suite.errors import BackendUnavailable, InputError
from suite.kernels.attention_launch import check_output_stride, positive_scale
from suite.kernels.family import Instantiation
from suite.references.attention import causal_offset

FA3 = "attention_fa3"
SOURCE = KERNELS_DIR / "attention_fa3.cu"
DTYPES = ("float16", "bfloat16")
ARCHS = ("sm_90a",)  # wgmma and setmaxnreg exist on sm_90a only
CUDA_TYPES = {"float16": "__half", "bfloat16": "__nv_bfloat16"}
CHUNK = 64  # head-dim columns per TMA box (128 bytes: the 128-byte swizzle's span)
STAGES = 2  # FA3's K/V ring depth on sm90
MAP_BYTES = 128


@dataclass(frozen=True)
class Fa3Tile:
    """One instantiation: head-dim tile, consumer warpgroups (64 query rows each), keys per tile."""

    head_tile: int
    consumers: int
    block_n: int

    @property
    def block_m(self) -> int:
        return 64 * self.consumers

    @property
    def threads(self) -> int:
        return 128 * (1 + self.consumers)  # the producer warpgroup and the consumers

    @property
    def pingpong(self) -> bool:
        return self.head_tile <= 128  # FA3: the scheduler barriers for 16-bit types up to d=128

    @property
    def registers(self) -> tuple[int, int]:
        """setmaxnreg targets (producer, consumer), FA3's for 2 and 3 consumer warpgroups."""
        return (24, 240) if self.consumers == 2 else (32, 160)

    def label(self) -> str:
        return f"{self.block_m}x{self.block_n}"


# head tile -> (non-causal, causal)
PLAN = {64: (Fa3Tile(64, 3, 128), Fa3Tile(64, 3, 128)),
        128: (Fa3Tile(128, 2, 176), Fa3Tile(128, 2, 128)),
        256: (Fa3Tile(256, 2, 80), Fa3Tile(256, 2, 80))}
MAX_HEAD_DIM = max(PLAN)


def tile(head_dim: int, causal: bool) -> Fa3Tile:
    head_tile = next((hd for hd in PLAN if hd >= head_dim), None)
    if head_tile is None:
        raise InputError(f"{FA3} supports head dims up to {MAX_HEAD_DIM}; got {head_dim}")
    return PLAN[head_tile][causal]


def tiles() -> list[Fa3Tile]:
    return list(dict.fromkeys(cfg for pair in PLAN.values() for cfg in pair))


def shared_bytes(cfg: Fa3Tile) -> int:
    """Dynamic shared memory as attention_fa3.cu lays it out: 1024 bytes to align the base, Q, the
    K and V stages, the mbarriers (Q's, and full and empty per stage for K and V)."""
    tile_bytes = 2 * cfg.head_tile * (cfg.block_m + 2 * STAGES * cfg.block_n)
    return 1024 + tile_bytes + 8 * (1 + 4 * STAGES)


def name_expression(dtype: str, cfg: Fa3Tile) -> str:
    producer, consumer = cfg.registers
    return (f"attention_fa3<{CUDA_TYPES[dtype]}, {cfg.head_tile}, {cfg.consumers}, {cfg.block_n}, {STAGES}, "
            f"{str(cfg.pingpong).lower()}, {producer}, {consumer}>")


def all_name_expressions() -> list[str]:
    return [name_expression(dt, cfg) for dt in DTYPES for cfg in tiles()]


def instantiation(dtype: str, cfg: Fa3Tile) -> Instantiation:
    """For `suite check`: sm_90a only, wgmma (HGMMA) in the SASS, one block per SM (and, as for
    every kernel, no local memory)."""
    return Instantiation(source=SOURCE, name_expression=name_expression(dtype, cfg), threads_per_block=cfg.threads,
                         dynamic_smem=shared_bytes(cfg), expect=("HGMMA",), archs=ARCHS, min_blocks_per_sm=1,
                         label=f"{dtype} fa3 d<={cfg.head_tile} {cfg.label()} {cfg.consumers}+1wg")


def instantiations() -> list[Instantiation]:
    return [instantiation(dt, cfg) for dt in DTYPES for cfg in tiles()]


def _tma_operand(t: torch.Tensor) -> torch.Tensor:
    """`t` when TMA can read it (unit stride along the head dim, which holds a multiple of 8
    elements; other strides positive multiples of 16 bytes; 16-byte aligned base), else a
    contiguous copy with the head dim padded with zeros to a multiple of 8."""
    ok = (t.stride(-1) == 1 and t.shape[-1] % 8 == 0 and t.data_ptr() % 16 == 0
          and all(s > 0 and s % 8 == 0 for s in t.stride()[:3]))
    if ok:
        return t
    padded = t.new_zeros(*t.shape[:-1], -(-t.shape[-1] // 8) * 8)
    padded[..., : t.shape[-1]] = t
    return padded


def _encode_gpu(t: torch.Tensor, box: tuple[int, ...]) -> bytes:
    """cuTensorMapEncodeTiled through cuda-bindings (the CUDA driver's own encoding)."""
    try:
        from cuda.bindings import driver
    except ImportError as exc:
        raise BackendUnavailable(f"{FA3} needs cuda-bindings to encode tensor maps on a GPU ({exc})") from None
    dtype = {torch.float16: driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
             torch.bfloat16: driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_BFLOAT16}[t.dtype]
    dims = [driver.cuuint64_t(n) for n in reversed(t.shape)]
    strides = [driver.cuuint64_t(s * t.element_size()) for s in reversed(t.stride()[:-1])]
    err, tmap = driver.cuTensorMapEncodeTiled(
        dtype, t.dim(), t.data_ptr(), dims, strides, [driver.cuuint32_t(b) for b in box],
        [driver.cuuint32_t(1)] * t.dim(), driver.CUtensorMapInterleave.CU_TENSOR_MAP_INTERLEAVE_NONE,
        driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_128B,
        driver.CUtensorMapL2promotion.CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
        driver.CUtensorMapFloatOOBfill.CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE)
    if err != driver.CUresult.CUDA_SUCCESS:
        raise InputError(f"{FA3}: cuTensorMapEncodeTiled refused a map of shape {tuple(t.shape)}, strides "
                         f"{t.stride()}, box {box}: {err}")
    return b"".join(int(word).to_bytes(8, "little") for word in tmap.opaque)


def _encode_host(t: torch.Tensor, box: tuple[int, ...]) -> bytes:
    """The host backend's encoding (the emulation's format, with the driver's argument rules)."""
    try:
        from suite.emulator.tensormap import encode_for
    except ImportError:
        raise BackendUnavailable(f"{FA3} needs the host backend's Hopper emulation (suite/emulator/tensormap.py, "
                                 "issue #29), which this checkout does not have") from None
    return encode_for(t, box, swizzle="128B", l2_promotion="128B")


def tensor_map(t: torch.Tensor, rows: int, backend) -> np.ndarray:
    """The 4-D map of `t` ([batch, heads, seq, head_dim]) with boxes of CHUNK columns x `rows` rows,
    as a kernel argument (CuPy passes a one-element array of 128-byte voids by value)."""
    box = (CHUNK, rows, 1, 1)
    raw = _encode_host(t, box) if backend.name == "host" else _encode_gpu(t, box)
    return np.frombuffer(raw, dtype=np.uint8).copy().view(np.dtype((np.void, MAP_BYTES)))


def launcher(q, k, v, out, mode: str, scale: float | None, backend,
             lse: torch.Tensor | None = None) -> Callable[[], None]:
    """Prepare one launch writing `out` (shapes already checked); returns a callable that launches
    it again with no allocation. `lse`: None, or a contiguous float32 [B, Hq, Sq] tensor for each
    row's base-2 log-sum-exp (as attention_launch.launcher)."""
    batch, heads_q, seq_q, head_dim = q.shape
    heads_kv, seq_k = k.shape[1], k.shape[2]
    if backend.name != "host" and not backend.arch.startswith("sm_90"):  # the host emulates sm_90a whatever its plan row
        raise BackendUnavailable(f"{FA3} is sm_90a code (wgmma, TMA); this GPU is {backend.arch}")
    cfg = tile(head_dim, mode != "none")
    check_output_stride(FA3, out)
    q, scale = positive_scale(q, 1.0 / math.sqrt(head_dim) if scale is None else float(scale))
    q, k, v = _tma_operand(q), _tma_operand(k), _tma_operand(v)
    if lse is None:
        lse = torch.empty(0, dtype=torch.float32, device=q.device)  # a null pointer: the kernel skips the write
    elif lse.dtype != torch.float32 or not lse.is_contiguous() or tuple(lse.shape) != (batch, heads_q, seq_q):
        raise InputError(f"{FA3}: lse must be a contiguous float32 tensor of shape {(batch, heads_q, seq_q)}")
    maps = (tensor_map(q, cfg.block_m, backend), tensor_map(k, cfg.block_n, backend),
            tensor_map(v, cfg.block_n, backend))
    dtype = str(q.dtype).removeprefix("torch.")
    # The host builds it for sm_90a whatever arch it emulates (limits and the GPU toolchain's verdict
    # follow the option); CuPy picks the arch from the GPU itself.
    options = (f"--gpu-architecture={ARCHS[0]}",) if backend.name == "host" else ()
    fn = backend.load_module(SOURCE, all_name_expressions(), options).get_function(name_expression(dtype, cfg))
    fn.max_dynamic_shared_size_bytes = shared_bytes(cfg)
    args = (*maps, out, lse, np.int32(heads_q), np.int32(heads_kv), np.int32(seq_q), np.int32(seq_k),
            np.int32(head_dim), *(np.int64(s) for s in out.stride()[:3]), np.float32(scale * math.log2(math.e)),
            np.int32(mode != "none"), np.int32(causal_offset(mode, seq_q, seq_k)))
    launch = fn.bind((-(-seq_q // cfg.block_m), heads_q, batch), (cfg.threads, 1, 1), args,
                     shared_mem=shared_bytes(cfg))

    def again(_operands=(q, k, v)):  # the maps point into these: copies made above must outlive the launches
        launch()

    return again
