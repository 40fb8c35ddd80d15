"""The GPU backend: the .cu files compiled by NVRTC through `cupy.RawModule`, launched on torch's
current stream with torch CUDA tensors passed through DLPack (zero copy).

CUDA reports a fault of a running kernel (illegal address, trap...) only at the next
synchronization, and it leaves the CUDA context unusable for the rest of the process. The backend
therefore remembers which kernels ran since the last synchronization to name the culprit, records
the loss in `context_lost` (the runner then goes on with the remaining cases in a fresh process), and
fails every later launch in this process at once with the same explanation.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Callable

import cupy
import numpy
import torch

from suite import KERNELS_DIR, timing
from suite.backends.cuda_faults import is_sticky
from suite.backends.cuda_stream import stream_protocol
from suite.errors import KernelCompileError, KernelFault, KernelLaunchError
from suite.kernels.compile_options import nvrtc_options

_rt = cupy.cuda.runtime
_CUDA_ERRORS = (cupy.cuda.driver.CUDADriverError, _rt.CUDARuntimeError)

# CuPy passes a kernel argument by its bytes only; a same-size integer view lets dtypes CuPy lacks
# (bfloat16, bool, float8) cross DLPack unchanged.
_SAME_SIZE_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}

# For timing.CudaEventTimer: `suite_hold` spins for `wait_ns` of globaltimer (it covers the host's
# launch overhead); `suite_clock_stamp`, launched with a block per SM, writes the globaltimer and the
# cycle counter of SM 0 (cycle counters are per SM, so both stamps of a sample must come from one).
_TIMING_SOURCE = r"""
extern "C" __global__ void suite_hold(unsigned long long wait_ns) {
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < wait_ns);
}

