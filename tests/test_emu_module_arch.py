"""A module built for an architecture (its -arch=/--gpu-architecture= option, as NVRTC takes it) gets
that architecture's launch limits on the host, whatever architecture the backend emulates."""

import numpy as np
import pytest
import torch

from suite.backends.host_backend import SMEM_OPTIN_LIMIT, HostBackend
from suite.emulator.build import source_for_code
from suite.errors import KernelLaunchError

CODE = r"""
extern "C" __global__ void fill(float* out, int n) {
    extern __shared__ float tile[];
    tile[threadIdx.x] = float(threadIdx.x);
    __syncthreads();
    if (threadIdx.x < n) out[threadIdx.x] = tile[n - 1 - threadIdx.x];
}
"""


@pytest.mark.parametrize("option", ["--gpu-architecture=sm_90", "-arch=sm_90a"])
def test_the_module_option_sets_the_launch_limits(option):
    big = SMEM_OPTIN_LIMIT["sm_90"]  # above sm_80's opt-in limit, within sm_90's
    assert big > SMEM_OPTIN_LIMIT["sm_80"]
    backend = HostBackend(arch="sm_80", toolchain="none")
    source = source_for_code(CODE)
    plain = backend.load_module(source, ["fill"]).get_function("fill")
    with pytest.raises(KernelLaunchError, match="sm_80"):
        plain.max_dynamic_shared_size_bytes = big
    kernel = backend.load_module(source, ["fill"], (option,)).get_function("fill")
    kernel.max_dynamic_shared_size_bytes = big
    out = torch.full((64,), float("nan"))
    kernel((1,), (64,), (out, np.int32(64)), shared_mem=big)
    assert torch.equal(out, torch.arange(63, -1, -1, dtype=torch.float32))
