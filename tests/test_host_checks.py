"""The host backend's checks (memcheck, racecheck, initcheck, synccheck), each with bugs planted in
small kernels: every finding names its kind, the thread and the source line(s); and the legal
patterns that a GPU runs correctly, which must pass without a finding."""

import os
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from suite import KERNELS_DIR
from suite.backends.host_backend import HostBackend
from suite.emulator.build import source_for_code
from suite.errors import KernelCompileError, KernelFault, KernelLaunchError
from suite.host import RawKernel

CODE = r"""
#include "common/cp_async.cuh"
#include "common/smem.cuh"

extern "C" __global__ void copy_upto(const float* x, float* y, int n, int last) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= last) y[i] = x[i];  // @copy
}

extern "C" __global__ void shifted_read(const float* x, float* y, int n, int shift) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i + shift];  // @shifted
}

extern "C" __global__ void misaligned(float* y, int byte_offset, int vector) {
    char* bytes = reinterpret_cast<char*>(y) + byte_offset;
    if (vector) reinterpret_cast<float4*>(y)[threadIdx.x] = *reinterpret_cast<const float4*>(bytes);  // @vector
    else *reinterpret_cast<float*>(bytes) = 1.0f;  // @scalar
}

extern "C" __global__ void static_shared(const float* x, float* y, int spill) {
    __shared__ float s[64];
    s[threadIdx.x + spill] = x[threadIdx.x];  // @static
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}

extern "C" __global__ void extern_shared(const float* x, float* y) {
    extern __shared__ float e[];
    e[threadIdx.x] = x[threadIdx.x];  // @extern
    __syncthreads();
    y[threadIdx.x] = e[blockDim.x - 1 - threadIdx.x];
}

extern "C" __global__ void dynamic_shared(const float* x, float* y) {
    SUITE_DYNAMIC_SMEM(float, d);
    d[threadIdx.x] = x[threadIdx.x];  // @dynamic
    __syncthreads();
    y[threadIdx.x] = d[blockDim.x - 1 - threadIdx.x];
}

extern "C" __global__ void rotate(const float* x, float* y, int with_barrier) {
    __shared__ float s[64];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = x[i];  // @rotate_write
    if (with_barrier) __syncthreads();
    y[i] = x[i] + 0.01f * s[(threadIdx.x + 1) % blockDim.x];  // @rotate_read
}

extern "C" __global__ void warp_exchange(const float* x, float* y, int second_sync) {
    __shared__ float s[32];
    const int lane = threadIdx.x;
    s[lane] = x[lane];
    __syncwarp();
    const float v = s[(lane + 1) % 32];  // @exchange_read
    if (second_sync) __syncwarp();
    s[lane] = 2.0f * v;  // @exchange_write
    __syncwarp();
    y[lane] = s[lane];
}

extern "C" __global__ void split_syncwarp(const float* x, float* y) {
    __shared__ float s[32];
    const int lane = threadIdx.x;
    s[lane] = x[lane];
    if (lane % 2) __syncwarp();
    else __syncwarp();
    y[lane] = s[31 - lane];
}

extern "C" __global__ void shuffle_sum(const float* x, float* y) {
    float v = x[blockIdx.x * 32 + threadIdx.x];
    for (int d = 16; d; d /= 2) v += __shfl_xor_sync(0xffffffffu, v, d);
    if (threadIdx.x == 0) y[blockIdx.x] = v;
}

extern "C" __global__ void plain_total(const float* x, float* total, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) *total += x[i];  // @total
}

extern "C" __global__ void accumulate(const float* x, float* y, float* total, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] += x[i];
        atomicAdd(total, x[i]);
    }
}

extern "C" __global__ void last_block_wins(int* out) {
    if (threadIdx.x == 0) out[0] = blockIdx.x;  // @last_block
}

__device__ int launches;

extern "C" __global__ void count_launches(int* seen) {
    if (blockIdx.x == 0 && threadIdx.x == 0) seen[0] = ++launches;
}

extern "C" __global__ void early_async_read(const float4* x, float* y, int wait_first) {
    __shared__ float4 s[32];
    cp_async_16(&s[threadIdx.x], &x[threadIdx.x]);  // @cp_async
    cp_async_commit();
    if (wait_first) cp_async_wait<0>();
    const float v = s[threadIdx.x].x;  // @early_read
    cp_async_wait<0>();
    y[threadIdx.x] = v;
}

extern "C" __global__ void half_written_shared(const float* x, float* y, int writers) {
    __shared__ float s[64];
    if (threadIdx.x < writers) s[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];  // @uninitialized
}

extern "C" __global__ void histogram(const int* keys, int* bins, int n, int bins_count) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(&bins[keys[i]], 1);
    if (i < bins_count) atomicAdd(&bins[i], 0);
}

extern "C" __global__ void flag_handoff(float* y) {
    __shared__ volatile int flag;
    __shared__ float value;
    if (threadIdx.x == 0) flag = 0;
    __syncthreads();
    if (threadIdx.x == 1) {
        while (flag == 0) {}
        y[0] = value;
    }
    if (threadIdx.x == 40) {
        value = 42.0f;
        __threadfence_block();
        atomicExch((int*)&flag, 1);
    }
}

extern "C" __global__ void two_barriers_one_line(float* y) {
    if (threadIdx.x % 2) { __syncthreads(); y[threadIdx.x] = 1.0f; } else { __syncthreads(); y[threadIdx.x] = 2.0f; }  // @two_barriers
}

extern "C" __global__ void spin_forever(int* flag) {
    while (*(volatile int*)flag == 0) {}
}
"""