extern "C" __global__ void suite_clock_stamp(unsigned long long* out) {
    unsigned int sm;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    if (sm == 0) {
        unsigned long long ns;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
        out[0] = ns;
        out[1] = (unsigned long long)clock64();
    }
}
"""


def cupy_stream(torch_stream, device_index: int):
    """A CuPy stream on the same CUDA stream as `torch_stream`: through the CUDA stream protocol where
    CuPy has it (CuPy 14 deprecates ExternalStream), else by the raw handle."""
    if hasattr(cupy.cuda.Stream, "from_external"):
        return cupy.cuda.Stream.from_external(stream_protocol(torch_stream))
    return cupy.cuda.ExternalStream(torch_stream.cuda_stream, device_index)


@functools.lru_cache(maxsize=None)
def _headers_digest() -> str:
    """CuPy's compile cache keys on the source text and options only, not on included files: this
    digest of every shared header goes into the source so that editing a header recompiles."""
    h = hashlib.sha256()
    for path in sorted(KERNELS_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".cuh", ".h"):
            h.update(str(path.relative_to(KERNELS_DIR)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _attribute(attr: int, device: int) -> int | None:
    try:
        return _rt.deviceGetAttribute(attr, device)
    except Exception:  # an attribute a driver no longer reports
        return None


def _version(v: int) -> str:
    return f"{v // 1000}.{v % 1000 // 10}"


class CupyKernel:
    """One kernel of a loaded module, called as CuPy's RawKernel: kernel(grid, block, args, shared_mem=0)."""

    def __init__(self, raw, name: str, source: Path, backend: "CupyBackend"):
        self._raw, self.name, self.source, self._backend = raw, name, source, backend
        self.accumulators: frozenset[int] = frozenset()  # as HostKernel's; read by the host checks only

    @property
    def max_dynamic_shared_size_bytes(self) -> int:
        return self._raw.max_dynamic_shared_size_bytes

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, nbytes: int) -> None:
        try:
            self._raw.max_dynamic_shared_size_bytes = int(nbytes)
        except _CUDA_ERRORS as exc:
            raise KernelLaunchError(f"{self.name}: cannot allow {nbytes} bytes of dynamic shared memory "
                                    f"(this GPU allows at most {self._backend.smem_optin} per block): {exc}") from None

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        self.bind(grid, block, args, shared_mem)()

    def bind(self, grid, block, args, shared_mem: int = 0) -> Callable[[], None]:
        """This launch as a zero-argument callable with the tensors' CuPy views made once, here: each
        DLPack conversion switches devices (and, off the default stream, records and waits on an
        event), host time that a relaunch (pytest-benchmark's rounds, hot samples) must not pay."""
        backend = self._backend
        backend.check_usable()
        grid, block = tuple(grid), tuple(block)
        with backend.stream():
            device_args = tuple(self._device_arg(i, a) for i, a in enumerate(args))

        def launch() -> None:
            backend.check_usable()
            with backend.stream():
                try:
                    self._raw(grid, block, device_args, shared_mem=shared_mem)
                except _CUDA_ERRORS as exc:
                    if is_sticky(exc):
                        raise backend.lost(exc, f"launching {self.name}") from None
                    raise KernelLaunchError(
                        f"launch of {self.name} (grid {grid}, block {block}, {shared_mem} bytes of dynamic shared "
                        f"memory) was refused: {exc}. Check the launch geometry against the GPU's limits; above 48 KiB "
                        f"of dynamic shared memory set kernel.max_dynamic_shared_size_bytes first "
                        f"(now {self.max_dynamic_shared_size_bytes}, at most {backend.smem_optin})") from None
            backend.launched(self.name)

        return launch

    def _device_arg(self, i: int, arg):
        if isinstance(arg, torch.Tensor):
            if arg.device != self._backend.device:
                raise KernelLaunchError(f"argument {i} of {self.name} is a tensor on {arg.device}; the cupy backend "
                                        f"needs tensors on {self._backend.device}")
            if arg.element_size() not in _SAME_SIZE_INT:
                raise KernelLaunchError(f"argument {i} of {self.name} has dtype {arg.dtype}, which no kernel "
                                        "parameter of the suite takes")
            array = cupy.from_dlpack(arg.detach().view(_SAME_SIZE_INT[arg.element_size()]))
            if arg.numel() and array.data.ptr != arg.data_ptr():  # DLPack may copy; a kernel must see the tensor
                raise KernelLaunchError(f"argument {i} of {self.name}: DLPack copied the tensor instead of sharing it")
            return array
        if isinstance(arg, numpy.generic):
            return arg
        raise KernelLaunchError(
            f"argument {i} of {self.name} is {type(arg).__name__}; pass torch tensors on {self._backend.device} and "
            "NumPy scalars of the parameter's exact type (numpy.int32 for int, numpy.int64 for long long, "
            "numpy.float32 for float): CuPy would pass a Python number as 8 bytes whatever the kernel expects")


class CupyModule:
    """A compiled .cu file: kernels by the name expressions it was loaded with."""

    def __init__(self, raw, source: Path, backend: "CupyBackend"):
        self._raw, self.source, self._backend = raw, source, backend
        self._kernels: dict[str, CupyKernel] = {}

    def get_function(self, name_expression: str) -> CupyKernel:
        kernel = self._kernels.get(name_expression)
        if kernel is None:
            if name_expression not in self._raw.name_expressions:
                raise KernelLaunchError(f"{name_expression} was not among the name expressions {self.source} was "
                                        f"loaded with ({', '.join(self._raw.name_expressions)}); add it to load_module")
            kernel = CupyKernel(self._raw.get_function(name_expression), name_expression, self.source, self._backend)
            self._kernels[name_expression] = kernel
        return kernel


