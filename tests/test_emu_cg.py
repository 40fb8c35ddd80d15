"""Cooperative groups on the host backend (include/api/cooperative_groups.h and its reduce.h,
scan.h, memcpy_async.h) against NumPy models of the CUDA Programming Guide's definitions."""

import re

import numpy as np
import pytest
import torch

from suite.errors import KernelFault
from suite.host import RawModule

CODE = r"""
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cooperative_groups/scan.h>
#include <cooperative_groups/memcpy_async.h>
namespace cg = cooperative_groups;

// Per thread: rank, size, group index, thread index, block dims; then the block reversed through
// shared memory across block.sync().
extern "C" __global__ void block_members(const int* x, int* out) {
    __shared__ int buf[1024];
    cg::thread_block block = cg::this_thread_block();
    const unsigned r = block.thread_rank();
    buf[r] = x[blockIdx.x * block.size() + r];
    block.sync();
    int* o = out + 8 * (blockIdx.x * block.size() + r);
    o[0] = r; o[1] = block.size(); o[2] = block.group_index().x; o[3] = block.thread_index().y;
    o[4] = block.dim_threads().x; o[5] = block.group_dim().y; o[6] = buf[block.size() - 1 - r];
    o[7] = cg::this_grid().thread_rank();
}

// Per thread, 13 results of the tile's members and collectives.
template <unsigned N>
__global__ void tile_ops(const int* x, int* out) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<N> tile = cg::tiled_partition<N>(block);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int v = x[i];
    int* o = out + 13 * i;
    o[0] = tile.thread_rank();
    o[1] = tile.meta_group_rank();
    o[2] = tile.meta_group_size();
    o[3] = tile.shfl(v, 1);
    o[4] = tile.shfl_up(v, 1);
    o[5] = tile.shfl_down(v, 2);
    o[6] = tile.shfl_xor(v, 1);
    o[7] = int(tile.ballot(v > 0));
    o[8] = tile.any(v > 90) * 2 + tile.all(v > -90);
    o[9] = int(tile.match_any(v & 3));
    o[10] = cg::reduce(tile, v, cg::plus<int>());
    o[11] = cg::inclusive_scan(tile, v, cg::greater<int>());
    o[12] = cg::exclusive_scan(tile, v);
    tile.sync();
}
template __global__ void tile_ops<4>(const int*, int*);
template __global__ void tile_ops<8>(const int*, int*);
template __global__ void tile_ops<32>(const int*, int*);

// The dynamic form: a thread_group of n threads.
extern "C" __global__ void dynamic_tile(int n, int* out) {
    cg::thread_group g = cg::tiled_partition(cg::this_thread_block(), n);
    const int i = threadIdx.x;
    out[2 * i] = g.thread_rank();
    out[2 * i + 1] = g.size();
    g.sync();
}

// Only threads with x > 0 take part: their coalesced group's rank, size and sums.
extern "C" __global__ void coalesced(const float* x, float* out) {
    const int i = threadIdx.x;
    out[5 * i] = out[5 * i + 1] = out[5 * i + 2] = out[5 * i + 3] = out[5 * i + 4] = -1;
    if (x[i] > 0) {
        cg::coalesced_group g = cg::coalesced_threads();
        out[5 * i] = g.thread_rank();
        out[5 * i + 1] = g.size();
        out[5 * i + 2] = cg::reduce(g, x[i], cg::plus<float>());
        out[5 * i + 3] = cg::inclusive_scan(g, x[i]);
        out[5 * i + 4] = float(g.ballot(x[i] > 1.0f));
    }
}

// Float sums of a warp tile: the butterfly's rounding, not a sequential sum's.
extern "C" __global__ void tile_sum(const float* x, float* out) {
    auto tile = cg::tiled_partition<32>(cg::this_thread_block());
    out[threadIdx.x] = cg::reduce(tile, x[threadIdx.x], cg::plus<float>());
}

// A 16-byte struct through a tile's shfl_down (cooperative groups shuffle any trivially copyable type).
struct Quad { float a, b, c, d; };
extern "C" __global__ void tile_struct(const float4* x, float4* out) {
    auto tile = cg::tiled_partition<16>(cg::this_thread_block());
    const float4 v = x[threadIdx.x];
    const Quad q = tile.shfl_down(Quad{v.x, v.y, v.z, v.w}, 1);
    out[threadIdx.x] = make_float4(q.a, q.b, q.c, q.d);
}

// labeled_partition by x % 3, then binary_partition of that by x > 10: ranks and sizes.
extern "C" __global__ void partitions(const int* x, int* out) {
    const int i = threadIdx.x;
    auto warp = cg::tiled_partition<32>(cg::this_thread_block());
    cg::coalesced_group by_label = cg::labeled_partition(warp, x[i] % 3);
    cg::coalesced_group by_both = cg::binary_partition(by_label, x[i] > 10);
    out[4 * i] = by_label.thread_rank();
    out[4 * i + 1] = by_label.size();
    out[4 * i + 2] = by_both.thread_rank();
    out[4 * i + 3] = cg::reduce(by_both, x[i], cg::less<int>());
}

// The block copies n floats to shared memory together, and doubles them after the wait.
extern "C" __global__ void block_copy(const float* x, float* out, int n) {
    __shared__ float tile[256];
    cg::thread_block block = cg::this_thread_block();
    cg::memcpy_async(block, tile, x + blockIdx.x * n, sizeof(float) * n);
    cg::wait(block);
    for (int j = threadIdx.x; j < n; j += blockDim.x) out[blockIdx.x * n + j] = tile[j] * 2;
}

// Each thread copies its own element as a group of one, reading it before and after the wait.
extern "C" __global__ void own_copy(const float* x, float* before, float* after) {
    __shared__ float tile[256];
    auto me = cg::tiled_partition<1>(cg::this_thread_block());
    cg::memcpy_async(me, tile + threadIdx.x, x + threadIdx.x, sizeof(float));
    before[threadIdx.x] = tile[threadIdx.x];
    cg::wait(me);
    after[threadIdx.x] = tile[threadIdx.x];
}

// Lane 3 leaves before the tile's sync: the others wait for a thread that never comes.
extern "C" __global__ void tile_sync_exit(int* out) {
    auto tile = cg::tiled_partition<8>(cg::this_thread_block());
    if (threadIdx.x == 3) return;
    tile.sync();
    out[threadIdx.x] = 1;
}

extern "C" __global__ void grid_sum(const int* x, int* partial, int* out) {
    cg::grid_group grid = cg::this_grid();
    partial[blockIdx.x] = x[blockIdx.x];
    grid.sync();
    if (grid.thread_rank() == 0) { int s = 0; for (unsigned b = 0; b < grid.num_blocks(); ++b) s += partial[b]; *out = s; }
}
"""

