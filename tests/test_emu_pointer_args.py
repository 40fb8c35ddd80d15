"""Arguments as CuPy passes them (issue #25): an array of device addresses (uint64) for `T**`,
a null pointer as None or 0, a get_global MemoryPointer; the type checks stay."""

import numpy as np
import pytest
import torch

from suite.errors import KernelLaunchError
from suite.host import RawModule

CODE = r"""
extern "C" __global__ void gather_rows(const float* const* rows, float* out, int width) {
    int r = blockIdx.x, c = threadIdx.x;
    if (c < width) out[r * width + c] = rows[r][c] * 2.0f;
}
extern "C" __global__ void maybe_scale(float* x, const float* scale, int n) {
    int i = threadIdx.x;
    if (i < n) x[i] *= scale ? scale[0] : 3.0f;   // a null scale means the default
}
__device__ float table[8];
extern "C" __global__ void fill_table(float* t) { t[threadIdx.x] = threadIdx.x + 0.5f; }
extern "C" __global__ void read_table(float* out) { out[threadIdx.x] = table[threadIdx.x]; }
"""


@pytest.fixture(scope="module")
def module():
    return RawModule(CODE)


def test_an_array_of_device_addresses_is_a_pointer_to_pointers(module):
    rng = np.random.default_rng(3)
    rows = [rng.standard_normal(16).astype(np.float32) for _ in range(5)]
    torch_row = torch.randn(16)
    addresses = np.array([r.ctypes.data for r in rows] + [torch_row.data_ptr()], np.uint64)
    out = np.zeros((6, 16), np.float32)
    module.get_function("gather_rows")((6,), (16,), (addresses, out, np.int32(16)))
    np.testing.assert_array_equal(out, np.stack(rows + [torch_row.numpy()]) * 2)
    with pytest.raises(KernelLaunchError, match=r"argument 0 of gather_rows is const float\* const\*; got a float32 "
                                                r"numpy array: pass the addresses as a uint64"):
        module.get_function("gather_rows")((6,), (16,), (np.zeros(6, np.float32), out, np.int32(16)))


@pytest.mark.parametrize("null", [None, 0])
def test_a_null_pointer_is_passed_as_none_or_zero(module, null):
    x = np.arange(8, dtype=np.float32)
    module.get_function("maybe_scale")((1,), (8,), (x, null, np.int32(8)))
    assert x.tolist() == [3.0 * i for i in range(8)]
    module.get_function("maybe_scale")((1,), (8,), (x, np.float32([0.5]), np.int32(8)))
    assert x.tolist() == [1.5 * i for i in range(8)]
    with pytest.raises(KernelLaunchError, match=r"got a Python int: pass a torch tensor or a numpy array \(None for a null pointer\)"):
        module.get_function("maybe_scale")((1,), (8,), (x, 7, np.int32(8)))


def test_a_device_variable_is_passed_by_its_memory_pointer(module):
    module.get_function("fill_table")((1,), (8,), (module.get_global("table"),))
    out = np.zeros(8, np.float32)
    module.get_function("read_table")((1,), (8,), (out,))
    assert out.tolist() == [i + 0.5 for i in range(8)]
