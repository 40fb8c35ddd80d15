"""`suite profile` counts the special functions of a user's kernel, which includes none of the
suite's headers, as it counts the suite's wrappers: one SFU operation per call and thread."""

import torch

from suite.host import RawKernel, profile

USER_KERNEL = r"""
#include <cmath>   // after the emulation's force-included header: must not drop any mark
extern "C" __global__ void activations(const float* x, float* y, int calls) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];
    if (calls > 0) v = expf(v) + __expf(v) + exp2f(v) + log2f(v + 2.0f) + __logf(v + 2.0f);
    if (calls > 5) v = rsqrtf(v) + sinf(v) + __sinf(v) + cosf(v) + tanhf(v) + logf(v);
    y[i] = v;
}
"""


def _sfu(calls):
    kernel = RawKernel(USER_KERNEL, "activations")
    x = torch.rand(64)
    y = torch.empty_like(x)
    with profile() as launches:
        kernel((2,), (32,), (x, y, calls))
    (launch,) = launches
    return launch.sfu, x, y


def test_every_special_function_call_of_a_user_kernel_is_counted():
    none, _, _ = _sfu(0)
    five, x, y = _sfu(1)
    eleven, _, _ = _sfu(6)
    assert none == 0 and five == 5 * 64 and eleven == 11 * 64
    expected = torch.exp(x) * 2 + torch.exp2(x) + torch.log2(x + 2) + torch.log(x + 2)
    assert torch.allclose(y, expected, rtol=1e-5)  # the marks leave the results alone
