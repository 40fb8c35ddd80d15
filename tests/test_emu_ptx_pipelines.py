"""Kernels in the styles public hand-written ones use, with inline PTX, on the host backend: a
tensor-core GEMM (cp.async -> ldmatrix -> mma.sync behind HMMA16816/CP_ASYNC_CG macros) and a
flash-attention forward (mma.sync m16n8k16, ldmatrix .trans, shfl.sync, ex2.approx, cvt.rn.f16x2),
against torch in float64, plain and under the checks (tests/kernels/ptx_gemm.cu, ptx_flash_attn.cu)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from suite.backends.host_backend import HostBackend
from suite.errors import KernelFault

KERNELS = Path(__file__).parent / "kernels"
CHECKED = frozenset({"memcheck", "racecheck", "initcheck", "synccheck"})


def _gemm(checks, M, N, K, seed, options=()):
    module = HostBackend(checks=checks, threads=2).load_module(KERNELS / "ptx_gemm.cu", ["ptx_gemm"], options=options)
    fn = module.get_function("ptx_gemm")
    g = torch.Generator().manual_seed(seed)
    A, B = torch.randn(M, K, generator=g).half(), torch.randn(N, K, generator=g).half()
    C = torch.full((M, N), float("nan"))
    fn((N // 64, M // 64), (128,), (A, B, C, np.int32(M), np.int32(N), np.int32(K)), shared_mem=2 * 2 * 64 * 40 * 2)
    return C, A.double() @ B.double().t()


@pytest.mark.parametrize("M, N, K", [(64, 64, 32), (128, 192, 96)])
def test_cp_async_ldmatrix_mma_gemm_matches_torch(M, N, K):
    C, ref = _gemm(frozenset(), M, N, K, seed=M + N + K)
    # fp16 inputs, exact products, fp32 accumulation: only the accumulator's rounding differs.
    torch.testing.assert_close(C.double(), ref, rtol=1e-5, atol=1e-4)


def test_gemm_runs_clean_under_every_check():
    C, ref = _gemm(CHECKED, 64, 64, 64, seed=1)
    torch.testing.assert_close(C.double(), ref, rtol=1e-5, atol=1e-4)


def test_racecheck_sees_cp_async_overwriting_a_tile_that_ldmatrix_still_reads():
    # Without the barrier after the k-step, a fast warp's prefetch (cp.async) of step s + 2 overwrites
    # the stage other warps still read with ldmatrix.
    with pytest.raises(KernelFault, match=r"racecheck: .*hazard on __shared__ memory"):
        _gemm(frozenset({"racecheck"}), 64, 64, 128, seed=2, options=("-DGEMM_RACY",))


def _attention(checks, BH, S, seed):
    module = HostBackend(checks=checks, threads=2).load_module(KERNELS / "ptx_flash_attn.cu", ["ptx_flash_attn"])
    g = torch.Generator().manual_seed(seed)
    Q, K, V = [torch.randn(BH, S, 64, generator=g).half() for _ in range(3)]
    O = torch.full((BH, S, 64), float("nan"))
    scale = 64**-0.5
    module.get_function("ptx_flash_attn")(((S + 63) // 64, BH), (128,), (Q, K, V, O, np.int32(S), np.float32(scale)),
                                                  shared_mem=(64 + 2 * 64) * 72 * 2)
    ref = torch.softmax(Q.double() @ K.double().transpose(1, 2) * scale, -1) @ V.double()
    return O, ref


@pytest.mark.parametrize("BH, S", [(1, 64), (3, 100), (2, 150)])
def test_flash_attention_forward_matches_torch(BH, S):
    O, ref = _attention(frozenset(), BH, S, seed=S)
    # P is rounded to fp16 before P V, as on a GPU: errors of a few fp16 ulps of the weights.
    torch.testing.assert_close(O.double(), ref, rtol=2e-3, atol=2e-3)


def test_flash_attention_runs_clean_under_every_check():
    O, ref = _attention(CHECKED, 1, 70, seed=3)
    torch.testing.assert_close(O.double(), ref, rtol=2e-3, atol=2e-3)
