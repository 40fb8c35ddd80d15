"""Host emulation of the tensor-core and cp.async wrappers (kernels_cu/common/tensor_core.cuh,
cp_async.cuh), through small kernels in tests/kernels/host_wrappers.cu, against plain matrix
products and copies on random data. The GPU runs of the same kernels are the proof of the layouts."""

from pathlib import Path

import numpy as np
import pytest
import torch

from suite.backends import get_backend

SOURCE = Path(__file__).parent / "kernels" / "host_wrappers.cu"
LDMATRIX = [f"ldmatrix_probe<{n}, {t}>" for n in (1, 2, 4) for t in ("false", "true")]
MMA = [f"mma_gemm<{t}, {mode}>" for t in ("__half", "__nv_bfloat16") for mode in (0, 1, 2)]
CP_ASYNC = ["cp_async_groups<4, 0>", "cp_async_groups<4, 2>", "cp_async_all"]


@pytest.fixture(scope="module")
def module():
    return get_backend("host").load_module(SOURCE, LDMATRIX + MMA + CP_ASYNC)


@pytest.mark.parametrize("num", [1, 2, 4])
@pytest.mark.parametrize("trans", [False, True])
def test_ldmatrix_matches_the_ptx_definition(module, num, trans):
    rng = np.random.default_rng(num + 10 * trans)
    blocks = 3
    src = rng.integers(0, 2**16, (blocks, 32, 8), dtype=np.uint16)
    perm = np.stack([rng.permutation(32) for _ in range(blocks)]).astype(np.int32)
    out = np.zeros((blocks, 32, 4), np.uint32)
    module.get_function(f"ldmatrix_probe<{num}, {str(trans).lower()}>")((blocks,), (32,), (src, perm, out))
    for blk in range(blocks):
        for lane in range(32):
            g, t = lane // 4, lane % 4
            for j in range(4):
                if j >= num:
                    assert out[blk, lane, j] == 0
                    continue
                matrix = src[blk][perm[blk, 8 * j : 8 * j + 8]]  # row r comes from lane 8j + r
                lo, hi = (matrix[2 * t, g], matrix[2 * t + 1, g]) if trans else (matrix[g, 2 * t], matrix[g, 2 * t + 1])
                assert out[blk, lane, j] == int(lo) | int(hi) << 16, (blk, lane, j)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_mma_with_ldmatrix_fragments_is_a_matrix_product(module, dtype, mode):
    g = torch.Generator().manual_seed(mode)
    K, N = 48, 64  # three k-steps, four warps of two n-tiles each
    A = torch.randn(16, K, generator=g).to(dtype)
    B = torch.randn(K, N, generator=g).to(dtype)
    C = torch.randn(16, N, generator=g)
    D = torch.full((16, N), float("nan"))
    name = f"mma_gemm<{'__half' if dtype == torch.float16 else '__nv_bfloat16'}, {mode}>"
    module.get_function(name)((N // 16,), (32,), (A, B, B.t().contiguous(), C, D, np.int32(K), np.int32(N)))
    expect = A.double() @ B.double() + C.double()
    torch.testing.assert_close(D.double(), expect, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("pending", [0, 2])
def test_cp_async_groups_zero_fill_and_wait(module, pending):
    rng = np.random.default_rng(pending)
    blocks, threads, groups = 3, 64, 4
    src = rng.standard_normal((blocks, groups, threads, 4)).astype(np.float32)
    valid = (rng.random((blocks, groups, threads)) < 0.8).astype(np.int32)
    out = np.zeros_like(src)
    module.get_function(f"cp_async_groups<4, {pending}>")(
        (blocks,), (threads,), (src, valid, out), shared_mem=groups * threads * 16
    )
    expect = np.where(valid[..., None] == 1, src, 0.0)
    done = groups - pending
    np.testing.assert_array_equal(out[:, :done], expect[:, :done])
    # The newest groups are still in flight: their destination reads as poison, never as data.
    assert np.isnan(out[:, done:]).all()


def test_cp_async_wait_all(module):
    src = np.random.default_rng(5).standard_normal((2 * 32, 4)).astype(np.float32)
    out = np.zeros_like(src)
    module.get_function("cp_async_all")((2,), (32,), (src, out), shared_mem=32 * 16)
    np.testing.assert_array_equal(out, src)