ALL = ("memcheck", "racecheck", "initcheck", "synccheck")
NAMES = re.findall(r'extern "C" __global__ void (\w+)', CODE)
PATH = source_for_code(CODE)


def line(tag: str) -> str:
    """`file:line` of the line of CODE marked `// @tag`."""
    number = next(i for i, text in enumerate(CODE.split("\n"), 1) if text.rstrip().endswith(f"// @{tag}"))
    return f"{PATH}:{number}"


def kernel(name, checks=ALL):
    return HostBackend(checks=frozenset(checks), threads=2).load_module(PATH, NAMES).get_function(name)


def fault(name, grid, block, args, checks=ALL, shared_mem=0) -> str:
    with pytest.raises(KernelFault) as info:
        kernel(name, checks)(grid, block, args, shared_mem=shared_mem)
    return str(info.value)


# ---- memcheck -------------------------------------------------------------------------------------


def test_memcheck_finds_an_overflow_by_one_element_before_it_happens():
    x, y = torch.randn(1000), torch.zeros(1000)
    kernel("copy_upto")((4,), (256,), (x, y, np.int32(1000), np.int32(999)))
    assert torch.equal(y, x)
    message = fault("copy_upto", (4,), (256,), (x, y, np.int32(1000), np.int32(1000)), {"memcheck"})
    assert message.startswith("kernel copy_upto, block (3, 0, 0), thread (232, 0, 0): memcheck: invalid __global__ read of 4 bytes")
    assert f"past the end of argument 0 (float32[1000], 4000 bytes) at byte offset 4000, element 1000 ({line('copy')})" in message


def test_plain_launch_is_unchecked_and_memcheck_finds_what_it_missed():
    # Views into longer tensors: the plain launch's write one past the end lands in live memory.
    x_full, y_full = torch.randn(1001), torch.zeros(1001)
    kernel("copy_upto", ())((4,), (256,), (x_full[:1000], y_full[:1000], np.int32(1000), np.int32(1000)))
    assert y_full[1000] == x_full[1000]  # the plain build wrote element 1000 and nothing noticed
    y_full.zero_()
    message = fault("copy_upto", (4,), (256,), (x_full[:1000], y_full[:1000], np.int32(1000), np.int32(1000)), {"memcheck"})
    assert "element 1000" in message and y_full[1000] == 0  # found before the write


