"""The host backend: the suite's .cu kernels (and any CuPy-style kernel) on the CPU, with CUDA's
execution semantics. See suite/emulator/ for the emulation and its compiler side.

    backend = HostBackend(checks={"memcheck"}, arch="sm_80", threads=None)
    kernel = backend.load_module(path, ["deform_im2col<float, int>"]).get_function("deform_im2col<float, int>")
    kernel((blocks,), (256,), (x, offset, ..., np.int32(n)), shared_mem=0)

Launches are synchronous. Before a launch the arguments are checked against the kernel's
signature and the geometry against the architecture's limits (KernelLaunchError); a kernel that
misbehaves while running raises KernelFault naming the kernel, block, thread and source line.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import threading
from pathlib import Path
from typing import Callable

import torch

from suite.backends import check_set
from suite.emulator import abi, args as host_args, build, lane_plan
from suite.emulator.memory_pointer import MemoryPointer, module_global
from suite.emulator.toolchain import GpuVerdict, choose as choose_toolchain
from suite.machine import cpu_model
from suite.errors import InputError, KernelFault, KernelLaunchError
from suite.timing import HOST_TIMING, WallTimer, check_timer_mode

STATIC_SMEM_LIMIT = 48 * 1024  # dynamic shared memory above this needs the opt-in attribute
# Opt-in dynamic shared memory per block (shared/reference/ptx-and-limits.md, section 4).
SMEM_OPTIN_LIMIT = {"sm_80": 163 * 1024, "sm_86": 99 * 1024, "sm_89": 99 * 1024, "sm_90": 227 * 1024}
MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK = (1024, 1024, 64)
MAX_GRID = (2**31 - 1, 65535, 65535)
_SIGNALS = {
    signal.SIGSEGV: "invalid memory access (SIGSEGV)",
    signal.SIGBUS: "bus error (SIGBUS)",
    signal.SIGFPE: "arithmetic fault (SIGFPE: integer division by zero?)",
    signal.SIGILL: "illegal instruction (SIGILL)",
}
DEFAULT_TIMEOUT_S = 60.0
NEAR_BYTES = 1 << 20  # a fault this close to an argument's array is reported as near it


def _threads_default() -> int:
    env = os.environ.get("SUITE_HOST_THREADS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise InputError(f"SUITE_HOST_THREADS={env!r}: expected a positive integer")
        return int(env)
    return os.cpu_count() or 1


def _lanes_default() -> bool:
    """SUITE_HOST_LANES: "auto" (default: kernels that may run as lane loops do) or "off" (every
    thread a fiber, as checked runs always are)."""
    env = os.environ.get("SUITE_HOST_LANES", "auto")
    if env not in ("auto", "off"):
        raise InputError(f"SUITE_HOST_LANES={env!r}: expected auto or off")
    return env == "auto"


def _timeout_default() -> float:
    """SUITE_HOST_TIMEOUT: seconds a launch may go without progress before it is stopped (0: never)."""
    env = os.environ.get("SUITE_HOST_TIMEOUT")
    if env is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(env)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InputError(f"SUITE_HOST_TIMEOUT={env!r}: expected a number of seconds (0: no limit)")
    return value




_ARCH_OPTION = re.compile(r"^(?:-arch|--gpu-architecture)=(sm_\d+a?)$")


def limits_arch(arch: str) -> str:
    """The architecture whose launch limits apply (sm_90a has sm_90's), checked."""
    base = arch[:-1] if arch.endswith("a") else arch
    if base not in SMEM_OPTIN_LIMIT:
        raise InputError(f"arch {arch!r} is not known to the host backend; expected one of {', '.join(SMEM_OPTIN_LIMIT)}")
    return base


def module_arch(options, default: str) -> str:
    """The architecture a module is built for: its -arch=/--gpu-architecture= option, as NVRTC takes
    it (a kernel that needs sm_90a says so), else the backend's."""
    for opt in options:
        if isinstance(opt, str) and (m := _ARCH_OPTION.match(opt)):
            return m.group(1)
    return default


class HostBackend:
    name = "host"
    device = torch.device("cpu")
    context_lost = None  # a kernel fault here is an exception, never the end of the process's device
    baselines_comparable = False  # CPU times of PyTorch say nothing next to the emulation's
    # The SM count launchers size grids by (split-KV, channel chunks): an H100 SXM's, so that the
    # host takes the choices a big GPU would at the same shapes.
    sm_count = 132

    def __init__(self, checks=frozenset(), arch: str = "sm_80", threads: int | None = None, toolchain: str | None = None):
        checks = check_set(checks)
        self.gpu_build_arch = arch  # what the GPU toolchain's build targets: sm_90a keeps wgmma and setmaxnreg
        arch = limits_arch(arch)
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InputError(f"threads={threads!r}: expected a positive integer")
        self.checks = checks
        self.arch = arch
        # The GPU compiler that judges every build (suite/emulator/toolchain.py); None: $SUITE_HOST_TOOLCHAIN.
        self.toolchain = None if toolchain is None else choose_toolchain(toolchain)
        self.threads = threads or _threads_default()
        self.fibers = os.environ.get("SUITE_HOST_FIBERS", "auto")
        self.lanes = _lanes_default()
        self.timeout_s = _timeout_default()
        self._modules: dict = {}
        self._lock = threading.Lock()
        self.sources_loaded: set[Path] = set()
        # Kernel name expression -> what it waits at (lane_plan.constructs; empty: lane loops), for
        # suite run's line; plain runs with lane loops on only.
        self.execution_modes: dict[str, tuple[str, ...]] = {}

    def describe(self) -> dict:
        return {
            "name": f"CPU emulation on {cpu_model()}",
            "arch": self.arch,
            "max_dynamic_smem_bytes": SMEM_OPTIN_LIMIT[self.arch],
            "threads": self.threads,
            "checks": sorted(self.checks),
            "compiler": build.compiler_identity().splitlines()[0],
            "fibers": self.fibers,
            "lanes": "auto" if self.lanes and not self.checks else "off",
            "toolchain": choose_toolchain(self.toolchain),
        }

    def load_module(self, source, name_expressions, options=(), toolchain: str | None = None) -> HostModule:
        """The module of `name_expressions` of `source`, built by g++ while a GPU toolchain
        (`toolchain`, else the backend's) compiles it too: what a GPU rejects is a KernelCompileError."""
        source = Path(source).resolve()
        self.sources_loaded.add(source)
        names, options = tuple(name_expressions), tuple(options)
        judge = choose_toolchain(toolchain if toolchain is not None else self.toolchain)
        try:
            stat = source.stat()
        except OSError as exc:
            raise InputError(f"kernel source {source} cannot be read: {exc}") from exc
        key = (source, names, options, judge, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            module = self._modules.get(key)
            if module is None:
                runtime = build.runtime_library(self.fibers)
                checked = bool(self.checks)
                cached = build.cached_module(source, names, options, self.fibers, checked=checked)
                target = module_arch(options, self.gpu_build_arch)
                verdict = GpuVerdict(source, names, options, target, judge, cached)  # runs beside g++
                library = build.build_module(source, names, options, self.fibers, checked=checked)
                static_smem = verdict.static_smem(library)
                abi.load_runtime(runtime)
                module = HostModule(self, source, names, library, options, static_smem, limits_arch(target))
                self._modules[key] = module
        return module

    def synchronize(self) -> None:
        """Launches are synchronous on the host: nothing is ever pending."""

    def lost_context(self, exc: BaseException, doing: str) -> bool:
        """Whether the device is unusable in this process after `exc`: never through a fault here
        (`context_lost` stays None unless a test's stand-in for a GPU sets it)."""
        return bool(self.context_lost)

    default_timing = HOST_TIMING

    def timer(self, mode: str = "cold", launches: int = 10) -> WallTimer:
        """Launches are synchronous, so the wall clock brackets the work; there is no GPU cache to
        flush, so `cold` is one launch per sample and `hot` `launches` launches in a row."""
        check_timer_mode(mode, launches)
        return WallTimer(launches if mode == "hot" else 1)


class HostModule:
    def __init__(self, backend: HostBackend, source: Path, names: tuple, path: Path, options: tuple = (),
                 static_smem: dict | None = None, arch: str | None = None):
        self.backend, self.source, self.names, self.path, self.options = backend, source, names, path, options
        self.arch = arch or backend.arch  # whose launch limits apply: the module's target, else the backend's
        self.static_smem = static_smem or {}  # per name, from the GPU build (0 where none was made)
        # Per name, what its lane entry reaches (lane_plan.plan); none in a checked build.
        self.lane_plans = {k["name"]: k for k in lane_plan.load(path) or ()}
        self._library = abi.load_module(path)
        self._kernels: dict = {}

    def get_function(self, name: str) -> HostKernel:
        if name not in self.names:
            raise InputError(
                f"{name!r} is not among the kernels {self.source} was loaded with ({', '.join(self.names)}); "
                "add it to name_expressions"
            )
        if name not in self._kernels:
            i = self.names.index(name)
            kernel = HostKernel(self, name, abi.launcher(self._library, i), abi.signature(self._library, i))
            kernel.static_smem = self.static_smem.get(name, 0)
            self._kernels[name] = kernel
        return self._kernels[name]


    def module_lanes_why(self, name: str) -> str | None:
        """Why kernel `name` runs every thread as a fiber; None when its blocks run as lane loops."""
        if not self.backend.lanes:
            return "SUITE_HOST_LANES=off"
        kernel = self.lane_plans.get(name)
        return "checked build" if kernel is None else lane_plan.why_not(kernel)

    def get_global(self, name: str) -> MemoryPointer:
        """A `__constant__`/`__device__` variable of the module, as cupy.RawModule.get_global gives it."""
        return module_global(self._library, self.path, name)


def _dims(value, what: str) -> tuple[int, int, int]:
    dims = (value,) if isinstance(value, int) else tuple(value)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, int) or hasattr(d, "__index__") for d in dims):
        raise KernelLaunchError(f"{what} must be an int or a tuple of 1 to 3 ints; got {value!r}")
    dims = tuple(int(d) for d in dims) + (1,) * (3 - len(dims))
    return dims


