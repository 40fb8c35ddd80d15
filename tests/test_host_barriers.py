"""Host backend: __syncthreads and per-block shared memory with blocks running in parallel."""

import numpy as np
import pytest
import torch

from suite.backends.host_backend import HostBackend
from suite.emulator.build import source_for_code
from suite.host import RawModule

CODE = r"""
// Each block fills a static shared array with its own values, waits, and reads a neighbour's slot:
// any sharing of the array between blocks running at the same time shows up as a wrong value.
extern "C" __global__ void isolation(const float* x, float* y, int rounds) {
    __shared__ float tile[128];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float acc = 0.0f;
    for (int r = 0; r < rounds; ++r) {
        tile[threadIdx.x] = x[i] + r;
        __syncthreads();
        acc += tile[(threadIdx.x + 1) % blockDim.x];
        __syncthreads();
    }
    y[i] = acc;
}

// Tiled reduction: each block sums TILE elements at a time into shared memory, tree-reduces.
template <int TILE>
__global__ void block_sum(const float* x, float* partial, int n) {
    __shared__ float s[TILE];
    float acc = 0.0f;
    for (int base = blockIdx.x * TILE; base < n; base += gridDim.x * TILE) {
        const int i = base + threadIdx.x;
        s[threadIdx.x] = i < n ? x[i] : 0.0f;
        __syncthreads();
        for (int stride = TILE / 2; stride > 0; stride /= 2) {
            if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
            __syncthreads();
        }
        if (threadIdx.x == 0) acc += s[0];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

extern "C" __global__ void barrier_votes(const int* p, int* out) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[3 * i] = __syncthreads_count(p[i]);
    out[3 * i + 1] = __syncthreads_and(p[i]);
    out[3 * i + 2] = __syncthreads_or(p[i]);
}
"""


@pytest.fixture(scope="module")
def module():
    return RawModule(code=CODE, name_expressions=["isolation", "block_sum<128>", "block_sum<256>", "barrier_votes"])


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_shared_memory_is_private_to_each_block(threads):
    kernel = HostBackend(threads=threads).load_module(source_for_code(CODE), ["isolation"]).get_function("isolation")
    x = torch.randn(128 * 24)
    y = torch.zeros_like(x)
    kernel((24,), (128,), (x, y, np.int32(5)))
    neighbour = x.view(24, 128).roll(-1, 1).reshape(-1)
    torch.testing.assert_close(y, 5 * neighbour + 10, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("tile,n,blocks", [(128, 5000, 7), (256, 256, 1), (256, 70001, 13)])
def test_tiled_reduction_with_syncthreads(module, tile, n, blocks):
    x = torch.from_numpy(np.random.default_rng(n).standard_normal(n).astype(np.float32))
    partial = torch.full((blocks,), float("nan"))
    module.get_function(f"block_sum<{tile}>")((blocks,), (tile,), (x, partial, np.int32(n)))
    expect = x.double().view(-1)
    chunks = [expect[b * tile : (b + 1) * tile].sum() for b in range((n + tile - 1) // tile)]
    per_block = [sum(chunks[b::blocks]) for b in range(blocks)]
    torch.testing.assert_close(partial.double(), torch.tensor(per_block, dtype=torch.float64), rtol=1e-5, atol=1e-4)


def test_syncthreads_count_and_or(module):
    rng = np.random.default_rng(11)
    p = (rng.random(3 * 96) < 0.5).astype(np.int32)
    p[96:192] = 1
    p[192:] = 0
    out = np.zeros((3 * 96, 3), np.int32)
    module.get_function("barrier_votes")((3,), (96,), (p, out))
    for b in range(3):
        block = p[96 * b : 96 * (b + 1)]
        assert (out[96 * b : 96 * (b + 1)] == [block.sum(), int(block.all()), int(block.any())]).all()


def test_ucontext_fibers_give_the_same_results(monkeypatch):
    monkeypatch.setenv("SUITE_HOST_FIBERS", "ucontext")
    backend = HostBackend(threads=2)
    assert backend.describe()["fibers"] == "ucontext"
    kernel = backend.load_module(source_for_code(CODE), ["block_sum<128>"]).get_function("block_sum<128>")
    x = torch.from_numpy(np.random.default_rng(12).standard_normal(3000).astype(np.float32))
    partial = torch.zeros(3)
    kernel((3,), (128,), (x, partial, np.int32(3000)))
    torch.testing.assert_close(partial.sum().double(), x.double().sum(), rtol=1e-5, atol=1e-4)


def test_concurrent_launches_from_python_threads(module):
    from concurrent.futures import ThreadPoolExecutor

    kernel = module.get_function("isolation")

    def launch(seed):
        blocks = 1 + seed % 5
        x = torch.from_numpy(np.random.default_rng(seed).standard_normal(128 * blocks).astype(np.float32))
        y = torch.zeros_like(x)
        kernel((blocks,), (128,), (x, y, np.int32(2)))
        return torch.allclose(y, 2 * x.view(blocks, 128).roll(-1, 1).reshape(-1) + 1, rtol=1e-6, atol=1e-5)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(launch, range(40)))
