"""The cupy backend on a real GPU: compile, launch with zero-copy torch tensors, stream order, clear
errors, dynamic shared memory, the device description and the event timers."""

import subprocess
import sys
import textwrap

import numpy
import pytest

from suite import timing
from suite.errors import KernelCompileError, KernelLaunchError

pytestmark = pytest.mark.gpu

SOURCE = r"""
template <typename T>
__global__ void axpy(const T* x, T* y, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = (T)a * x[i] + y[i];  // in T: the double instantiation is held to float64 tolerances
}

extern "C" __global__ void reverse_in_smem(const float* x, float* y, int n) {
    extern __shared__ float s[];
    for (int i = threadIdx.x; i < n; i += blockDim.x) s[i] = x[i];
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = s[n - 1 - i];
}

extern "C" __global__ void write_null(float* y) { ((float*)0)[threadIdx.x + 1024] = 1.0f; y[0] = 2.0f; }
"""
EXPRS = ("axpy<float>", "axpy<double>", "reverse_in_smem", "write_null")


@pytest.fixture(scope="module")
def backend():
    from suite.backends import get_backend

    return get_backend("cupy")


@pytest.fixture(scope="module")
def module(backend, tmp_path_factory):
    src = tmp_path_factory.mktemp("kernels") / "test_kernels.cu"
    src.write_text(SOURCE)
    return backend.load_module(src, EXPRS)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_template_kernel_writes_into_the_torch_tensor(backend, module, dtype):
    import torch

    gen = torch.Generator(device=backend.device).manual_seed(1)
    n = 1000
    x = torch.randn(n, device=backend.device, generator=gen, dtype=getattr(torch, dtype))
    y = torch.randn(n, device=backend.device, generator=gen, dtype=getattr(torch, dtype))
    expected = 0.5 * x + y
    kernel = module.get_function("axpy<float>" if dtype == "float32" else "axpy<double>")
    kernel(((n + 127) // 128,), (128,), (x, y, numpy.float32(0.5), numpy.int32(n)))
    backend.synchronize()
    torch.testing.assert_close(y, expected)  # y itself changed: no copy crossed DLPack


def test_launches_follow_torch_current_stream(backend, module):
    import torch

    n = 1 << 20
    side = torch.cuda.Stream(device=backend.device)
    kernel = module.get_function("axpy<float>")
    with torch.cuda.stream(side):
        x = torch.full((n,), 3.0, device=backend.device)
        y = torch.zeros(n, device=backend.device)
        torch.cuda._sleep(10_000_000)  # keep the stream busy so a launch elsewhere would run first
        x.fill_(5.0)
        kernel(((n + 255) // 256,), (256,), (x, y, numpy.float32(1.0), numpy.int32(n)))
        total = y.sum()
    assert total.item() == 5.0 * n


def test_a_bound_launch_makes_its_cupy_views_once(backend, module, monkeypatch):
    import cupy
    import torch

    conversions, real = [], cupy.from_dlpack
    monkeypatch.setattr(cupy, "from_dlpack", lambda tensor: conversions.append(tensor.shape) or real(tensor))
    gen = torch.Generator(device=backend.device).manual_seed(3)
    n = 1000
    x, y = (torch.randn(n, device=backend.device, generator=gen) for _ in range(2))
    expected = y + 5 * 0.5 * x
    launch = module.get_function("axpy<float>").bind(((n + 127) // 128,), (128,), (x, y, numpy.float32(0.5), numpy.int32(n)))
    assert len(conversions) == 2
    for _ in range(5):
        launch()
    backend.synchronize()
    assert len(conversions) == 2
    torch.testing.assert_close(y, expected)


def test_bad_arguments_name_the_kernel_and_argument(backend, module):
    import torch

    kernel = module.get_function("axpy<float>")
    y = torch.zeros(4, device=backend.device)
    with pytest.raises(KernelLaunchError, match=r"argument 2 of axpy<float> is float.*numpy.float32"):
        kernel((1,), (4,), (y, y, 0.5, numpy.int32(4)))
    with pytest.raises(KernelLaunchError, match=r"argument 0 of axpy<float> is a tensor on cpu"):
        kernel((1,), (4,), (torch.zeros(4), y, numpy.float32(0.5), numpy.int32(4)))
    with pytest.raises(KernelLaunchError, match="not among the name expressions"):
        module.get_function("axpy<int>")


def test_dynamic_shared_memory_above_48k_needs_the_opt_in(backend, module):
    import torch

    n = 20_000  # 80 000 bytes
    gen = torch.Generator(device=backend.device).manual_seed(2)
    x = torch.randn(n, device=backend.device, generator=gen)
    y = torch.empty(n, device=backend.device)
    kernel = module.get_function("reverse_in_smem")
    with pytest.raises(KernelLaunchError, match="max_dynamic_shared_size_bytes"):
        kernel((1,), (256,), (x, y, numpy.int32(n)), shared_mem=4 * n)
    kernel.max_dynamic_shared_size_bytes = 4 * n
    kernel((1,), (256,), (x, y, numpy.int32(n)), shared_mem=4 * n)
    backend.synchronize()
    torch.testing.assert_close(y, x.flip(0))


def test_modules_are_cached_and_compile_errors_name_file_and_line(backend, module, tmp_path):
    assert backend.load_module(module.source, EXPRS) is module
    broken = tmp_path / "broken.cu"
    broken.write_text('extern "C" __global__ void k(float* y) {\n    y[0] = undefined_name;\n}\n')
    with pytest.raises(KernelCompileError) as info:
        backend.load_module(broken, ("k",))
    assert f"{broken}(2)" in str(info.value) and "undefined_name" in str(info.value)


def test_describe_gives_the_device_section(backend):
    import torch

    d = backend.describe()
    major, minor = torch.cuda.get_device_capability(backend.device)
    assert d["arch"] == f"sm_{major}{minor}" and d["name"] == torch.cuda.get_device_name(backend.device)
    assert d["sm_count"] > 0 and d["l2_bytes"] > 1 << 20 and d["memory_bytes"] > 1 << 30
    assert d["driver_version"] and d["runtime_version"]


@pytest.mark.parametrize("mode", ["cold", "hot"])
def test_event_timers_measure_a_known_device_wait(backend, mode):
    wait_s = 300e-6
    cfg = timing.TimingConfig(warmup=2, min_samples=10, max_samples=50, target_noise=0.01, budget_s=2)
    stats = timing.measure(lambda: backend.hold(wait_s), backend.timer(mode, launches=5), cfg)
    assert stats.median_s == pytest.approx(wait_s, rel=0.15)
    clocks = [c for c in stats.flags["sm_clock_mhz"] if c is not None]
    assert clocks and all(100 < c < 5000 for c in clocks)


def test_a_fault_is_reported_with_the_kernel_and_later_launches_fail_clearly(module):
    # a fault ruins the CUDA context of its process: run it in a child
    script = textwrap.dedent(f"""
        import numpy, torch
        from suite.backends import get_backend
        from suite.errors import KernelFault
        b = get_backend("cupy")
        m = b.load_module({str(module.source)!r}, {EXPRS!r})
        y = torch.zeros(4, device=b.device)
        m.get_function("write_null")((1,), (32,), (y,))
        for step in ("sync", "relaunch"):
            try:
                b.synchronize() if step == "sync" else m.get_function("axpy<float>")((1,), (4,), (y, y, numpy.float32(1), numpy.int32(4)))
                print(step, "NO ERROR")
            except KernelFault as e:
                print(step, "KernelFault:", e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout + out.stderr
    assert lines[0].startswith("sync KernelFault:") and "write_null" in lines[0]
    assert lines[1].startswith("relaunch KernelFault:") and "lost earlier" in lines[1] and "write_null" in lines[1]