class HostKernel:
    """One kernel, called as kernel(grid, block, args, shared_mem=0), like cupy.RawKernel."""

    def __init__(self, module: HostModule, name: str, launcher, params: list):
        self.module, self.backend, self.name, self._launcher, self.params = module, module.backend, name, launcher, params
        self._max_dynamic_smem = STATIC_SMEM_LIMIT
        self._opted_in = False
        # Static shared memory of the GPU build (suite/emulator/toolchain.py); 0 under SUITE_HOST_TOOLCHAIN=none.
        self.static_smem = 0
        self.lanes_why = module.module_lanes_why(name)  # None: its blocks run as lane loops (emu/lanes.h)
        kernel_plan = module.lane_plans.get(name)
        if kernel_plan is not None and self.backend.lanes:
            self.backend.execution_modes[name] = lane_plan.constructs(kernel_plan)
        # Indices of the arguments a launch adds into with atomics (a scatter into a zeroed buffer):
        # such an argument owns no element in particular, so initcheck does not judge it.
        self.accumulators: frozenset[int] = frozenset()

    @property
    def max_dynamic_shared_size_bytes(self) -> int:
        return self._max_dynamic_smem

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, value: int) -> None:
        limit = SMEM_OPTIN_LIMIT[self.module.arch]
        if not 0 <= int(value) <= limit:
            raise KernelLaunchError(
                f"{self.name}: max_dynamic_shared_size_bytes={value} is above {self.module.arch}'s opt-in limit of {limit} bytes"
            )
        self._max_dynamic_smem, self._opted_in = int(value), True

    def check_geometry(self, grid, block, shared_mem: int) -> None:
        for what, dims, limits in (("grid", grid, MAX_GRID), ("block", block, MAX_BLOCK)):
            if min(dims) < 1:
                raise KernelLaunchError(f"{self.name}: {what} {dims} has a zero or negative dimension (CUDA refuses empty launches)")
            for axis, d, m in zip("xyz", dims, limits):
                if d > m:
                    raise KernelLaunchError(f"{self.name}: {what}.{axis} = {d} is above the limit of {m}")
        threads = block[0] * block[1] * block[2]
        if threads > MAX_THREADS_PER_BLOCK:
            raise KernelLaunchError(f"{self.name}: block {block} has {threads} threads; at most {MAX_THREADS_PER_BLOCK} per block")
        if shared_mem < 0:
            raise KernelLaunchError(f"{self.name}: shared_mem={shared_mem} is negative")
        limit = SMEM_OPTIN_LIMIT[self.module.arch]
        if shared_mem > limit:
            raise KernelLaunchError(
                f"{self.name}: shared_mem={shared_mem} bytes is above {self.module.arch}'s limit of {limit} bytes of dynamic shared memory per block"
            )
        if shared_mem > self._max_dynamic_smem:
            raise KernelLaunchError(
                f"{self.name}: shared_mem={shared_mem} bytes needs kernel.max_dynamic_shared_size_bytes >= {shared_mem} "
                f"(now {self._max_dynamic_smem}): above {STATIC_SMEM_LIMIT} bytes a kernel must opt in, as on the GPU"
            )
        total = self.static_smem + shared_mem
        if total > (limit if self._opted_in else STATIC_SMEM_LIMIT):
            raise KernelLaunchError(
                f"{self.name}: {self.static_smem} bytes of static and {shared_mem} of dynamic shared memory are above "
                + (f"{self.module.arch}'s limit of {limit} bytes per block" if self._opted_in else
                   f"{STATIC_SMEM_LIMIT} bytes; set kernel.max_dynamic_shared_size_bytes first (the opt-in), as on the GPU")
            )

    def __call__(self, grid, block, args, shared_mem: int = 0, enable_cooperative_groups: bool = False) -> None:
        self.bind(grid, block, args, shared_mem, enable_cooperative_groups)()

    def bind(self, grid, block, args, shared_mem: int = 0, enable_cooperative_groups: bool = False) -> Callable[[], None]:
        """This launch as a zero-argument callable, its geometry checked and its arguments packed once,
        so that relaunching (timing) costs the launch only. The tensors must stay where they are.
        enable_cooperative_groups: a cooperative launch (every block resident; this_grid().sync())."""
        grid, block = _dims(grid, "grid"), _dims(block, "block")
        shared_mem = int(shared_mem)
        self.check_geometry(grid, block, shared_mem)
        packed = host_args.pack(self.name, self.params, args)

        cooperative = bool(enable_cooperative_groups)

        def launch() -> None:
            self.launch_packed(packed, grid, block, shared_mem, cooperative)

        launch.arguments = tuple(args)  # what the packed pointers point into, alive as long as the launch
        return launch

    def launch_packed(self, packed, grid, block, shared_mem: int, cooperative: bool = False) -> None:
        """One launch of checked geometry and packed arguments: every call and bound launch ends here
        (a subclass that counts launches overrides this)."""
        if self.backend.checks:
            from suite.emulator.checks import checked_launch

            checked_launch(self, packed, grid, block, shared_mem, cooperative)
        else:
            self.run(packed.argv, packed.buffers, grid, block, shared_mem, cooperative=cooperative)

    def run(self, argv, buffers, grid, block, shared_mem, schedule=abi.FORWARD, seed=0, workers=None, checks=None,
            cooperative=False) -> None:
        """One launch with a pointer table; `checks` (an abi.Checks) for a checked build. Raises KernelFault."""
        config = abi.LaunchConfig(
            grid, block, shared_mem, workers or self.backend.threads, schedule, seed, self.backend.timeout_s,
            ctypes.pointer(checks) if checks is not None else None, int(cooperative), int(self.lanes_why is None),
        )
        fault = abi.Fault()
        if self._launcher(config, argv, fault) != abi.OK:
            raise KernelFault(describe_fault(self.name, fault, buffers))


