"""Host backend: argument checks, launch limits, compile errors, options and the build cache."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from suite.emulator import build
from suite.backends.host_backend import HostBackend
from suite.errors import InputError, KernelCompileError, KernelLaunchError

CODE = r"""
#include <cuda_bf16.h>
struct Pair { int a; float b; };

template <typename T, typename Index>
__global__ void fill(T* out, Index n, T value, unsigned flags, double scale, Pair pair, __nv_bfloat16 h) {
    for (Index i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        out[i] = value * T(scale) + T(pair.a) + T(pair.b) + T(flags) + T(float(h));
}
"""


@pytest.fixture(scope="module")
def kernel():
    source = build.source_for_code(CODE)
    return HostBackend(threads=2).load_module(source, ["fill<float, int>"]).get_function("fill<float, int>")


def good_args(out):
    pair = np.array((3, 0.5), dtype=[("a", np.int32), ("b", np.float32)])[()]
    return [out, np.int32(out.numel()), np.float32(2), np.uint32(1), 1.5, pair, torch.tensor([0.25], dtype=torch.bfloat16)]


def test_every_kind_of_argument_reaches_the_kernel(kernel):
    out = torch.zeros(1000)
    kernel((4,), (128,), good_args(out))
    assert torch.equal(out, torch.full((1000,), 2 * 1.5 + 3 + 0.5 + 1 + 0.25))
    kernel((4,), (128,), [out, 1000, np.float32(1), 0, 1.0, bytes(np.array((0, 0.0), dtype=[("a", np.int32), ("b", np.float32)])[()]), torch.zeros(1, dtype=torch.bfloat16)])
    assert torch.equal(out, torch.ones(1000))  # Python ints fit int and unsigned; a Python float is a double


@pytest.mark.parametrize(
    "index,value,expect",
    [
        (1, np.int64(5), "argument 1 of fill<float, int> is int (4 bytes); got numpy.int64 — pass numpy.int32"),
        (2, 2.0, "argument 2 of fill<float, int> is float (4 bytes); got a Python float, which CuPy passes as a double"),
        (2, np.float64(2), "got numpy.float64 — pass numpy.float32"),
        (3, np.int32(1), "argument 3 of fill<float, int> is unsigned int (4 bytes); got numpy.int32 — pass numpy.uint32"),
        (3, -1, "got -1, which does not fit"),
        (4, np.float32(1), "argument 4 of fill<float, int> is double (8 bytes); got numpy.float32 — pass numpy.float64"),
        (5, b"12345", "argument 5 of fill<float, int> is Pair (8 bytes); got 5 bytes"),
        (0, torch.zeros(10, dtype=torch.float64), "argument 0 of fill<float, int> is float*; got a float64 tensor on cpu"),
        (0, np.zeros(10, np.int32), "got a int32 numpy array (4-byte integer elements, the kernel reads 4-byte floating ones)"),
        (0, 7, "argument 0 of fill<float, int> is float* (a pointer); got a Python int"),
        (6, np.float16(1), "argument 6 of fill<float, int> is __nv_bfloat16 (2 bytes); got numpy.float16"),
    ],
)
def test_argument_mismatch_names_the_argument(kernel, index, value, expect):
    args = good_args(torch.zeros(10))
    args[index] = value
    with pytest.raises(KernelLaunchError) as info:
        kernel((1,), (32,), args)
    assert expect in str(info.value)


def test_argument_count(kernel):
    with pytest.raises(KernelLaunchError, match=r"fill<float, int> takes 7 argument\(s\) \(float\*, int, float, unsigned int"):
        kernel((1,), (32,), good_args(torch.zeros(10))[:3])


@pytest.mark.parametrize(
    "grid,block,smem,expect",
    [
        ((1,), (32, 33), 0, "block (32, 33, 1) has 1056 threads; at most 1024"),
        ((1,), (1, 1, 65), 0, "block.z = 65 is above the limit of 64"),
        ((1,), (2048, 1, 1), 0, "block.x = 2048 is above the limit of 1024"),
        ((2**31,), (32,), 0, "grid.x = 2147483648 is above the limit of 2147483647"),
        ((1, 65536), (32,), 0, "grid.y = 65536 is above the limit of 65535"),
        ((1, 1, 65536), (32,), 0, "grid.z = 65536"),
        ((0,), (32,), 0, "zero or negative dimension"),
        ((1,), (32, 0), 0, "zero or negative dimension"),
        ((1,), (32,), 48 * 1024 + 1, "needs kernel.max_dynamic_shared_size_bytes >= 49153"),
        ((1,), (32,), 163 * 1024 + 1, "above sm_80's limit of 166912 bytes"),
    ],
)
def test_launch_limits(kernel, grid, block, smem, expect):
    with pytest.raises(KernelLaunchError) as info:
        kernel(grid, block, good_args(torch.zeros(10)), shared_mem=smem)
    assert expect in str(info.value)


def test_dynamic_shared_memory_opt_in():
    source = build.source_for_code(CODE)
    for arch, limit in (("sm_80", 163 * 1024), ("sm_90", 227 * 1024), ("sm_86", 99 * 1024)):
        kernel = HostBackend(arch=arch).load_module(source, ["fill<float, int>"]).get_function("fill<float, int>")
        with pytest.raises(KernelLaunchError, match=f"above {arch}'s opt-in limit of {limit} bytes"):
            kernel.max_dynamic_shared_size_bytes = limit + 1
        kernel.max_dynamic_shared_size_bytes = limit
        out = torch.zeros(10)
        kernel((1,), (32,), good_args(out), shared_mem=limit)
        assert (out == 7.75).all()


def test_compile_error_names_file_and_line(tmp_path):
    source = tmp_path / "broken.cu"
    source.write_text("__global__ void broken(float* x) {\n    x[0] = undeclared_name;\n}\n")
    with pytest.raises(KernelCompileError) as info:
        HostBackend().load_module(source, ["broken"])
    message = str(info.value)
    assert f"{source}:2:12: error: " in message and "undeclared_name" in message
    assert len(message.splitlines()) < 10  # trimmed to the relevant lines


def test_unknown_kernel_name_is_a_compile_error_naming_it(tmp_path):
    source = tmp_path / "k.cu"
    source.write_text("__global__ void present(float* x) {}\n")
    with pytest.raises(KernelCompileError, match="absent"):
        HostBackend().load_module(source, ["absent"])


def test_options(tmp_path):
    source = tmp_path / "opts.cu"
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "value.h").write_text("#define FROM_HEADER 7\n")
    source.write_text('#include "value.h"\n__global__ void k(int* x) { x[0] = VALUE + FROM_HEADER; }\n')
    options = ("-DVALUE=35", f"-I{tmp_path / 'inc'}", "--std=c++17", "--use_fast_math", "-arch=sm_90", "-lineinfo")
    out = torch.zeros(1, dtype=torch.int32)
    HostBackend().load_module(source, ["k"], options).get_function("k")((1,), (1,), (out,))
    assert out.item() == 42
    for bad in ("-fplugin=evil.so", "--compiler-bindir=/tmp", "-o/tmp/x", "-DX=1\n-fplugin=y"):
        with pytest.raises(InputError, match="option"):
            HostBackend().load_module(source, ["k"], (bad,))


def test_build_cache_skips_the_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "cached.cu"
    source.write_text("__global__ void k(int* x) { x[threadIdx.x] = 3 * threadIdx.x; }\n")
    before = build.compiler_runs()
    HostBackend().load_module(source, ["k"])
    assert build.compiler_runs() == before + 2  # the runtime and the module
    out = torch.zeros(8, dtype=torch.int32)
    HostBackend().load_module(source, ["k"]).get_function("k")((1,), (8,), (out,))  # a fresh backend
    assert build.compiler_runs() == before + 2 and torch.equal(out, 3 * torch.arange(8, dtype=torch.int32))
    # another process finds everything on disk
    script = (
        "import torch; from suite.emulator import build; from suite.backends.host_backend import HostBackend;"
        f"out = torch.zeros(8, dtype=torch.int32); HostBackend().load_module({str(source)!r}, ['k']).get_function('k')((1,), (8,), (out,));"
        "print(build.compiler_runs(), out.sum().item())"
    )
    env = {**os.environ, "SUITE_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["0", str(3 * 28)]
    # an edit of the source, or of a header it includes, rebuilds
    (tmp_path / "three.h").write_text("#define THREE 3\n")
    source.write_text('#include "three.h"\n__global__ void k(int* x) { x[threadIdx.x] = THREE * threadIdx.x; }\n')
    HostBackend().load_module(source, ["k"])
    assert build.compiler_runs() == before + 3
    (tmp_path / "three.h").write_text("#define THREE 4\n")
    HostBackend().load_module(source, ["k"]).get_function("k")((1,), (8,), (out,))
    assert build.compiler_runs() == before + 4 and out.sum().item() == 4 * 28
