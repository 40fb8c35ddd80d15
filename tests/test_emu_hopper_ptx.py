"""Hopper through inline PTX on the host backend: a warpgroup loads two fp16 tiles with 128B-swizzled
TMA boxes on an mbarrier and multiplies them with wgmma reading the tiles as TMA laid them out
(tests/kernels/hopper_ptx.cu: mbarrier init/arrive.expect_tx/try_wait.parity, elect.sync,
setmaxnreg, prefetch.tensormap, cp.async.bulk.tensor, wgmma fence/mma_async/commit/wait, fences)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from suite.emulator import tensormap
from suite.errors import KernelCompileError, KernelFault
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


def test_the_tma_fed_wgmma_passes_every_check():
    """Under memcheck, racecheck, initcheck and synccheck (NVRTC first compiles it for sm_90a)."""
    checked = RawModule(path=SOURCE, checks=("memcheck", "racecheck", "initcheck", "synccheck"),
                        options=("--gpu-architecture=sm_90a",))
    rng = np.random.default_rng(30)
    a = torch.from_numpy(rng.standard_normal((64, 64)).astype(np.float16))
    b = torch.from_numpy(rng.standard_normal((N, 64)).astype(np.float16))
    d = _launch(checked, a, b)
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


CP_ASYNC_ARRIVE = r"""
extern "C" __global__ void k(const float* x, float* y) {
    __shared__ __align__(16) float tile[128];
    __shared__ __align__(8) unsigned long long bar;
    const unsigned b = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
    if (threadIdx.x == 0) asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(b), "r"(32));
    __syncthreads();
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(&tile[4 * threadIdx.x]));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(dst), "l"(x + 4 * threadIdx.x));
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" :: "r"(b));
    unsigned done = 0;
    while (!done) asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\nselp.u32 %0, 1, 0, p;\n}" : "=r"(done) : "r"(b));
    for (int i = 0; i < 4; ++i) y[4 * threadIdx.x + i] = tile[127 - 4 * threadIdx.x - i];
}
"""


def test_cp_async_mbarrier_arrive_signals_when_the_threads_copies_land():
    """FA3's non-TMA producer path: each thread's cp.async copies, then an arrive (.noinc) that the
    barrier's count includes; the tile is read reversed after the wait."""
    x = torch.from_numpy(np.random.default_rng(7).standard_normal(128).astype(np.float32))
    y = torch.zeros(128)
    RawModule(code=CP_ASYNC_ARRIVE).get_function("k")((1,), (32,), (x, y))
    assert torch.equal(y, x.flip(0))


GLOBAL_MAP = r"""
extern "C" __global__ void k(const unsigned char* map, float* out) {
    extern __shared__ __align__(128) float tile[];
    __shared__ __align__(8) unsigned long long bar;
    const unsigned b = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(tile));
    if (threadIdx.x == 0) {
        asm volatile("fence.proxy.tensormap::generic.acquire.gpu [%0], 128;" :: "l"(map) : "memory");
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(b));
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], 512;" :: "r"(b));
        asm volatile("cp.async.bulk.tensor.1d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2}], [%3];"
                     :: "r"(dst), "l"(map), "r"(-32), "r"(b) : "memory");
    }
    __syncthreads();
    unsigned done = 0;
    while (!done) asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\nselp.u32 %0, 1, 0, p;\n}" : "=r"(done) : "r"(b));
    for (int i = threadIdx.x; i < 128; i += blockDim.x) out[i] = tile[i];
}
"""


def test_a_tensor_map_in_global_memory_after_the_tensormap_fence():
    """Method 3 of the programming guide: the map's bytes in a global buffer, the kernel's acquire
    fence, then a 1-D box that starts 32 elements before the tensor (zero-filled there)."""
    x = torch.from_numpy(np.random.default_rng(3).standard_normal(100).astype(np.float32))
    raw = tensormap.encode_tiled("float32", 1, x.data_ptr(), [100], [], [128], [1])
    buffer = torch.empty(256, dtype=torch.uint8)
    offset = -buffer.data_ptr() % 64  # the map must be 64-byte aligned
    buffer[offset:offset + 128] = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    out = torch.full((128,), -1.0)
    RawModule(code=GLOBAL_MAP).get_function("k")((1,), (32,), (buffer[offset:offset + 128], out),
                                                  shared_mem=512)
    assert torch.equal(out, torch.cat([torch.zeros(32), x[:96]]))


def test_setmaxnreg_outside_its_range_fails_the_launch_naming_the_line():
    code = r"""
    extern "C" __global__ void k(int* out) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 20;\n" ::: "memory");
        out[threadIdx.x] = 1;
    }
    """
    with pytest.raises(KernelFault, match=r"setmaxnreg.dec \(.*:3\): 20 registers; the count must be a multiple of 8 in "
                                          r"24..256"):
        RawModule(code=code).get_function("k")((1,), (128,), (torch.zeros(128, dtype=torch.int32),))