def describe_fault(kernel: str, fault: abi.Fault, buffers) -> str:
    where = f"kernel {kernel}"
    if fault.has_block:
        where += ", block ({}, {}, {})".format(*fault.block)
    if fault.has_thread:
        where += ", thread ({}, {}, {})".format(*fault.thread)
    if fault.kind == abi.STACK_OVERFLOW:
        return (
            f"{where}: stack overflow: the thread used more than its {fault.stack_size // 1024} KiB stack "
            "(large local arrays or deep recursion)"
        )
    if fault.kind == abi.SIGNAL:
        what = _SIGNALS.get(fault.signal, f"signal {fault.signal}")
        return f"{where}: {what} at address 0x{fault.address:x}{near_buffer(fault.address, buffers)}"
    return f"{where}: {fault.message.decode(errors='replace')}"


def near_buffer(address: int, buffers) -> str:
    """Where `address` lies relative to the arguments' arrays, when it is in or near one."""
    best = None
    for b in buffers:
        distance = b.start - address if address < b.start else address - b.end + 1 if address >= b.end else 0
        if distance <= NEAR_BYTES and (best is None or distance < best[0]):
            best = (distance, b)
    if best is None:
        return " (not near any argument's array)"
    distance, b = best
    offset = address - b.address
    element = f", element {offset // b.itemsize}" if b.itemsize else ""
    if distance == 0:
        return f", inside {b.label()} at byte offset {offset}{element}"
    if address < b.start:
        return f", {distance} bytes before the start of {b.label()}"
    return f", past the end of {b.label()} at byte offset {offset}{element}"