_module = None


def module():
    global _module
    if _module is None:
        names = ["block_members", "tile_ops<4>", "tile_ops<8>", "tile_ops<32>", "dynamic_tile", "coalesced",
                 "tile_sum", "tile_struct", "partitions", "block_copy", "own_copy", "tile_sync_exit"]
        _module = RawModule(code=CODE, name_expressions=names)
    return _module


def test_thread_block_members_and_sync():
    x = torch.randint(-1000, 1000, (2 * 96,), dtype=torch.int32)
    out = torch.zeros(2 * 96 * 8, dtype=torch.int32)
    module().get_function("block_members")((2,), (32, 3), (x, out))
    o = out.view(2, 96, 8).numpy()
    r = np.arange(96)
    assert (o[:, :, 0] == r).all() and (o[:, :, 1] == 96).all()
    assert (o[:, :, 2] == np.array([[0], [1]])).all() and (o[:, :, 3] == r // 32).all()
    assert (o[:, :, 4] == 32).all() and (o[:, :, 5] == 3).all()
    assert (o[:, :, 6] == x.view(2, 96).numpy()[:, ::-1]).all()
    assert (o[:, :, 7] == np.arange(192).reshape(2, 96)).all()


def tile_model(v, n):
    """What each member of tiled_partition<n> returns, tile by tile (CUDA Programming Guide)."""
    out = np.zeros((len(v), 13), np.int64)
    block = 64
    for start in range(0, len(v), n):
        t = v[start:start + n]
        for r in range(n):
            i = start + r
            out[i, 0] = r
            out[i, 1] = (i % block) // n
            out[i, 2] = block // n
            out[i, 3] = t[1 % n]
            out[i, 4] = t[r - 1] if r >= 1 else t[r]
            out[i, 5] = t[r + 2] if r + 2 < n else t[r]
            out[i, 6] = t[r ^ 1] if (r ^ 1) < n else t[r]
            out[i, 7] = sum(1 << k for k in range(n) if t[k] > 0)
            out[i, 8] = 2 * any(t > 90) + all(t > -90)
            out[i, 9] = sum(1 << k for k in range(n) if (t[k] & 3) == (t[r] & 3))
            out[i, 10] = t.sum()
            out[i, 11] = t[: r + 1].max()
            out[i, 12] = t[:r].sum()
    return out


@pytest.mark.parametrize("n", [4, 8, 32])
def test_tile_members_and_collectives(n):
    x = torch.randint(-100, 100, (128,), dtype=torch.int32)
    out = torch.zeros(128 * 13, dtype=torch.int32)
    module().get_function(f"tile_ops<{n}>")((2,), (64,), (x, out))
    got = out.view(128, 13).numpy().astype(np.int64)
    got[:, 7] &= 0xFFFFFFFF
    got[:, 9] &= 0xFFFFFFFF
    want = tile_model(x.numpy().astype(np.int64), n)
    for col in range(13):
        assert (got[:, col] == want[:, col]).all(), f"column {col}"


@pytest.mark.parametrize("n", [1, 2, 16, 32])
def test_dynamic_tiled_partition(n):
    out = torch.zeros(2 * 48, dtype=torch.int32)
    module().get_function("dynamic_tile")((1,), (48,), (np.int32(n), out))
    o = out.view(48, 2).numpy()
    assert (o[:, 0] == np.arange(48) % n).all() and (o[:, 1] == n).all()


def test_dynamic_tiled_partition_refuses_a_size_it_cannot_emulate():
    with pytest.raises(KernelFault, match=r"not emulated: tiled_partition\(group, n\).*\.cu:\d+\)"):
        module().get_function("dynamic_tile")((1,), (64,), (np.int32(64), torch.zeros(2 * 64, dtype=torch.int32)))


def test_coalesced_group_under_a_partial_mask():
    x = torch.randn(64) * 2
    out = torch.zeros(64 * 5)
    module().get_function("coalesced")((1,), (64,), (x, out))
    o = out.view(64, 5).numpy()
    xs = x.numpy()
    for w in range(2):
        lanes = [l for l in range(32) if xs[32 * w + l] > 0]
        vals = np.array([xs[32 * w + l] for l in lanes], np.float32)
        ballot = sum(1 << k for k, v in enumerate(vals) if v > 1)
        for r, l in enumerate(lanes):
            row = o[32 * w + l]
            assert row[0] == r and row[1] == len(lanes)
            assert row[2] == pytest.approx(vals.sum(), rel=1e-5)
            assert row[3] == pytest.approx(vals[: r + 1].sum(), rel=1e-5)
            assert row[4] == np.float32(ballot)
        others = [l for l in range(32) if xs[32 * w + l] <= 0]
        assert (o[[32 * w + l for l in others]] == -1).all()


def test_tile_reduce_rounds_as_the_gpu_butterfly():
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(32) * 10.0 ** rng.integers(-4, 5, 32)).astype(np.float32)
    out = torch.zeros(32)
    module().get_function("tile_sum")((1,), (32,), (torch.from_numpy(x), out))
    v = x.copy()
    m = 16
    while m:
        v = (v + v[np.arange(32) ^ m]).astype(np.float32)
        m //= 2
    assert np.array_equal(out.numpy(), v)  # every lane, bit for bit


