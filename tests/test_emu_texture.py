"""Texture objects as CuPy creates them (issue #25): tex1Dfetch/tex1D/tex2D/tex3D against the CUDA
Programming Guide's texture fetching formulas (address modes on texel indices, point sampling at
floor(x), linear filtering at x - 0.5 with 9-bit fixed-point weights), read modes, errors."""

import numpy as np
import pytest

from suite.errors import InputError, KernelLaunchError
from suite.host import RawModule, texture as T

CODE = r"""
extern "C" __global__ void sample1d(cudaTextureObject_t tex, const float* xs, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = tex1D<float>(tex, xs[i]);
}
extern "C" __global__ void sample2d(cudaTextureObject_t tex, const float* xs, const float* ys, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = tex2D<float>(tex, xs[i], ys[i]);
}
extern "C" __global__ void sample3d_int(cudaTextureObject_t tex, const float* c, int* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) tex3D(&out[i], tex, c[3 * i], c[3 * i + 1], c[3 * i + 2]);
}
extern "C" __global__ void fetch_uchar4(cudaTextureObject_t tex, uchar4* out, int n) {
    int i = threadIdx.x;
    if (i < n) out[i] = tex1Dfetch<uchar4>(tex, i - 2);
}
extern "C" __global__ void fetch_normalized(cudaTextureObject_t tex, float4* out, int n) {
    int i = threadIdx.x;
    if (i < n) out[i] = tex1Dfetch<float4>(tex, i);
}
"""
rng = np.random.default_rng(2024)


@pytest.fixture(scope="module")
def module():
    return RawModule(CODE)


def _index(i, n, mode, normalized):
    """Texel index after the address mode (CUDA Programming Guide, texture fetching), None: border."""
    if not normalized and mode in (T.cudaAddressModeWrap, T.cudaAddressModeMirror):
        mode = T.cudaAddressModeClamp
    if 0 <= i < n:
        return i
    if mode == T.cudaAddressModeWrap:
        return i % n
    if mode == T.cudaAddressModeMirror:
        m = i % (2 * n)
        return m if m < n else 2 * n - 1 - m
    if mode == T.cudaAddressModeBorder:
        return None
    return min(max(i, 0), n - 1)


def _reference(texels, coords, mode, linear, normalized):
    """tex1D/tex2D/tex3D of a float texture `texels` (shape: depth, height, width over the dims used)."""
    shape = texels.shape[::-1]  # width first
    x = [c * n if normalized else c for c, n in zip(coords, shape)]

    def at(idx):
        picked = [_index(i, n, mode, normalized) for i, n in zip(idx, shape)]
        return 0.0 if None in picked else float(texels[tuple(picked[::-1])])

    if not linear:
        return at([int(np.floor(v)) for v in x])
    base = [int(np.floor(v - 0.5)) for v in x]
    alpha = [np.float32(np.rint((v - 0.5 - np.floor(v - 0.5)) * 256) / 256) for v in x]
    total = 0.0
    for corner in range(1 << len(x)):
        up = [(corner >> d) & 1 for d in range(len(x))]
        weight = np.prod([a if u else 1 - a for a, u in zip(alpha, up)])
        total += weight * at([b + u for b, u in zip(base, up)])
    return total


def _float_texture(texels, mode, linear, normalized):
    ch = T.ChannelFormatDescriptor(32, 0, 0, 0, T.cudaChannelFormatKindFloat)
    dims = texels.shape[::-1]
    array = T.CUDAarray(ch, *dims)
    array.copy_from(texels)
    desc = T.TextureDescriptor((mode,) * len(dims), T.cudaFilterModeLinear if linear else T.cudaFilterModePoint,
                               T.cudaReadModeElementType, normalizedCoords=normalized)
    return T.TextureObject(T.ResourceDescriptor(T.cudaResourceTypeArray, cuArr=array), desc)


MODES = [T.cudaAddressModeWrap, T.cudaAddressModeClamp, T.cudaAddressModeMirror, T.cudaAddressModeBorder]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("normalized", [False, True])
def test_tex2d_follows_the_fetching_formulas(module, mode, linear, normalized):
    texels = rng.standard_normal((5, 7)).astype(np.float32)
    tex = _float_texture(texels, mode, linear, normalized)
    n = 300
    scale = (1.0, 1.0) if normalized else (7.0, 5.0)
    xs = (rng.uniform(-1.5, 2.5, n) * scale[0]).astype(np.float32)
    ys = (rng.uniform(-1.5, 2.5, n) * scale[1]).astype(np.float32)
    out = np.zeros(n, np.float32)
    module.get_function("sample2d")((3,), (128,), (tex, xs, ys, out, np.int32(n)))
    expect = [_reference(texels, (x, y), mode, linear, normalized) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-5)


