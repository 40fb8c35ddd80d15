"""A GPU toolchain judges every host run (issues #25, #27): what NVRTC (as cupy.RawModule compiles)
or nvcc rejects is an error in a plain run too; the user names the toolchain or opts out."""

import numpy as np
import pytest
import torch

from suite.backends.host_backend import HostBackend
from suite.emulator import build, toolchain
from suite.errors import BackendUnavailable, InputError, KernelCompileError, KernelLaunchError
from suite.host import RawKernel, RawModule

JUDGED = r"does not build for a GPU \(sm_80, NVRTC, as cupy.RawModule compiles it\)"
# What nvcc accepts and NVRTC does not: standard headers, `uint`, INFINITY from math.h.
NVCC_STYLE = r"""
#include <cassert>
#include <cstdint>
#include <float.h>
template <typename T>
__global__ void k(T* x) { uint i = threadIdx.x; assert(i < 64); x[i] = INFINITY > FLT_MAX ? T(2) : T(0); }
"""


@pytest.mark.parametrize("code, nvrtc_says", [
    ('extern "C" __global__ void k(float* x) { x[threadIdx.x] = INFINITY; }', 'identifier "INFINITY" is undefined'),
    ('extern "C" __global__ void k(float* x) { __shared__ float s[16384]; s[threadIdx.x] = 1; x[threadIdx.x] = s[0]; }',
     "too much shared data"),
    ('int host_only(int a) { return a + 1; }\nextern "C" __global__ void k(float* x) { x[threadIdx.x] = host_only(3); }',
     "host functions are not allowed"),
])
def test_a_plain_run_refuses_what_nvrtc_refuses_and_the_opt_out_runs_it(code, nvrtc_says, monkeypatch):
    x = torch.zeros(64)
    with pytest.raises(KernelCompileError, match=rf"{JUDGED}(.|\n)*{nvrtc_says}"):
        RawKernel(code, "k")((1,), (32,), (x,))
    RawKernel(code, "k", toolchain="none")((1,), (32,), (x,))
    monkeypatch.setenv(toolchain.ENV, "none")
    RawKernel(code, "k")((1,), (32,), (x,))


def test_static_plus_dynamic_shared_memory_above_48_kib_needs_the_opt_in_in_a_plain_run():
    code = ('extern "C" __global__ void k(float* x) { __shared__ float s[8192]; extern __shared__ float d[];'
            ' s[threadIdx.x] = x[threadIdx.x]; d[threadIdx.x] = 1.0f; __syncthreads(); x[threadIdx.x] = s[threadIdx.x] + d[threadIdx.x]; }')
    kernel = RawKernel(code, "k")
    x = torch.randn(64)
    with pytest.raises(KernelLaunchError, match=r"32768 bytes of static and 16388 of dynamic"):
        kernel((1,), (32,), (x,), shared_mem=16388)
    kernel.max_dynamic_shared_size_bytes = 20000
    y = x.clone()
    kernel((1,), (32,), (y,), shared_mem=16388)
    assert torch.equal(y[:32], x[:32] + 1)


def test_the_verdict_is_cached_with_the_build(monkeypatch):
    code = 'extern "C" __global__ void k(float* x) { __shared__ float s[40]; s[threadIdx.x] = 3; x[threadIdx.x] = s[threadIdx.x]; }'
    source = build.source_for_code(code)
    assert HostBackend().load_module(source, ["k"]).get_function("k").static_smem == 160

    def no_compiler(*_args):
        raise AssertionError("the GPU build ran again")

    monkeypatch.setattr(toolchain, "compile_names", no_compiler)
    assert HostBackend().load_module(source, ["k"]).get_function("k").static_smem == 160


def test_a_bad_toolchain_name_says_what_is_expected(monkeypatch):
    with pytest.raises(InputError, match=r"toolchain='gcc': expected one of nvrtc, nvcc, none"):
        HostBackend(toolchain="gcc")
    monkeypatch.setenv(toolchain.ENV, "clang")
    with pytest.raises(InputError, match=r"SUITE_HOST_TOOLCHAIN='clang': expected one of nvrtc, nvcc, none"):
        RawKernel('extern "C" __global__ void k(float* x) {}', "k")((1,), (1,), (torch.zeros(1),))


def test_without_nvcc_the_nvcc_option_says_how_to_get_it(monkeypatch):
    import cuda.pathfinder

    monkeypatch.setattr(cuda.pathfinder, "find_nvidia_binary_utility", lambda name: None)
    monkeypatch.setattr(toolchain.shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    with pytest.raises(BackendUnavailable, match=r"needs NVIDIA's nvcc, which is not installed here: pip install nvidia-cuda-nvcc"):
        RawModule(NVCC_STYLE, name_expressions=["k<float>"], toolchain="nvcc").get_function("k<float>")


def _nvcc_missing() -> bool:
    try:
        toolchain.nvcc_path()
    except BackendUnavailable:
        return True
    return False


@pytest.mark.skipif(_nvcc_missing(), reason="nvcc is not installed (pip install nvidia-cuda-nvcc)")
def test_a_kernel_written_for_nvcc_is_judged_by_nvcc():
    with pytest.raises(KernelCompileError, match=rf"{JUDGED}(.|\n)*cannot open source file \"cassert\""):
        RawModule(NVCC_STYLE, name_expressions=["k<float>"]).get_function("k<float>")
    module = RawModule(NVCC_STYLE, name_expressions=["k<float>", "k<double>"], toolchain="nvcc")
    x = np.zeros(64)
    module.get_function("k<double>")((1,), (64,), (x,))
    assert (x == 2).all()
    bad = 'int host_only(int a) { return a + 1; }\n__global__ void k(float* x) { x[threadIdx.x] = host_only(3); }'
    with pytest.raises(KernelCompileError, match=r"\(sm_80, nvcc\)(.|\n)*calling a __host__ function"):
        RawKernel(bad, "k", toolchain="nvcc")((1,), (1,), (torch.zeros(1),))
