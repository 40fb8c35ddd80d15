"""Hopper through inline PTX on the host backend: a warpgroup loads two fp16 tiles with 128B-swizzled
TMA boxes on an mbarrier and multiplies them with wgmma reading the tiles as TMA laid them out
(tests/kernels/hopper_ptx.cu: mbarrier init/arrive.expect_tx/try_wait.parity, elect.sync,
setmaxnreg, prefetch.tensormap, cp.async.bulk.tensor, wgmma fence/mma_async/commit/wait, fences)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from suite.emulator import tensormap
from suite.errors import KernelCompileError
from suite.host import RawModule

SOURCE = Path(__file__).parent / "kernels" / "hopper_ptx.cu"
N = 64


@pytest.fixture(scope="module")
def module():
    return RawModule(path=SOURCE)


def _launch(module, a, b, mode=0):
    maps = [tensormap.kernel_argument(tensormap.encode_for(t, (64, t.shape[0]), swizzle="128B")) for t in (a, b)]
    out = torch.full((128, N // 2), -1.0)
    module.get_function("tma_wgmma")((1,), (128,), (*maps, out, np.int32(mode)), shared_mem=(64 + N) * 64 * 2)
    d = np.full((64, N), np.nan)
    for tid in range(128):
        w, g, t = tid // 32, tid % 32 // 4, tid % 4
        for i in range(N // 2):
            d[16 * w + g + 8 * ((i >> 1) & 1), 8 * (i >> 2) + 2 * t + (i & 1)] = out[tid, i]
    return d


def test_tma_tiles_feed_wgmma_through_inline_ptx(module):
    rng = np.random.default_rng(29)
    a = torch.from_numpy(rng.standard_normal((64, 64)).astype(np.float16))
    b = torch.from_numpy(rng.standard_normal((N, 64)).astype(np.float16))  # [n, k]: K-major B
    d = _launch(module, a, b)
    np.testing.assert_allclose(d, a.double().numpy() @ b.double().numpy().T, rtol=1e-5, atol=1e-5)


def test_reading_tiles_before_the_mbarrier_wait_gives_no_right_answer(module):
    """Without the wait no copy lands: warps that run before the producer read what the shared memory
    held (extern __shared__ is not cleared between blocks), the others the copies' NaN poison."""
    a = torch.ones(64, 64, dtype=torch.float16)
    b = torch.ones(N, 64, dtype=torch.float16)
    d = _launch(module, a, b, mode=1)
    assert not np.isclose(d, 64.0).any() and np.isnan(d).any()


def test_an_unemulated_hopper_form_fails_the_build_naming_it():
    code = r"""
    extern "C" __global__ void k(unsigned bar) {
        asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster"
                     " [%0], [%1, {%0, %0}], [%0], %2;" :: "r"(bar), "l"(0ull), "h"((unsigned short)3));
    }
    """
    with pytest.raises(KernelCompileError, match="multicast to a cluster is not emulated"):
        RawModule(code=code).get_function("k")
