"""Host backend: warp shuffles, votes, reductions and __syncwarp against NumPy models."""

import numpy as np
import pytest
import torch

from suite.host import RawModule

CODE = r"""
#include <cuda_fp16.h>

// mode 0 idx, 1 up, 2 down, 3 xor; arg[i] is thread i's lane / delta / lane mask.
template <typename T>
__global__ void shuffle(const T* x, const int* arg, T* out, int mode, int width) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const T v = x[i];
    T r;
    if (mode == 0) r = __shfl_sync(0xffffffffu, v, arg[i], width);
    else if (mode == 1) r = __shfl_up_sync(0xffffffffu, v, unsigned(arg[i]), width);
    else if (mode == 2) r = __shfl_down_sync(0xffffffffu, v, unsigned(arg[i]), width);
    else r = __shfl_xor_sync(0xffffffffu, v, arg[i], width);
    out[i] = r;
}

extern "C" __global__ void shuffle_default_width(const float* x, float* out) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = __shfl_down_sync(0xffffffffu, x[i], 3);
}

// Only the lanes in `mask` take part; the others write their input.
extern "C" __global__ void partial_mask(const int* x, int* out, unsigned mask) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned lane = threadIdx.x % 32;
    int r = x[i];
    if (mask >> lane & 1) r = __shfl_xor_sync(mask, x[i], 1);
    out[i] = r;
}

extern "C" __global__ void votes(const int* predicate, unsigned* out) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int p = predicate[i];
    out[4 * i] = __ballot_sync(0xffffffffu, p);
    out[4 * i + 1] = __any_sync(0xffffffffu, p);
    out[4 * i + 2] = __all_sync(0xffffffffu, p);
    out[4 * i + 3] = __activemask();
}

// Warp sum by the butterfly, then the classic tree with __syncwarp between shared-memory steps.
extern "C" __global__ void warp_sums(const float* x, float* butterfly, float* tree, int* reduced) {
    __shared__ float s[64];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    butterfly[i] = v;
    const int lane = threadIdx.x % 32, base = threadIdx.x - lane;
    s[threadIdx.x] = x[i];
    __syncwarp();
    for (int o = 16; o > 0; o /= 2) {
        float other = lane < o ? s[threadIdx.x + o] : 0.0f;
        __syncwarp();
        if (lane < o) s[threadIdx.x] += other;
        __syncwarp();
    }
    tree[i] = s[base];
    reduced[i] = __reduce_add_sync(0xffffffffu, int(x[i] * 8)) ;
}
"""

NAMES = ["shuffle<int>", "shuffle<float>", "shuffle<double>", "shuffle<__half>", "shuffle_default_width",
         "partial_mask", "votes", "warp_sums"]  # fmt: skip


@pytest.fixture(scope="module")
def module():
    return RawModule(code=CODE, name_expressions=NAMES)


def model_source(mode: str, lane: int, arg: int, width: int) -> int:
    """The lane a shuffle reads, from the CUDA C++ Programming Guide's description of each intrinsic."""
    start = lane - lane % width
    if mode == "idx":
        return start + arg % width
    if mode == "up":
        return lane - arg if lane - start >= arg else lane
    if mode == "down":
        return lane + arg if lane - start + arg < width else lane
    target = lane ^ arg  # xor: lanes of a later group of width are out of reach
    return target if target < start + width else lane


MODES = ["idx", "up", "down", "xor"]


@pytest.mark.parametrize("dtype", ["int", "float", "double", "__half"])
@pytest.mark.parametrize("width", [32, 16, 8, 4, 2, 1])
def test_every_shuffle_matches_the_model(module, dtype, width):
    rng = np.random.default_rng(width)
    n = 128
    np_dtype = {"int": np.int32, "float": np.float32, "double": np.float64, "__half": np.float16}[dtype]
    x = (rng.standard_normal(n) * 100).astype(np_dtype) if dtype != "int" else rng.integers(-999, 999, n, dtype=np.int32)
    for m, mode in enumerate(MODES):
        arg = rng.integers(0, 32 if mode in ("idx", "xor") else 2 * width, n).astype(np.int32)
        out = np.zeros_like(x)
        module.get_function(f"shuffle<{dtype}>")((2,), (64,), (x, arg, out, np.int32(m), np.int32(width)))
        # Within one warp all lanes must pass the same delta/mask for up/down/xor to be well
        # defined on the GPU; the model reads each lane's own argument like the hardware does.
        expect = [x[(i // 32) * 32 + model_source(mode, i % 32, int(arg[i]), width)] for i in range(n)]
        np.testing.assert_array_equal(out, np.array(expect, dtype=x.dtype), err_msg=f"{mode} width {width}")


def test_width_defaults_to_warp_size(module):
    x = torch.randn(96)
    out = torch.zeros(96)
    module.get_function("shuffle_default_width")((1,), (96,), (x, out))
    lanes = torch.arange(96) % 32
    expect = torch.where(lanes + 3 < 32, x.roll(-3), x)
    assert torch.equal(out, expect)


def test_partial_mask_shuffle(module):
    x = np.arange(64, dtype=np.int32) * 7
    out = np.zeros_like(x)
    mask = 0x0F0F00FF  # pairs of lanes (2k, 2k+1) inside the mask
    module.get_function("partial_mask")((1,), (64,), (x, out, np.uint32(mask)))
    lanes = np.arange(64) % 32
    inside = (mask >> lanes) & 1 == 1
    np.testing.assert_array_equal(out, np.where(inside, x[np.arange(64) ^ 1], x))


def test_votes_match_numpy(module):
    rng = np.random.default_rng(7)
    predicate = (rng.random(128) < 0.5).astype(np.int32)
    predicate[32:64] = 1  # a warp where all hold
    predicate[64:96] = 0  # and one where none does
    out = np.zeros((128, 4), np.uint32)
    module.get_function("votes")((2,), (64,), (predicate, out))
    for w in range(4):
        p = predicate[32 * w : 32 * (w + 1)]
        ballot = sum(1 << lane for lane in range(32) if p[lane])
        rows = out[32 * w : 32 * (w + 1)]
        assert (rows[:, 0] == ballot).all()
        assert (rows[:, 1] == int(p.any())).all() and (rows[:, 2] == int(p.all())).all()
        assert (rows[:, 3] == 0xFFFFFFFF).all()


def test_warp_sums_by_butterfly_tree_and_reduce(module):
    x = np.random.default_rng(8).integers(-64, 64, 256).astype(np.float32) / 8  # exact in any order
    butterfly, tree = np.zeros_like(x), np.zeros_like(x)
    reduced = np.zeros(256, np.int32)
    module.get_function("warp_sums")((4,), (64,), (x, butterfly, tree, reduced))
    expect = np.repeat(x.reshape(8, 32).sum(1), 32)
    np.testing.assert_array_equal(butterfly, expect)
    np.testing.assert_array_equal(tree, expect)
    np.testing.assert_array_equal(reduced, (expect * 8).astype(np.int32))
