"""suite.host: CuPy's RawKernel/RawModule call convention on the CPU."""

import numpy as np
import pytest
import torch

from suite.errors import InputError, KernelLaunchError
from suite.host import RawKernel, RawModule, kernel_names

ADD = r"""
extern "C" __global__ void add(const float* x, const float* y, float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = x[i] + y[i];
}
"""

MODULE = r"""
template <typename T>
__global__ void axpy(T a, const T* x, T* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}

extern "C" {
__global__ void __launch_bounds__(256) negate(float* x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = -x[i];
}
}

/* __global__ void commented_out(float* x) {} */
__global__ void square(double* x, int n) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) x[i] *= x[i];
}
"""


def test_raw_kernel_with_torch_tensors():
    rng = torch.Generator().manual_seed(0)
    x, y = torch.randn(1000, generator=rng), torch.randn(1000, generator=rng)
    out = torch.full((1000,), float("nan"))
    RawKernel(ADD, "add", options=("--use_fast_math",), backend="nvrtc", jitify=False)((8,), (128,), (x, y, out, np.int32(1000)))
    assert torch.equal(out, x + y)


def test_raw_kernel_with_numpy_arrays_and_a_python_int():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(300).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    out = np.zeros(300, np.float32)
    RawKernel(ADD, "add")(3, 128, (x, y, out, 300))  # grid/block as ints, like CuPy
    np.testing.assert_array_equal(out, x + y)


def test_raw_module_with_plain_names_and_name_expressions(tmp_path):
    x = torch.randn(500)
    expect = -x
    RawModule(code=MODULE).get_function("negate")((2,), (256,), (x, np.int32(500)))
    assert torch.equal(x, expect)
    path = tmp_path / "module.cu"
    path.write_text(MODULE)
    module = RawModule(path=path, name_expressions=["axpy<float>", "axpy<double>"])
    for dtype, scalar in ((torch.float32, np.float32), (torch.float64, np.float64)):
        a, xs, ys = 1.5, torch.randn(100, dtype=dtype), torch.randn(100, dtype=dtype)
        expect = ys + a * xs
        module.get_function(f"axpy<{'float' if dtype == torch.float32 else 'double'}>")((1,), (128,), (scalar(a), xs, ys, np.int32(100)))
        torch.testing.assert_close(ys, expect)


def test_kernel_names_skip_templates_and_comments():
    assert kernel_names(MODULE) == ["negate", "square"]


def test_dynamic_shared_memory_attribute_is_forwarded():
    code = r"""
    extern "C" __global__ void last(float* out) {
        extern __shared__ float s[];
        s[threadIdx.x] = threadIdx.x;
        __syncthreads();
        out[0] = s[blockDim.x - 1] + s[40000 - 1] * 0;
    }"""
    kernel = RawKernel(code, "last")
    out = torch.zeros(1)
    with pytest.raises(KernelLaunchError, match="max_dynamic_shared_size_bytes"):
        kernel((1,), (64,), (out,), shared_mem=40000 * 4)
    kernel.max_dynamic_shared_size_bytes = 40000 * 4
    assert kernel.max_dynamic_shared_size_bytes == 160000
    kernel((1,), (64,), (out,), shared_mem=40000 * 4)
    assert out.item() == 63


def test_module_needs_code_or_path():
    with pytest.raises(InputError):
        RawModule()
