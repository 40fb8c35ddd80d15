"""The lane-loop rewrite of kernels with barriers (suite/emulator/lanes): which kernels it rewrites,
why it refuses the others, and, end to end, that a rewritten kernel computes bit for bit what the
fiber mode computes on random data. Until the build passes lane functions to the launcher, a
driver kernel (one thread) runs every block of the grid through the launcher's lane entry with it."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from suite.backends.host_backend import HostBackend
from suite.emulator import build
from suite.emulator.lanes import fission, lane_expression
from suite.errors import KernelFault

# Runs every block of a 2D grid through the launcher's lane entry (launch.h run_lanes) with the
# kernel's lane function, from one fiber whose stack header it puts back afterwards.
DRIVER_HELPER = r"""
namespace suite_test {
template <auto Kernel, auto Lanes, typename... Args, typename... A>
void drive(void (*)(Args...), unsigned gx, unsigned gy, unsigned bx, unsigned by, A... args) {
    suite_host_stack_header* header = ::suite_host::lanes::stack_header();
    const suite_host_stack_header saved = *header;
    suite_host_thread block = *saved.thread;
    const unsigned grid[3] = {gx, gy, 1}, dims[3] = {bx, by, 1};
    for (int d = 0; d < 3; ++d) block.grid_dim[d] = grid[d], block.block_dim[d] = dims[d], block.block_idx[d] = 0;
    ::suite_host::Call<Args...> call{Kernel, {args...}};
    for (unsigned y = 0; y < gy; ++y)
        for (unsigned x = 0; x < gx; ++x) {
            block.block_idx[0] = x;
            block.block_idx[1] = y;
            ::suite_host::run_lanes<Kernel, Lanes>(&call, &block);
        }
    *header = saved;
}
}  // namespace suite_test
"""


def driver(name: str, kernel: str, lanes: str, params: str) -> str:
    arguments = ", ".join(re.findall(r"(\w+)\s*(?:,|$)", params))
    return (f'extern "C" __global__ void {name}(unsigned gx, unsigned gy, unsigned bx, unsigned by, {params}) '
            f"{{ suite_test::drive<&{kernel}, &{lanes}>(&{kernel}, gx, gy, bx, by, {arguments}); }}\n")  # fmt: skip


def run_both(code: str, kernel: str, lanes: str, params: str, grid, block, make_args, shared_mem: int = 0,
             options=(), fibers: bool = True):
    """Runs `kernel` in fiber mode and its lane function through the driver on the same inputs (host
    build only: the generated code is for g++, not NVRTC);
    returns both argument lists (their tensors hold the outputs)."""
    result = fission(code, "kernels.cu")
    unqualified = re.sub(r"<.*", "", kernel).split("::")[-1]
    assert unqualified in result.lane_functions, result.refused
    source = code + result.code + DRIVER_HELPER + driver("drive_lanes", kernel, lanes, params)
    module = HostBackend(threads=1).load_module(build.source_for_code(source), [kernel, "drive_lanes"], options=options,
                                                toolchain="none")
    # both on fibers: the reference because it waits, the driver because it starts lane mode itself
    assert module.get_function(kernel).lanes_why and module.get_function("drive_lanes").lanes_why
    fiber_args, lane_args = make_args(), make_args()
    if fibers:
        module.get_function(kernel)(grid, block, fiber_args, shared_mem=shared_mem)
    grid3, block3 = (*grid, 1, 1)[:2], (*block, 1, 1)[:2]
    dims = [np.uint32(v) for v in (*grid3, *block3)]
    module.get_function("drive_lanes")((1,), (1,), [*dims, *lane_args], shared_mem=shared_mem)
    return fiber_args, lane_args


def assert_same_bits(fiber_args, lane_args):
    compared = 0
    for a, b in zip(fiber_args, lane_args):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a.view(torch.int32) if a.dtype == torch.float32 else a,
                               b.view(torch.int32) if b.dtype == torch.float32 else b)  # fmt: skip
            compared += 1
    assert compared


def random(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


BLOCK_REDUCTION = r"""
extern "C" __global__ void block_reduction(const float* x, float* sums) {
    __shared__ float s[256];
    const int t = threadIdx.x;
    s[t] = x[blockIdx.x * 256 + t];
    __syncthreads();
    for (int stride = 128; stride > 0; stride /= 2) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0) sums[blockIdx.x] = s[0];
}
"""


def test_block_reduction_matches_fibers_bit_for_bit():
    x = random(8 * 256)
    fiber, lanes = run_both(BLOCK_REDUCTION, "block_reduction", "__suite_lanes_block_reduction",
                            "const float* x, float* sums", (8,), (256,), lambda: [x, torch.zeros(8)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.allclose(fiber[1], x.view(8, 256).sum(1), rtol=1e-5, atol=1e-4)


def test_block_reduction_keeps_uniform_loop_and_shared_array_plain():
    code = fission(BLOCK_REDUCTION, "kernels.cu").code
    assert "for (int stride = 128; stride > 0; stride /= 2) {" in code  # once per block, not per lane
    assert "__shared__ float s[256];" in code and "lane_array<int>" in code  # t lives across barriers
    assert code.count("SUITE_LANES_FOR(") == 3
    # t lives in a lane array between regions, in a local of its own name within each: the
    # statements read as written, on their own lines
    assert '#line 5 "kernels.cu"\ns[t] = x[blockIdx.x * 256 + t];' in code
    assert code.count("int t = __suite_v3_t[__suite_lane];") == 2 and code.count("= t;") == 1


MATMUL = r"""
#define TILE 16
#define TILES (gridDim.x * sizeof(float) / 4)
constexpr int div_up(int a, int b) { return (a + b - 1) / b; }
extern "C" __global__ void matmul(const float* a, const float* b, float* c, int n) {
    __shared__ float ta[TILE][TILE];
    __shared__ float tb[TILE][TILE];
    const int row = blockIdx.y * TILE + threadIdx.y;
    const int col = blockIdx.x * TILE + threadIdx.x;
    float acc = 0.0f;
    for (int k0 = 0; k0 < min(int(TILES) * TILE, div_up(n, TILE) * TILE); k0 += TILE) {
        ta[threadIdx.y][threadIdx.x] = row < n && k0 + threadIdx.x < n ? a[row * n + k0 + threadIdx.x] : 0.0f;
        tb[threadIdx.y][threadIdx.x] = col < n && k0 + threadIdx.y < n ? b[(k0 + threadIdx.y) * n + col] : 0.0f;
        __syncthreads();
#pragma unroll 4
        for (int k = 0; k < TILE; ++k) acc += ta[threadIdx.y][k] * tb[k][threadIdx.x];
        __syncthreads();
    }
    if (row < n && col < n) c[row * n + col] = acc;
}
"""


def test_tiled_matmul_2d_blocks_matches_fibers_bit_for_bit():
    n = 40  # not a multiple of the tile: edge tiles read zeros
    a, b = random(n, n, seed=1), random(n, n, seed=2)
    fiber, lanes = run_both(MATMUL, "matmul", "__suite_lanes_matmul", "const float* a, const float* b, float* c, int n",
                            (3, 3), (16, 16), lambda: [a, b, torch.zeros(n, n), np.int32(n)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.allclose(fiber[2], a @ b, rtol=1e-4, atol=1e-4)


EARLY_RETURN = r"""
extern "C" __global__ void shifted_sum(const float* x, float* y, int n) {
    __shared__ float s[128];
    const int t = threadIdx.x;
    const int i = blockIdx.x * blockDim.x + t;
    if (i >= n) return;  // exited threads count as arrived at the barrier below
    s[t] = x[i] * 2.0f;
    __syncthreads();
    y[i] = s[t] + (t > 0 ? s[t - 1] : 0.0f);
}
"""


def test_early_return_before_a_barrier_matches_fibers():
    n = 300
    x = random(n, seed=3)
    fiber, lanes = run_both(EARLY_RETURN, "shifted_sum", "__suite_lanes_shifted_sum", "const float* x, float* y, int n",
                            (3,), (128,), lambda: [x, torch.full((n + 84,), 7.0), np.int32(n)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.equal(fiber[1][n:], torch.full((84,), 7.0))  # lanes past n never wrote
    assert "SUITE_LANES_EXIT(" in fission(EARLY_RETURN, "k.cu").code


TEMPLATED = r"""
namespace ops {
template <typename T, int B>
__global__ void __launch_bounds__(B) scale_prefix(const T* __restrict__ x, T* __restrict__ y, T scale) {
    __shared__ T s[B];
    x += blockIdx.x * B;  // parameters written by the kernel: one copy per thread
    y += blockIdx.x * B;
    T v[2] = {x[threadIdx.x] * scale, T(1)};
    s[threadIdx.x] = v[0];
    for (int step = 1; step < B; step *= 2) {
        __syncthreads();
        T add = threadIdx.x >= step ? s[threadIdx.x - step] : T(0);
        __syncthreads();
        s[threadIdx.x] += add;
    }
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x] + v[1];
}
}  // namespace ops
"""


def test_templated_namespaced_kernel_matches_fibers():
    x = random(4 * 64, seed=4)
    fiber, lanes = run_both(TEMPLATED, "ops::scale_prefix<float, 64>", "ops::__suite_lanes_scale_prefix<float, 64>",
                            "const float* x, float* y, float scale", (4,), (64,),
                            lambda: [x, torch.zeros(4 * 64), np.float32(0.5)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.allclose(fiber[1], torch.cumsum(x.view(4, 64) * 0.5, 1).flatten() + 1, atol=1e-4)
    code = fission(TEMPLATED, "k.cu").code
    assert "namespace ops {" in code and "template <typename T, int B>" in code


ANONYMOUS = r"""
namespace {
__global__ void blocks_of_two(const int* x, int* y) {
    __shared__ int s[64];
    int mine = x[blockIdx.x * 64 + threadIdx.x];
    s[threadIdx.x] = mine;
    __syncthreads();
    if (blockIdx.x % 2 == 0) {
        mine += s[63 - threadIdx.x];
        __syncthreads();
    } else {
        do {
            mine -= s[(threadIdx.x + 1) % 64];
            __syncthreads();
        } while (false);
    }
    y[blockIdx.x * 64 + threadIdx.x] = mine;
}
}  // namespace
"""


POINTERS = r"""
extern "C" __global__ void through_pointers(const float* x, float* y) {
    float here = x[threadIdx.x];
    float pair[2] = {here, -here};
    float* p = &here;
    const float* q = pair;
    __syncthreads();
    y[threadIdx.x] = *p + q[1] * 2.0f;
}
"""


def test_locals_reached_through_pointers_outlive_their_region():
    code = fission(POINTERS, "k.cu").code
    assert "lane_array<float>" in code and "lane_array<float[2]>" in code  # here and pair, not only p and q
    fiber, lanes = run_both(POINTERS, "through_pointers", "__suite_lanes_through_pointers", "const float* x, float* y",
                            (1,), (64,), lambda: [random(64, seed=7), torch.zeros(64)])  # fmt: skip
    assert_same_bits(fiber, lanes)


DYNAMIC = r"""
template <int B>
__global__ void reverse_blocks(const double* x, double* y) {
    extern __shared__ double dyn[];
    constexpr int LAST = B - 1;
    double mine[1] = {x[blockIdx.x * B + threadIdx.x]};
    dyn[threadIdx.x] = mine[0];
    __syncthreads();
    y[blockIdx.x * B + threadIdx.x] = dyn[LAST - threadIdx.x] - mine[0];
}
"""


def test_dynamic_shared_memory_and_constexpr_locals():
    x = random(3 * 32, seed=9).double()
    fiber, lanes = run_both(DYNAMIC, "reverse_blocks<32>", "__suite_lanes_reverse_blocks<32>", "const double* x, double* y",
                            (3,), (32,), lambda: [x, torch.zeros(3 * 32, dtype=torch.float64)], shared_mem=32 * 8)  # fmt: skip
    assert torch.equal(fiber[1], lanes[1])
    assert torch.equal(fiber[1], x.view(3, 32).flip(1).flatten() - x)


GROUPS = r"""
#include <cooperative_groups.h>
namespace cg = cooperative_groups;
extern "C" __global__ void transpose_tiles(const float* in, float* out, int width) {
    cg::thread_block cta = cg::this_thread_block();
    __shared__ float tile[16][17];
    const int x = blockIdx.x * 16 + threadIdx.x, y = blockIdx.y * 16 + threadIdx.y;
    tile[threadIdx.y][threadIdx.x] = in[y * width + x];
    cg::sync(cta);
    out[(blockIdx.x * 16 + threadIdx.y) * width + blockIdx.y * 16 + threadIdx.x] = tile[threadIdx.x][threadIdx.y];
    for (unsigned step = 1; step < cta.size(); step *= 2) {
        cta.sync();
        if (cta.thread_rank() == 0) out[0] += float(step);
    }
}
"""


def test_cooperative_groups_block_sync_is_a_barrier():
    width = 48
    x = random(width, width, seed=10)
    fiber, lanes = run_both(GROUPS, "transpose_tiles", "__suite_lanes_transpose_tiles",
                            "const float* in, float* out, int width", (3, 3), (16, 16),
                            lambda: [x, torch.zeros(width, width), np.int32(width)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.equal(fiber[1].flatten()[1:], x.t().flatten()[1:])
    code = fission(GROUPS, "k.cu").code
    assert "for (unsigned step = 1; step < cta.size(); step *= 2) {" in code  # once per block


def test_uniform_if_else_and_do_while_in_an_anonymous_namespace():
    x = torch.randint(-1000, 1000, (4 * 64,), dtype=torch.int32, generator=torch.Generator().manual_seed(5))
    fiber, lanes = run_both(ANONYMOUS, "blocks_of_two", "__suite_lanes_blocks_of_two", "const int* x, int* y",
                            (4,), (64,), lambda: [x, torch.zeros(4 * 64, dtype=torch.int32)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert "namespace  {" in fission(ANONYMOUS, "k.cu").code


WARP = r"""
#define FULL 0xffffffffu
extern "C" __global__ void warp_ops(const float* x, float* sums, float* scan, float* bcast, float* pairs) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
    float r = x[i];
    for (int mask = 1; mask < 32; mask *= 2) r += __shfl_xor_sync(FULL, r, mask);
    float p = x[i];
    for (int d = 1; d < 32; d *= 2) {
        float up = __shfl_up_sync(0xffffffffu, p, d);
        if (threadIdx.x % 32 >= d) p += up;
    }
    float b = x[i];
    b = __shfl_sync(FULL, b, 3, 8);
    float w = x[i];
    w = __shfl_down_sync(FULL, w, 1, 4);
    if (threadIdx.x % 32 == 0) sums[i / 32] = v - r;
    scan[i] = p;
    bcast[i] = b;
    pairs[i] = w;
}
"""


def test_warp_shuffles_match_fibers_bit_for_bit():
    x = random(2 * 64, seed=6)

    def make():
        return [x, torch.zeros(4), torch.zeros(128), torch.zeros(128), torch.zeros(128)]

    fiber, lanes = run_both(WARP, "warp_ops", "__suite_lanes_warp_ops",
                            "const float* x, float* sums, float* scan, float* bcast, float* pairs", (2,), (64,), make)  # fmt: skip
    assert_same_bits(fiber, lanes)
    warps = x.view(4, 32)
    assert torch.allclose(fiber[2], torch.cumsum(warps, 1).flatten(), atol=1e-5)
    assert torch.equal(fiber[3], x.view(16, 8)[:, 3:4].expand(16, 8).flatten())  # width 8: lane 3 of each 8
    code = fission(WARP, "k.cu").code
    assert code.count("::suite_host::lanes::shuffle(") == 5
    # `v += SHFL`, `b = SHFL`, ...: straight into the variable's lane array, no region loop
    assert code.count("__suite_l] += __suite_r;") == 2 and code.count("__suite_l] = __suite_r;") == 3


def test_warp_shuffle_with_an_exited_lane_is_a_fault():
    code = r"""