def test_tile_shuffles_a_struct():
    x = torch.randn(32, 4)
    out = torch.zeros_like(x)
    module().get_function("tile_struct")((1,), (32,), (x, out))
    src = [i + 1 if (i % 16) + 1 < 16 else i for i in range(32)]
    assert torch.equal(out, x[src])


def test_labeled_and_binary_partitions():
    x = torch.randint(0, 20, (32,), dtype=torch.int32)
    out = torch.zeros(4 * 32, dtype=torch.int32)
    module().get_function("partitions")((1,), (32,), (x, out))
    o = out.view(32, 4).numpy()
    xs = x.numpy()
    for i in range(32):
        same = [j for j in range(32) if xs[j] % 3 == xs[i] % 3]
        both = [j for j in same if (xs[j] > 10) == (xs[i] > 10)]
        assert o[i, 0] == same.index(i) and o[i, 1] == len(same)
        assert o[i, 2] == both.index(i) and o[i, 3] == xs[both].min()


def test_memcpy_async_then_wait():
    x = torch.randn(3 * 200)
    out = torch.zeros(3 * 200)
    module().get_function("block_copy")((3,), (64,), (x, out, np.int32(200)))
    assert torch.equal(out, x * 2)


def test_memcpy_async_destination_is_not_ready_before_the_wait():
    x = torch.randn(64)
    before, after = torch.zeros(64), torch.zeros(64)
    module().get_function("own_copy")((1,), (64,), (x, before, after))
    assert torch.isnan(before).all() and torch.equal(after, x)


