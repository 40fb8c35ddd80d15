"""`__constant__` and `__device__` variables set from the host: RawModule.get_global as in CuPy
(issue #25), so kernels whose host code uses cudaMemcpyToSymbol can be driven."""

import numpy as np
import pytest

from suite.errors import InputError
from suite.host import RawModule

CODE = r"""
__constant__ float coeffs[4];
__device__ unsigned int calls;
namespace tables { __constant__ int bias; }

extern "C" __global__ void poly(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    y[i] = ((coeffs[3] * v + coeffs[2]) * v + coeffs[1]) * v + coeffs[0] + tables::bias;
    atomicAdd(&calls, 1u);
}
"""


def _run(module, x):
    y = np.zeros_like(x)
    module.get_function("poly")((4,), (64,), (x, y, np.int32(x.size)))
    return y


@pytest.mark.parametrize("checks", [None, ("memcheck",)])
def test_constant_and_device_variables_are_filled_and_read_back(checks):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(200).astype(np.float32)
    c = rng.standard_normal(4).astype(np.float32)
    module = RawModule(CODE, checks=checks)
    module.get_global("coeffs").copy_from_host(c.ctypes.data, c.nbytes)  # cudaMemcpyToSymbol
    module.get_global("tables::bias").copy_from_host(np.int32(5).tobytes(), 4)
    module.get_global("calls").memset(0, 4)
    y = _run(module, x)
    expect = ((c[3] * x + c[2]) * x + c[1]) * x + c[0] + 5
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    calls = np.zeros(1, np.uint32)
    module.get_global("calls").copy_to_host(calls, 4)  # cudaMemcpyFromSymbol
    assert calls[0] == 200
    view = module.get_global("coeffs").view(np.float32)  # cupy.ndarray(..., memptr=...) on a GPU
    assert view.shape == (4,) and np.array_equal(view, c)
    view[:] = 0
    module.get_global("tables::bias").view(np.int32)[0] = -1
    assert (_run(module, x) == -1).all()
    assert module.get_global("calls").view(np.uint32)[0] == 400


def test_device_to_device_copies_and_offsets():
    module = RawModule(CODE)
    source = np.arange(4, dtype=np.float32)
    module.get_global("coeffs").copy_from_device(source, source.nbytes)
    (module.get_global("coeffs") + 8).copy_from_host(np.float32([9, 9]), 8)
    assert module.get_global("coeffs").view(np.float32).tolist() == [0, 1, 9, 9]
    assert module.get_global("coeffs").mem.size == 16


def test_misuse_names_the_variable_and_what_fits():
    module = RawModule(CODE)
    with pytest.raises(InputError, match=r"has no __constant__ or __device__ variable named 'nope'"):
        module.get_global("nope")
    with pytest.raises(InputError, match=r"a copy of 20 bytes does not fit coeffs \(16 bytes\)"):
        module.get_global("coeffs").copy_from_host(np.zeros(5, np.float32), 20)
    with pytest.raises(InputError, match=r"copy_from_host: 16 bytes asked of a 8-byte host buffer"):
        module.get_global("coeffs").copy_from_host(np.zeros(2, np.float32), 16)
    with pytest.raises(InputError, match=r"does not fit coeffs"):
        module.get_global("coeffs").view(np.float64, (3,))