def test_linear_weights_have_eight_fraction_bits(module):
    tex = _float_texture(np.float32([0.0, 1.0]), T.cudaAddressModeClamp, True, False)
    xs = np.float32([0.5 + 1 / 1000, 0.5 + 1 / 256, 0.5 + 0.3])
    out = np.zeros(3, np.float32)
    module.get_function("sample1d")((1,), (32,), (tex, xs, out, np.int32(3)))
    assert out.tolist() == [0.0, 1 / 256, 77 / 256]  # not 0.001 and 0.3: the GPU rounds the weight to 1/256


def test_tex3d_point_sampling_of_an_integer_texture_is_exact(module):
    texels = rng.integers(-2**31, 2**31 - 1, (3, 4, 5), dtype=np.int32)
    ch = T.ChannelFormatDescriptor(32, 0, 0, 0, T.cudaChannelFormatKindSigned)
    array = T.CUDAarray(ch, 5, 4, 3)
    array.copy_from(texels)
    tex = T.TextureObject(T.ResourceDescriptor(T.cudaResourceTypeArray, cuArr=array),
                          T.TextureDescriptor((T.cudaAddressModeClamp,) * 3))
    n = 100
    coords = rng.uniform(-1, 6, (n, 3)).astype(np.float32)
    out = np.zeros(n, np.int32)
    module.get_function("sample3d_int")((1,), (128,), (tex, coords, out, np.int32(n)))
    idx = np.clip(np.floor(coords).astype(int), 0, [4, 3, 2])
    np.testing.assert_array_equal(out, texels[idx[:, 2], idx[:, 1], idx[:, 0]])


def test_tex1dfetch_reads_linear_memory_and_zero_outside(module):
    memory = rng.integers(0, 256, 24, dtype=np.uint8)
    ch = T.ChannelFormatDescriptor(8, 8, 8, 8, T.cudaChannelFormatKindUnsigned)
    tex = T.TextureObject(T.ResourceDescriptor(T.cudaResourceTypeLinear, arr=memory, chDesc=ch, sizeInBytes=24),
                          T.TextureDescriptor())
    out = np.zeros((10, 4), np.uint8)
    module.get_function("fetch_uchar4")((1,), (10,), (tex, out, np.int32(10)))
    expect = np.zeros((10, 4), np.uint8)
    expect[2:8] = memory.reshape(6, 4)  # texels 0..5 at i - 2; indices -2, -1, 6, 7 read 0
    np.testing.assert_array_equal(out, expect)
    normalized = T.TextureObject(T.ResourceDescriptor(T.cudaResourceTypeLinear, arr=memory, chDesc=ch),
                                 T.TextureDescriptor(readMode=T.cudaReadModeNormalizedFloat))
    floats = np.zeros((6, 4), np.float32)
    module.get_function("fetch_normalized")((1,), (6,), (normalized, floats, np.int32(6)))
    np.testing.assert_allclose(floats, memory.reshape(6, 4) / np.float32(255), rtol=1e-6)


def test_a_pitched_2d_texture_skips_the_row_padding(module):
    rows = np.zeros((4, 8), np.float32)  # 8 floats per row of which 5 are texels
    rows[:, :5] = rng.standard_normal((4, 5))
    ch = T.ChannelFormatDescriptor(32, 0, 0, 0, T.cudaChannelFormatKindFloat)
    tex = T.TextureObject(T.ResourceDescriptor(T.cudaResourceTypePitch2D, arr=rows, chDesc=ch, width=5, height=4,
                                               pitchInBytes=32), T.TextureDescriptor((T.cudaAddressModeClamp,) * 2))
    xs, ys = np.float32([0.5, 4.5, 9.0]), np.float32([3.5, 1.2, 2.0])
    out = np.zeros(3, np.float32)
    module.get_function("sample2d")((1,), (32,), (tex, xs, ys, out, np.int32(3)))
    assert out.tolist() == [rows[3, 0], rows[1, 4], rows[2, 4]]


def test_misuse_is_named():
    ch = T.ChannelFormatDescriptor(8, 0, 0, 0, T.cudaChannelFormatKindUnsigned)
    array = T.CUDAarray(ch, 4)
    with pytest.raises(InputError, match="linear filtering of an integer texture needs readMode=cudaReadModeNormalizedFloat"):
        T.TextureObject(T.ResourceDescriptor(T.cudaResourceTypeArray, cuArr=array), T.TextureDescriptor(filterMode=1))
    with pytest.raises(InputError, match=r"expected 4 uint8 elements"):
        array.copy_from(np.zeros(5, np.uint8))
    with pytest.raises(InputError, match="ChannelFormatDescriptor"):
        T.ChannelFormatDescriptor(8, 16, 0, 0, T.cudaChannelFormatKindUnsigned)
    tex = T.TextureObject(T.ResourceDescriptor(T.cudaResourceTypeArray, cuArr=array), T.TextureDescriptor())
    module = RawModule(CODE)
    with pytest.raises(KernelLaunchError, match="got a TextureObject, which only a cudaTextureObject_t parameter takes"):
        module.get_function("sample1d")((1,), (1,), (tex, np.zeros(1, np.float32), np.zeros(1, np.float32), tex))