def test_tile_sync_with_an_exited_lane_is_a_fault_naming_the_call():
    with pytest.raises(KernelFault) as info:
        module().get_function("tile_sync_exit")((1,), (32,), (torch.zeros(32, dtype=torch.int32),))
    line = next(i for i, text in enumerate(CODE.splitlines(), 1) if "    tile.sync();\n" in text + "\n"
                and "out[threadIdx.x] = 1" in CODE.splitlines()[i])
    assert re.search(rf"lane 3 exited while lane 0 waits at __syncwarp \(\S+\.cu:{line}\)", str(info.value))


def test_grid_sync_under_a_cooperative_launch():
    kernel = RawModule(code=CODE, name_expressions=["grid_sum"]).get_function("grid_sum")
    x = torch.randint(0, 100, (4,), dtype=torch.int32)
    out = torch.zeros(1, dtype=torch.int32)
    kernel((4,), (32,), (x, torch.zeros(4, dtype=torch.int32), out), enable_cooperative_groups=True)
    assert out.item() == x.sum().item()
    with pytest.raises(KernelFault, match=r"grid"):  # not cooperative: this_grid().sync() is a fault
        kernel((4,), (32,), (x, torch.zeros(4, dtype=torch.int32), out))


def test_group_collectives_are_clean_under_the_checks():
    checked = RawModule(code=CODE, name_expressions=["tile_ops<8>", "block_copy"],
                        checks=("memcheck", "racecheck", "synccheck"))
    x = torch.randint(-100, 100, (128,), dtype=torch.int32)
    out = torch.zeros(128 * 13, dtype=torch.int32)
    checked.get_function("tile_ops<8>")((2,), (64,), (x, out))
    assert (out.view(128, 13).numpy() == tile_model(x.numpy().astype(np.int64), 8)).all()
    y, doubled = torch.randn(200), torch.zeros(200)
    checked.get_function("block_copy")((1,), (64,), (y, doubled, np.int32(200)))
    assert torch.equal(doubled, y * 2)


SCRATCH = r"""
#include <cooperative_groups.h>
namespace cg = cooperative_groups;
// CUDA 11+'s form for blocks that partition into tiles of more than 32 threads: the block handle
// made from a __shared__ block_tile_memory (cuda-samples' reduction kernels use it).
extern "C" __global__ void reverse_with_scratch(const int* x, int* out) {
    __shared__ cg::block_tile_memory<256> scratch;
    __shared__ int buf[256];
    cg::thread_block block = cg::this_thread_block(scratch);
    buf[block.thread_rank()] = x[blockIdx.x * block.size() + block.thread_rank()];
    block.sync();
    out[blockIdx.x * block.size() + block.thread_rank()] = buf[block.size() - 1 - block.thread_rank()];
}
"""


def test_a_block_made_from_block_tile_memory_is_the_block():
    x = torch.randint(-1000, 1000, (2 * 256,), dtype=torch.int32)
    out = torch.zeros_like(x)
    RawModule(code=SCRATCH).get_function("reverse_with_scratch")((2,), (256,), (x, out))
    assert torch.equal(out, x.view(2, 256).flip(1).reshape(-1))