class CupyBackend:
    name = "cupy"
    default_timing = timing.GPU_TIMING
    baselines_comparable = True

    def __init__(self):
        self.index = torch.cuda.current_device()
        self.device = torch.device("cuda", self.index)
        cupy.cuda.Device(self.index).use()
        attr = functools.partial(_attribute, device=self.index)
        self.l2_bytes = attr(_rt.cudaDevAttrL2CacheSize)
        self.smem_optin = attr(_rt.cudaDevAttrMaxSharedMemoryPerBlockOptin)
        self.sm_count = attr(_rt.cudaDevAttrMultiProcessorCount)  # what launchers size grids by (split-KV)
        props = torch.cuda.get_device_properties(self.index)
        self.arch = f"sm_{props.major}{props.minor}"  # what launchers pick tile plans by (attention_tc)
        clock_khz = attr(_rt.cudaDevAttrClockRate)
        self.rated_clock_mhz = clock_khz / 1000 if clock_khz else None
        self._pending: dict[str, None] = {}  # kernels launched since the last synchronize, oldest first
        self.context_lost: str | None = None
        self._modules: dict[tuple, tuple] = {}  # (source, exprs, options) -> (file stamp, module)
        self.sources_loaded: set[Path] = set()
        self._streams: dict[int, object] = {}
        self._flush_buffer = None
        self._timing_module = None

    # --- the backend interface -------------------------------------------------------------------

    def describe(self) -> dict:
        props = torch.cuda.get_device_properties(self.index)
        attr = functools.partial(_attribute, device=self.index)
        memory_clock_khz = attr(_rt.cudaDevAttrMemoryClockRate)
        return {
            "name": props.name,
            "compute_capability": f"{props.major}.{props.minor}",
            "arch": self.arch,
            "sm_count": props.multi_processor_count,
            "memory_bytes": props.total_memory,
            "l2_bytes": self.l2_bytes,
            "sm_clock_mhz": self.rated_clock_mhz,
            "memory_clock_mhz": memory_clock_khz / 1000 if memory_clock_khz else None,
            "memory_bus_bits": attr(_rt.cudaDevAttrGlobalMemoryBusWidth),
            "max_dynamic_smem_bytes": self.smem_optin,
            "driver_version": _version(_rt.driverGetVersion()),
            "runtime_version": _version(_rt.runtimeGetVersion()),
            "nvrtc_version": ".".join(map(str, cupy.cuda.nvrtc.getVersion())),
            "torch_cuda_version": torch.version.cuda,
        }

    def load_module(self, source, name_expressions, options=()) -> CupyModule:
        source = Path(source).resolve()
        self.sources_loaded.add(source)
        exprs, options = tuple(name_expressions), tuple(nvrtc_options(source, extra=options))
        try:
            stat = source.stat()
            # ops call this on every use: a stat, not a read, tells whether the file changed
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._modules.get((source, exprs, options))
            if cached and cached[0] == stamp:
                return cached[1]
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise KernelCompileError(f"cannot read kernel source {source}: {exc.strerror}") from None
        # `#line` makes NVRTC's diagnostics name the real file and line.
        code = f"// suite headers {_headers_digest()}\n#line 1 {json.dumps(str(source))}\n{text}"
        raw = cupy.RawModule(code=code, options=options, name_expressions=exprs)
        try:
            raw.compile()  # now, so compilation never lands in a timed launch
        except cupy.cuda.compiler.CompileException as exc:
            raise KernelCompileError(f"NVRTC could not compile {source} for {', '.join(exprs)}:\n"
                                     f"{exc.get_message().strip()}") from None
        module = CupyModule(raw, source, self)
        self._modules[(source, exprs, options)] = (stamp, module)
        return module

    def synchronize(self) -> None:
        self.check_usable()
        try:
            torch.cuda.synchronize(self.device)
        except RuntimeError as exc:
            raise self.lost(exc, "running " + (", ".join(self._pending) or "the queued work")) from None
        self._pending.clear()

    def timer(self, mode: str = "cold", launches: int = 10) -> timing.CudaEventTimer:
        """`cold`: one launch per sample after flushing L2 (the headline, as nvbench does);
        `hot`: `launches` back-to-back launches per sample, caches warm."""
        timing.check_timer_mode(mode, launches)
        common = dict(hold=self.hold, probe=self.clock_probe(), rated_clock_mhz=self.rated_clock_mhz)
        if mode == "cold":
            return timing.CudaEventTimer(flush=self.flush_l2, **common)
        return timing.CudaEventTimer(launches=launches, **common)

    # --- used by kernels and timers -------------------------------------------------------------

    def stream(self):
        """CuPy's view of torch's current stream, so kernels are ordered with torch's work."""
        current = torch.cuda.current_stream(self.device)
        s = self._streams.get(current.cuda_stream)
        if s is None:
            s = self._streams[current.cuda_stream] = cupy_stream(current, self.index)
        return s

    def launched(self, kernel_name: str) -> None:
        self._pending[kernel_name] = None

    def check_usable(self) -> None:
        if self.context_lost:
            raise KernelFault(f"the CUDA context was lost earlier ({self.context_lost}); nothing more can run on "
                              "the GPU in this process")

    def lost_context(self, exc: BaseException, doing: str) -> bool:
        """Whether `exc`, raised anywhere while `doing` something (a launch, an event, a torch call, a
        baseline), means this process's CUDA context is unusable; records it in `context_lost`."""
        if not self.context_lost and is_sticky(exc):
            self.lost(exc, doing)
        return bool(self.context_lost)

    def lost(self, exc: BaseException, doing: str) -> KernelFault:
        """Record that the context is gone; the error to raise."""
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # torch appends debugging hints
        self.context_lost = f"CUDA reported '{first_line}' while {doing}"
        return KernelFault(f"{self.context_lost}. This process's CUDA context is unusable now (a sweep goes on in a "
                           "fresh process). Run this case on the CPU with --backend host --check memcheck to find "
                           "the bad access")

    def flush_l2(self) -> None:
        """Evict the L2 cache by writing twice its size (its two halves hash addresses independently)."""
        if self._flush_buffer is None:
            nbytes = 2 * self.l2_bytes if self.l2_bytes else 256 << 20
            self._flush_buffer = torch.empty(nbytes, dtype=torch.uint8, device=self.device)
        self._flush_buffer.zero_()

    def _timing_kernel(self, name: str):
        if self._timing_module is None:
            self._timing_module = cupy.RawModule(code=_TIMING_SOURCE)
        return self._timing_module.get_function(name)

    def hold(self, seconds: float) -> None:
        """Busy-wait `seconds` on the device (enqueued now)."""
        with self.stream():
            self._timing_kernel("suite_hold")((1,), (1,), (numpy.uint64(int(seconds * 1e9)),))

    def clock_probe(self) -> "ClockProbe":
        """The SM clock between two points of the stream (timing.CudaEventTimer's `probe`)."""
        return ClockProbe(self)


class ClockProbe:
    """stamp(0) and stamp(1) enqueue a device stamp each; mhz(), once both ran, is SM 0's cycles over
    the nanoseconds between them (None when no block of a stamp landed on SM 0)."""

    def __init__(self, backend: CupyBackend):
        self._backend = backend
        self._stamps = torch.zeros(2, 2, dtype=torch.int64, device=backend.device)
        self._views = [cupy.from_dlpack(row) for row in self._stamps]  # made once: no conversion per sample
        self._kernel = backend._timing_kernel("suite_clock_stamp")
        self._blocks = _attribute(_rt.cudaDevAttrMultiProcessorCount, backend.index) or 1

    def stamp(self, slot: int) -> None:
        with self._backend.stream():
            if slot == 0:
                self._stamps.zero_()  # a stamp no block wrote reads as 0, never as the last sample's
            self._kernel((self._blocks,), (1,), (self._views[slot],))

    def mhz(self) -> float | None:
        (ns0, cycles0), (ns1, cycles1) = self._stamps.tolist()  # waits for the second stamp
        if not (ns0 and ns1) or ns1 <= ns0:
            return None
        return (cycles1 - cycles0) / (ns1 - ns0) * 1e3