@pytest.mark.parametrize("n, shift, thread, where", [
    (300, -1, "block (0, 0, 0), thread (0, 0, 0)", r"4 bytes before the start of argument 0 \(float32\[300\], 1200 bytes\)"),
    # far away, the nearest array is named (the allocator decides which one that is)
    (300, 4096, "block (0, 0, 0), thread (0, 0, 0)", r"(past the end|before the start) of argument [01] \(float32\[300\]"),
    (300, -4096, "block (0, 0, 0), thread (0, 0, 0)", r"(past the end|before the start) of argument [01] \(float32\[300\]"),
    (1001, 1, "block (3, 0, 0), thread (232, 0, 0)", r"past the end of argument 0 \(float32\[1001\], 4004 bytes\) at byte offset 4004"),
])  # fmt: skip
def test_memcheck_finds_reads_out_of_bounds_near_and_far(n, shift, thread, where):
    x, y = torch.randn(n), torch.zeros(n)
    message = fault("shifted_read", ((n + 255) // 256,), (256,), (x, y, np.int32(n), np.int32(shift)), {"memcheck"})
    assert message.startswith(f"kernel shifted_read, {thread}: memcheck: invalid __global__ read of 4 bytes")
    assert re.search(where, message) and line("shifted") in message


HALF_STORE = r"""
#include "common/bilinear.cuh"
extern "C" __global__ void half_store(const float* x, __half* y, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) store_rounded(y + i, x[i % n]);  // one element too many
}
extern "C" __global__ void half_store_twice(const float* x, __half* y) {  // a second caller: not inlined
    store_rounded(y + threadIdx.x, x[threadIdx.x]);
}
"""


def test_memcheck_sees_a_store_of_a_converted_half():
    # `*p = __float2half_rn(v)` stores the result of a call: g++'s instrumentation skips such a
    # store unless the conversion is inlined (build.CHECKED_FLAGS).
    x, y = torch.randn(100), torch.zeros(100, dtype=torch.float16)
    with pytest.raises(KernelFault, match=r"invalid __global__ write of 2 bytes .* past the end of argument 1 \(float16\[100\]"):
        RawKernel(HALF_STORE, "half_store", options=(f"-I{KERNELS_DIR}",), checks=("memcheck",))((1,), (128,), (x, y, np.int32(100)))


def test_memcheck_finds_misaligned_accesses():
    y = torch.zeros(64)
    message = fault("misaligned", (1,), (1,), (y, np.int32(1), np.int32(0)), {"memcheck"})
    assert "memcheck: misaligned __global__ write of 4 bytes" in message and line("scalar") in message
    message = fault("misaligned", (1,), (2,), (y, np.int32(8), np.int32(1)), {"memcheck"})
    assert "memcheck: misaligned __global__ read of 16 bytes" in message and line("vector") in message
    kernel("misaligned", {"memcheck"})((1,), (2,), (y, np.int32(32), np.int32(1)))  # 16-byte aligned: fine


def test_memcheck_finds_shared_memory_out_of_bounds():
    x, y = torch.randn(64), torch.zeros(64)
    kernel("static_shared")((1,), (64,), (x, y, np.int32(0)))
    assert torch.equal(y, x)
    message = fault("static_shared", (1,), (64,), (x, y, np.int32(1)), {"memcheck"})
    assert "thread (63, 0, 0): memcheck: invalid __shared__ write of 4 bytes" in message
    assert f"__shared__ static_shared::s (256 bytes) at byte offset 256 ({line('static')})" in message


def test_memcheck_bounds_extern_and_dynamic_shared_memory_by_the_launch():
    x, y = torch.randn(64), torch.zeros(64)
    for name in ("extern_shared", "dynamic_shared"):
        kernel(name)((1,), (64,), (x, y), shared_mem=256)
        assert torch.equal(y, x.flip(0))
        message = fault(name, (1,), (64,), (x, y), {"memcheck"}, shared_mem=252)
        assert "thread (63, 0, 0): memcheck: invalid __shared__ write of 4 bytes" in message
        assert "(shared_mem=252 bytes) at byte offset 252" in message
    message = fault("extern_shared", (1,), (64,), (x, y), {"memcheck"}, shared_mem=0)
    assert "thread (0, 0, 0)" in message and "launched with shared_mem=0" in message and line("extern") in message
    message = fault("dynamic_shared", (1,), (64,), (x, y), {"memcheck"}, shared_mem=0)
    assert "dynamic shared memory (shared_mem=0 bytes)" in message and line("dynamic") in message


# ---- racecheck ------------------------------------------------------------------------------------


def test_racecheck_finds_a_missing_barrier_whatever_the_difference_it_makes():
    x = torch.randn(64 * 5)
    y = torch.zeros_like(x)
    kernel("rotate")((5,), (64,), (x, y, np.int32(1)))
    assert torch.allclose(y, x + 0.01 * x.view(5, 64).roll(-1, 1).reshape(-1))
    message = fault("rotate", (5,), (64,), (x, y, np.int32(0)), {"racecheck"})
    assert re.search(r"racecheck: (read-after-write|write-after-read) hazard on __shared__ memory .*__shared__ rotate::s", message)
    assert line("rotate_read") in message and line("rotate_write") in message


def test_racecheck_orders_by_syncwarp_only_lanes_that_took_part_after_the_access():
    x, y = torch.randn(32), torch.zeros(32)
    kernel("warp_exchange")((1,), (32,), (x, y, np.int32(1)))
    assert torch.equal(y, 2 * x.roll(-1))
    message = fault("warp_exchange", (1,), (32,), (x, y, np.int32(0)), {"racecheck"})
    assert "write-after-read hazard on __shared__ memory" in message
    assert f"write of 4 bytes at {line('exchange_write')}, after the read by thread" in message
    assert line("exchange_read") in message


def test_racecheck_finds_an_unsynchronised_read_modify_write_from_many_threads():
    x, total = torch.randn(256), torch.zeros(1)
    message = fault("plain_total", (2,), (128,), (x, total, np.int32(256)), {"racecheck"})
    assert re.search(r"(read-after-write|write-after-write) hazard on __global__ memory", message)
    assert line("total") in message


def test_racecheck_finds_blocks_writing_the_same_element():
    message = fault("last_block_wins", (8,), (32,), (torch.zeros(1, dtype=torch.int32),), {"racecheck"})
    assert "write-after-write hazard on __global__ memory" in message and "blocks are never ordered" in message
    assert line("last_block") in message


def test_racecheck_finds_a_cp_async_destination_read_before_its_wait():
    x, y = torch.randn(32 * 4), torch.zeros(32)
    kernel("early_async_read")((1,), (32,), (x, y, np.int32(1)))
    assert torch.equal(y, x.view(32, 4)[:, 0])
    message = fault("early_async_read", (1,), (32,), (x, y, np.int32(0)), {"racecheck"})
    assert f"({line('early_read')}) before the cp.async.wait_group that covers the cp.async writing it ({line('cp_async')})" in message


def test_racecheck_leaves_module_state_and_atomics_alone():
    seen = torch.zeros(1, dtype=torch.int32)
    k = kernel("count_launches")
    k((4,), (32,), (seen,))
    first = int(seen[0])
    k((4,), (32,), (seen,))
    assert int(seen[0]) == first + 1  # one launch counted once: no rerun
    x = torch.randn(5000)
    y, total = torch.zeros(5000), torch.zeros(1)
    kernel("accumulate")((20,), (256,), (x, y, total, np.int32(5000)))
    assert torch.equal(y, x)
    torch.testing.assert_close(total.double(), x.double().sum().reshape(1), rtol=1e-4, atol=1e-3)


def test_legal_warp_synchronisation_passes_every_check():
    x, y = torch.randn(32), torch.zeros(32)
    kernel("split_syncwarp")((1,), (32,), (x, y))  # __syncwarp at two sites: legal on sm_70+
    assert torch.equal(y, x.flip(0))
    x = torch.randn(4 * 32)
    y = torch.zeros(4)
    kernel("shuffle_sum")((4,), (32,), (x, y))
    torch.testing.assert_close(y, x.view(4, 32).sum(1))


# ---- initcheck ------------------------------------------------------------------------------------


def test_initcheck_finds_shared_memory_read_before_any_thread_wrote_it():
    x, y = torch.randn(64), torch.zeros(64)
    kernel("half_written_shared")((1,), (64,), (x, y, np.int32(64)))
    assert torch.equal(y, x)
    message = fault("half_written_shared", (1,), (64,), (x, y, np.int32(32)), {"initcheck"})
    found = re.search(r"thread \((\d+), 0, 0\): initcheck: __shared__ read of 4 bytes, __shared__ half_written_shared::s "
                      r"\(256 bytes\) at byte offset (\d+)", message)
    assert found and int(found.group(1)) >= 32 and int(found.group(2)) == 4 * int(found.group(1))
    assert line("uninitialized") in message


def test_initcheck_finds_an_unwritten_output_element():
    x, y = torch.randn(1000), torch.zeros(1000)
    with pytest.raises(KernelFault, match=r"initcheck: kernel copy_upto never wrote 1 of 1000 elements of argument 1 \(float32\[1000\]\).*first at index 999"):
        kernel("copy_upto", {"initcheck"})((4,), (256,), (x, y, np.int32(1000), np.int32(998)))


def test_initcheck_leaves_declared_accumulators_alone():
    """A scatter adds into some elements of a zeroed buffer: declared, its untouched elements are fine."""
    x, y = torch.randn(1000), torch.zeros(1000)
    scatter = kernel("copy_upto", {"initcheck"})
    scatter.accumulators = frozenset({1})
    scatter((4,), (256,), (x, y, np.int32(1000), np.int32(600)))
    assert torch.equal(y[:601], x[:601]) and not y[601:].any()


def test_initcheck_accepts_read_modify_write_outputs():
    x, y, total = torch.randn(700), torch.randn(700), torch.zeros(1)
    expect = y + x
    kernel("accumulate", {"initcheck", "memcheck", "racecheck"})((3,), (256,), (x, y, total, np.int32(700)))
    assert torch.equal(y, expect)


def test_initcheck_counts_an_atomic_as_a_write():
    keys = torch.randint(0, 8, (500,), dtype=torch.int32) * 2  # odd bins stay empty
    bins = torch.zeros(16, dtype=torch.int32)
    kernel("histogram")((2,), (256,), (keys, bins, np.int32(500), np.int32(16)))
    assert torch.equal(bins, torch.bincount(keys, minlength=16).int())


# ---- synccheck and forward progress ---------------------------------------------------------------


def test_a_thread_spinning_on_a_flag_lets_the_others_run():
    y = torch.zeros(1)
    kernel("flag_handoff", {"memcheck"})((1,), (64,), (y,))
    assert y[0] == 42.0


def test_synccheck_accepts_two_barriers_on_one_line_as_sm_70_does():
    # Barrier 0 counts arrivals, not call sites (sm_70+): the odd and even threads meet.
    y = torch.zeros(64)
    kernel("two_barriers_one_line", {"synccheck"})((1,), (64,), (y,))
    assert torch.equal(y, torch.tensor([2.0, 1.0]).repeat(32))


@pytest.mark.parametrize("checks", [(), ("memcheck",)])
def test_a_launch_without_progress_ends_as_a_fault_and_the_process_goes_on(monkeypatch, checks):
    monkeypatch.setenv("SUITE_HOST_TIMEOUT", "0.5")
    flag = torch.zeros(1, dtype=torch.int32)
    message = fault("spin_forever", (2,), (32,), (flag,), checks)
    assert "no progress for 0.5 s" in message and "SUITE_HOST_TIMEOUT" in message
    flag[0] = 1
    kernel("spin_forever", checks)((2,), (32,), (flag,))  # the workers are usable again


SECOND_RUNTIME = """
import os, torch
from suite import KERNELS_DIR
from suite.backends.host_backend import HostBackend
from suite.emulator.build import source_for_code
from suite.errors import KernelFault
source = source_for_code('extern "C" __global__ void spin(int* flag) { while (*(volatile int*)flag == 0) {} }')
spin = lambda: HostBackend(threads=2).load_module(source, ["spin"]).get_function("spin")
first = spin()
first((1,), (32,), (torch.ones(1, dtype=torch.int32),))
os.environ["SUITE_HOST_FIBERS"] = "ucontext"  # another build of the runtime, its handlers installed last
spin()((1,), (32,), (torch.ones(1, dtype=torch.int32),))
try:
    first((2,), (32,), (torch.zeros(1, dtype=torch.int32),))
except KernelFault as fault:
    print(fault)
"""


def test_a_stuck_launch_stops_when_a_second_build_of_the_runtime_is_loaded():
    # Both fiber kinds in one process load two builds of the runtime; each one's stop signal must
    # still reach its own workers. Run apart: a lost signal would hang the launch for good.
    env = {**os.environ, "SUITE_HOST_TIMEOUT": "0.5"}
    done = subprocess.run([sys.executable, "-c", SECOND_RUNTIME], env=env,
                          capture_output=True, text=True, timeout=120)
    assert "no progress for 0.5 s" in done.stdout, done.stdout + done.stderr


def test_ctrl_c_ends_a_stuck_launch_as_a_fault():
    flag = torch.zeros(1, dtype=torch.int32)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        message = fault("spin_forever", (1,), (32,), (flag,), ())
    finally:
        timer.cancel()
    assert "interrupted (Ctrl-C)" in message


# ---- where users reach the checks -----------------------------------------------------------------


def test_raw_kernel_takes_checks_and_the_environment_names_them(monkeypatch):
    code = 'extern "C" __global__ void copy_upto(const float* x, float* y, int n, int last) { y[threadIdx.x] = x[threadIdx.x]; }'
    x, y = torch.randn(100), torch.zeros(100)
    args = ((1,), (128,), (x, y, np.int32(100), np.int32(100)))
    with pytest.raises(KernelFault, match="memcheck: invalid __global__ read"):
        RawKernel(code, "copy_upto", checks=("memcheck",))(*args)
    monkeypatch.setenv("SUITE_HOST_CHECKS", "memcheck,racecheck")
    with pytest.raises(KernelFault, match="memcheck: invalid __global__ read"):
        RawKernel(code, "copy_upto")(*args)


# ---- what a GPU toolchain rejects ------------------------------------------------------------------

BIG_STATIC = 'extern "C" __global__ void k(float* x) { __shared__ float s[13000]; s[threadIdx.x] = x[threadIdx.x]; __syncthreads(); x[threadIdx.x] = s[12999 - threadIdx.x]; }'


@pytest.mark.parametrize("code, nvrtc_says", [
    ('#include <vector>\nextern "C" __global__ void k(float* x) { std::vector<int> v(3); x[threadIdx.x] = v.size(); }',
     'cannot open source file "vector"'),
    ('int host_only(int a) { return a + 1; }\nextern "C" __global__ void k(float* x) { x[threadIdx.x] = host_only(3); }',
     "host functions are not allowed"),
    (BIG_STATIC, r"uses too much shared data \(0xcb20 bytes, 0xc000 max\)"),
])
def test_code_a_gpu_toolchain_rejects_runs_only_without_the_gpu_build(code, nvrtc_says):
    x = torch.zeros(64)
    RawKernel(code, "k", toolchain="none")((1,), (32,), (x,))  # g++ alone builds and runs it
    with pytest.raises(KernelCompileError, match=rf"does not build for a GPU \(sm_80, NVRTC, as cupy.RawModule compiles it\)(.|\n)*{nvrtc_says}"):
        RawKernel(code, "k", checks=("memcheck",))((1,), (32,), (x,))


def test_static_plus_dynamic_shared_memory_above_48_kib_needs_the_opt_in():
    code = ('extern "C" __global__ void k(float* x) { __shared__ float s[8192]; extern __shared__ float d[];'
            ' s[threadIdx.x] = x[threadIdx.x]; d[threadIdx.x] = 1.0f; __syncthreads(); x[threadIdx.x] = s[threadIdx.x] + d[threadIdx.x]; }')
    x = torch.randn(64)
    checked = RawKernel(code, "k", checks=("memcheck",))
    checked((1,), (32,), (x.clone(),), shared_mem=16384)  # 32 KiB static + 16 KiB dynamic: exactly the limit
    with pytest.raises(KernelLaunchError, match=r"32768 bytes of static and 16388 of dynamic .*\(the opt-in\)"):
        checked((1,), (32,), (x.clone(),), shared_mem=16388)
    checked.max_dynamic_shared_size_bytes = 20000
    y = x.clone()
    checked((1,), (32,), (y,), shared_mem=16388)
    assert torch.equal(y[:32], x[:32] + 1)