extern "C" __global__ void gone(const float* x, float* y) {
    if (threadIdx.x == 5) return;
    float v = x[threadIdx.x];
    v += __shfl_xor_sync(0xffffffff, v, 1);
    y[threadIdx.x] = v;
}
"""
    # the lane function alone (the fiber mode faults the same way: "lane 5 of the mask has exited")
    with pytest.raises(KernelFault, match=r"__shfl_xor_sync with mask 0xffffffff: a lane of the mask has exited.*lane 5"):
        run_both(code, "gone", "__suite_lanes_gone", "const float* x, float* y", (1,), (32,),
                 lambda: [random(32), torch.zeros(32)], fibers=False)  # fmt: skip


def refusal(body: str, params: str = "const float* x, float* y, int n") -> str:
    code = ("__device__ void helper_sync() { __syncthreads(); }\n#define TID (threadIdx.x + 0)\n"
            "constexpr float first(const float* p) { return p[0]; }\n") + (
        f'extern "C" __global__ void k({params}) {{\n    __shared__ float s[64];\n{body}\n}}\n')
    result = fission(code, "r.cu")
    assert "k" not in result.lane_functions and result.code == ""
    return result.refused["k"]


@pytest.mark.parametrize(
    "body,reason",
    [
        ("    if (threadIdx.x < 16) __syncthreads();", r"r.cu:6: the condition of this `if` around a barrier is not block-uniform: it depends on threadIdx"),
        ("    for (int i = 0; i < (int)x[0]; ++i) __syncthreads();", r"its condition is not block-uniform: .*reads memory"),
        ("    for (int i = 0; i < first(x); ++i) __syncthreads();", r"the call `first\(...\)` is not known to be pure"),
        ("    for (int i = 0; i < TID; ++i) __syncthreads();", r"`TID` is not known to be a constant"),
        ("    float t = x[threadIdx.x];\n    while (t > 0) { __syncthreads(); t -= 1; }", r"`t` may differ between threads"),
        ("    for (int i = 0; i < n; ++i) { __syncthreads(); i += 1; }", r"its body changes `i`"),
        ("    for (int i = 0; i < n; ++i) { __syncthreads(); if (i == 3) break; }", r"`break;` leaves a region"),
        ("    __syncthreads();\nagain:\n    s[0] = 1;\n    goto again;", r"goto and labels"),
        ("    switch (n) { case 1: __syncthreads(); }", r"`__syncthreads` inside a switch"),
        ("    auto f = [&] { __syncthreads(); };\n    f();", r"inside a declaration"),
        ("    y[0] = __syncthreads_count(x[threadIdx.x] > 0);", r"`__syncthreads_count` inside an expression"),
        ("    float v = x[threadIdx.x];\n    v += __reduce_add_sync(~0u, 1);\n    y[0] = v;", r"`__reduce_add_sync` waits"),
        ("    auto v = x[threadIdx.x];\n    __syncthreads();\n    y[threadIdx.x] = v;", r"`v` lives across a barrier .*`auto`"),
        ("    __syncthreads();\n    helper_sync();", r"calls `helper_sync`, which waits"),
        ("    float v = x[threadIdx.x];\n    v += __shfl_down_sync(0x0000ffff, v, 1);\n    y[0] = v;", r"mask other than 0xffffffff"),
        ("    float v = x[threadIdx.x];\n    v += __shfl_down_sync(~0u, v, threadIdx.x % 4);\n    y[0] = v;", r"lane argument .* threadIdx"),
        ("    float v = x[threadIdx.x];\n    y[threadIdx.x] = __shfl_sync(0xffffffff, v, 0) + 1;", r"inside an expression"),
        ("    n -= 1;\n    for (int i = 0; i < n; ++i) __syncthreads();", r"`n` may differ"),
        ("    if (n > 0) { int n2 = n; __syncthreads(); { int n2 = 1; } }", r"`n2` shadows"),
        ("    if (threadIdx.x == 0) cooperative_groups::this_thread_block().sync();", r"depends on threadIdx"),
        ("    auto b = cooperative_groups::this_thread_block();\n    if (b.thread_rank() < 5) b.sync();",
         r"`b.thread_rank\(\)` differs between threads"),
        ("    auto g = cooperative_groups::tiled_partition<16>(cooperative_groups::this_thread_block());\n    g.sync();",
         r"`sync` inside an expression"),
        ("    auto g = cooperative_groups::tiled_partition<32>(cooperative_groups::this_thread_block());\n"
         "    int a = g.any(x[threadIdx.x] > 0);\n    y[0] = a;", r"`any` inside a declaration"),
        ("    auto g = cooperative_groups::tiled_partition<32>(cooperative_groups::this_thread_block());\n"
         "    float v = x[threadIdx.x];\n    v = cooperative_groups::reduce(g, v, [&](float a, float b) { return a + b + v; });",
         r"cooperative_groups::reduce over a group other than a 32-thread tile"),
        ("    float v[2] = {x[0]};\n    __syncthreads();\n    decltype(v) w = {v[0]};\n    y[0] = w[0];",
         r"`decltype\(v\)` names a variable"),
    ],
)
def test_refusals_say_why(body, reason):
    assert re.search(reason, refusal(body)), refusal(body)


def test_comments_naming_waits_change_nothing():
    commented = BLOCK_REDUCTION.replace("__syncthreads();\n    for", "__syncthreads();  // not asm, nor __nanosleep\n    for")
    assert commented != BLOCK_REDUCTION
    assert fission(commented, "k.cu").lane_functions == {"block_reduction": "__suite_lanes_block_reduction"}
    only_comment = 'extern "C" __global__ void k(float* y) { y[0] = 1; /* __syncthreads(); */ }\n'
    assert fission(only_comment, "k.cu") == fission("", "k.cu")


@pytest.mark.parametrize(
    "expression,expect",
    [
        ("block_reduction", "__suite_lanes_block_reduction"),
        ("ops::scale_prefix<float, 64>", "ops::__suite_lanes_scale_prefix<float, 64>"),
        ("::ops::scale_prefix<float,64>", "::ops::__suite_lanes_scale_prefix<float,64>"),
        ("saxpy", None),
        ("ops::block_reduction_v2<int>", None),
    ],
)
def test_lane_expression_names_the_generated_function(expression, expect):
    rewritten = {"block_reduction": "__suite_lanes_block_reduction", "scale_prefix": "__suite_lanes_scale_prefix"}
    assert lane_expression(expression, rewritten) == expect


def test_explicit_specializations_and_out_of_namespace_definitions_keep_fibers():
    code = ("template <int N> __global__ void k(float* y);\n"
            "template <> __global__ void k<4>(float* y) { __syncthreads(); y[0] = 4; }\n"
            "namespace ns { __global__ void g(float* y); }\n"
            "__global__ void ns::g(float* y) { __syncthreads(); y[0] = 1; }\n")  # fmt: skip
    result = fission(code, "s.cu")
    assert result.lane_functions == {} and result.code == ""
    assert all("outside its namespace or is an explicit specialization" in r for r in result.refused.values())
    assert sorted(result.refused) == ["k<4>", "ns::g"]


def test_kernels_without_waits_are_left_to_the_plain_lane_loop():
    result = fission('extern "C" __global__ void saxpy(float a, float* y) { y[threadIdx.x] *= a; }\n'
                     "__device__ void f() { __syncthreads(); }\n", "s.cu")  # fmt: skip
    assert result == type(result)("", {}, {})


VOTES = r"""
extern "C" __global__ void votes(const float* x, unsigned* ballots, int* flags, int* counts) {
    if (blockIdx.x == 1 && threadIdx.x >= 40) return;  // exited threads do not vote in the block votes
    const float v = x[blockIdx.x * 64 + threadIdx.x];
    int positive = __syncthreads_count(v > 0.0f);
    const int all_small = __syncthreads_and(v < 2.0f);
    int any_big;
    any_big = __syncthreads_or(v > 2.5f);
    if (blockIdx.x == 0) {
        unsigned b = __ballot_sync(0xffffffff, v > 0.0f);
        int any = __any_sync(0xffffffff, v > 1.5f);
        int all = __all_sync(0xffffffff, v > -3.0f);
        any += all * 2;
        ballots[threadIdx.x] = b;
        flags[threadIdx.x] = any;
    }
    counts[blockIdx.x * 64 + threadIdx.x] = positive * 4 + all_small * 2 + any_big;
}
"""


def test_votes_match_fibers_bit_for_bit():
    x = random(2 * 64, seed=8) * 1.5

    def make():
        return [x, torch.zeros(64, dtype=torch.int32), torch.zeros(64, dtype=torch.int32),
                torch.full((128,), -1, dtype=torch.int32)]  # fmt: skip

    fiber, lanes = run_both(VOTES, "votes", "__suite_lanes_votes", "const float* x, unsigned* ballots, int* flags, int* counts",
                            (2,), (64,), make)  # fmt: skip
    assert_same_bits(fiber, lanes)
    positive = x.view(2, 64) > 0
    assert fiber[3][0].item() // 4 == positive[0].sum().item()
    assert fiber[3][64].item() // 4 == positive[1, :40].sum().item()  # only the 40 threads left
    assert torch.equal(fiber[3][104:], torch.full((24,), -1, dtype=torch.int32))
    code = fission(VOTES, "k.cu").code
    assert code.count("::suite_host::lanes::vote(") == 3 and code.count("::suite_host::lanes::block_vote(") == 3


ONLINE_SOFTMAX = r"""
extern "C" __global__ void online_softmax(float* out, const float* inp, int C) {
    const int lane = threadIdx.x % 32, row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const float* x = inp + row * C;
    float maxval = -INFINITY, sumval = 0.0f, bigger;
    for (int i = lane; i < C; i += 32) {
        bigger = fmaxf(maxval, x[i]);
        sumval = sumval * expf(maxval - bigger) + expf(x[i] - bigger);
        maxval = bigger;
    }
    float offsetMaxval, offsetSumval;
    for (int offset = 16; offset > 0; offset >>= 1) {
        __syncwarp();
        offsetMaxval = __shfl_down_sync(0xFFFFFFFF, maxval, offset);
        offsetSumval = __shfl_down_sync(0xFFFFFFFF, sumval, offset);
        if (offsetMaxval > maxval) {
            sumval *= expf(maxval - offsetMaxval);
            maxval = offsetMaxval;
        } else {
            offsetSumval *= expf(offsetMaxval - maxval);
        }
        sumval += offsetSumval;
    }
    maxval = __shfl_sync(0xFFFFFFFF, maxval, 0);
    sumval = __shfl_sync(0xFFFFFFFF, sumval, 0);
    for (int i = lane; i < C; i += 32) out[row * C + i] = expf(x[i] - maxval) / sumval;
}
"""


def test_online_softmax_matches_fibers_without_contraction():
    # llm.c's softmax_forward_online_kernel8. Bit for bit with --fmad=false: with contraction on
    # (g++ -ffp-contract=fast, as nvcc fuses), g++ may fuse other products in the rewritten code
    # than in the fiber build (1 ulp apart: docs/DESIGN.md, "Lane loops: the rewrite").
    rows, C = 16, 100
    x = random(rows, C, seed=11) * 3
    fiber, lanes = run_both(ONLINE_SOFTMAX, "online_softmax", "__suite_lanes_online_softmax",
                            "float* out, const float* inp, int C", (rows // 4,), (128,),
                            lambda: [torch.zeros(rows, C), x, np.int32(C)], options=("--fmad=false",))  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.allclose(fiber[0], torch.softmax(x, 1), atol=1e-6)
    code = fission(ONLINE_SOFTMAX, "k.cu").code
    # offsetSumval is rewritten by the next shuffle before any read: not copied back to its lane array
    assert "__suite_lane] = offsetSumval;" not in code and "__suite_lane] = sumval;" in code


CARRIED = r"""
extern "C" __global__ void carried(const float* x, float* out, int steps) {
    __shared__ float s[64];
    float carry = 0.0f, unused = 1.0f;
    for (int k = 0; k < steps; ++k) {
        s[threadIdx.x] = x[k * 64 + threadIdx.x];
        __syncthreads();
        out[k * 64 + threadIdx.x] = carry + s[63 - threadIdx.x];  // the previous step's value
        carry = s[threadIdx.x] * 0.5f;
        unused = carry;
        __syncthreads();
    }
}
"""


def test_a_value_carried_to_the_next_iteration_is_stored_back():
    steps = 5
    x = random(steps * 64, seed=12)
    fiber, lanes = run_both(CARRIED, "carried", "__suite_lanes_carried", "const float* x, float* out, int steps",
                            (1,), (64,), lambda: [x, torch.zeros(steps * 64), np.int32(steps)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    rows = x.view(steps, 64)
    expect = rows.flip(1) + torch.cat([torch.zeros(1, 64), rows[:-1] * 0.5])
    assert torch.equal(fiber[1].view(steps, 64), expect)
    code = fission(CARRIED, "k.cu").code
    assert "__suite_lane] = carry;" in code and "__suite_lane] = unused;" not in code  # unused is never read


WHOLE_WARPS_RETURN = r"""
extern "C" __global__ void rows_per_warp(const float* x, float* out, int rows) {
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;  // whole warps leave: they never reach the shuffles
    float v = x[row * 32 + threadIdx.x % 32];
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffff, v, o);
    unsigned positive = __ballot_sync(0xffffffff, v > 0.0f);
    out[row * 32 + threadIdx.x % 32] = v + float(positive & 1u);
}
"""


def test_warps_that_returned_whole_skip_the_collectives():
    rows = 5  # blocks of 4 warps: the second block has 3 warps without a row
    x = random(rows * 32, seed=13)
    fiber, lanes = run_both(WHOLE_WARPS_RETURN, "rows_per_warp", "__suite_lanes_rows_per_warp",
                            "const float* x, float* out, int rows", (2,), (128,),
                            lambda: [x, torch.zeros(rows * 32), np.int32(rows)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.allclose(fiber[1].view(rows, 32)[:, 0], x.view(rows, 32).sum(1) + (x.view(rows, 32).sum(1) > 0),
                          atol=1e-5)  # fmt: skip


TILES = r"""
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
namespace cg = cooperative_groups;
// llm.c's layernorm_forward_kernel3 pattern: one row per 32-thread tile, cg::reduce for the sums.
extern "C" __global__ void row_stats(const float* x, float* mean, float* spread, int rows, int C) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<32> warp = cg::tiled_partition<32>(block);
    const int row = blockIdx.x * warp.meta_group_size() + warp.meta_group_rank();
    if (row >= rows) return;
    const float* r = x + row * C;
    float sum = 0.0f;
    for (int i = warp.thread_rank(); i < C; i += warp.size()) sum += r[i];
    sum = cg::reduce(warp, sum, cg::plus<float>{});
    const float m = sum / C;
    float top = -INFINITY;
    for (int i = warp.thread_rank(); i < C; i += warp.size()) top = fmaxf(top, r[i] - m);
    float best = cg::reduce(warp, top, cg::greater<float>());
    int above = top > 0.0f;
    int count = cg::reduce(warp, above, [](int a, int b) { return a + b; });
    float next = warp.shfl_down(best, 1);
    warp.sync();
    if (warp.thread_rank() == 0) {
        mean[row] = m;
        spread[row] = best + next;
    }
    if (warp.thread_rank() == 1) mean[rows + row] = float(count);
}
"""


def test_a_block_s_32_thread_tiles_reduce_and_shuffle():
    rows, C = 7, 70  # two blocks of 4 tiles: the last tile has no row and returns
    x = random(rows, C, seed=14)
    fiber, lanes = run_both(TILES, "row_stats", "__suite_lanes_row_stats",
                            "const float* x, float* mean, float* spread, int rows, int C", (2,), (128,),
                            lambda: [x, torch.zeros(2 * rows), torch.zeros(rows), np.int32(rows), np.int32(C)])  # fmt: skip
    assert_same_bits(fiber, lanes)
    assert torch.allclose(fiber[1][:rows], x.mean(1), atol=1e-5)
    assert torch.all((fiber[1][rows:] >= 1) & (fiber[1][rows:] <= 32))  # lanes whose share holds a value above the mean
    top = (x - x.mean(1, keepdim=True)).max(1).values
    assert torch.allclose(fiber[2], 2 * top, atol=1e-5)  # lane 1 holds the same maximum after the butterfly
    code = fission(TILES, "k.cu").code
    assert code.count("::suite_host::lanes::tile_reduce(") == 3 and "::suite_host::Shfl::Down, true" in code
