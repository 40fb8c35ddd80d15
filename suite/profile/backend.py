"""A host backend whose launches are counted: kernels run from the host backend's profiled builds
(its checked builds with the wrappers' marks, build.PROFILED_FLAGS) with no check on and the
profiler's observer attached (suite/emulator/profile/profile_observer.cpp); each launch leaves a
LaunchProfile in `backend.launches`.

    backend = ProfilingBackend()
    suite.ops.attention(q, k, v, backend=backend)     # anything that takes a backend object
    backend.launches[-1].lines[0]                     # the worst source line of the last launch

Launches run on one worker thread, so a block's records are complete when the next block starts.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from suite.emulator import build
from suite.backends.host_backend import HostBackend, HostKernel, HostModule, limits_arch, module_arch
from suite.emulator.checks import CheckedLaunch
from suite.errors import InputError
from suite.profile import counting, source_lines
from suite.profile.summary import LaunchProfile, summarize


class ProfilingBackend(HostBackend):
    def __init__(self, arch: str = "sm_80"):
        super().__init__(arch=arch, threads=1)
        self.launches: list[LaunchProfile] = []

    def describe(self) -> dict:
        return super().describe() | {"profiled": True}

    def load_module(self, source, name_expressions, options=(), toolchain=None) -> HostModule:
        # Profiled builds are not judged by a GPU toolchain (their plain run is): toolchain is ignored.
        source = Path(source).resolve()
        names, options = tuple(name_expressions), tuple(options)
        if not source.is_file():
            raise InputError(f"kernel source {source} cannot be read")
        key = (source, names, options, source.stat().st_mtime_ns)
        module = self._modules.get(key)
        if module is None:
            counting.library()  # before the module: it binds the wrappers' weak hooks
            library = build.build_module(source, names, options, self.fibers, profiled=True)
            arch = limits_arch(module_arch(options, self.gpu_build_arch))
            module = self._modules[key] = ProfiledModule(self, source, names, library, arch)
        return module


class ProfiledModule(HostModule):
    def __init__(self, backend, source, names, path: Path, arch: str):
        super().__init__(backend, source, names, path, arch=arch)
        self.labels: dict[int, str] = {}  # code address -> source line, filled as launches need them

    def get_function(self, name: str) -> HostKernel:
        if name not in self._kernels:
            plain = super().get_function(name)
            self._kernels[name] = ProfiledKernel(self, plain)
        return self._kernels[name]

    def line_of(self, pcs) -> dict[int, str]:
        missing = [pc for pc in pcs if pc not in self.labels]
        self.labels.update(source_lines.resolve(self.path, missing))
        return self.labels


class ProfiledKernel(HostKernel):
    def __init__(self, module: ProfiledModule, plain: HostKernel):
        super().__init__(module, plain.name, plain._launcher, plain.params)

    def launch_packed(self, packed, grid, block, shared_mem: int, cooperative: bool = False) -> None:
        launch = CheckedLaunch(self, packed, shared_mem)  # no check on: the ranges and the observer only
        lib = counting.library()
        launch.struct.observer = ctypes.cast(lib.suite_profile_observe, ctypes.c_void_p).value
        spans = [v for b in launch.buffers for v in (b.start, b.end)]
        lib.suite_profile_begin(ctypes.cast(self._launcher, ctypes.c_void_p),
                                (ctypes.c_uint64 * max(1, len(spans)))(*spans), len(launch.buffers))
        try:
            launch.run(packed.argv, grid, block, cooperative)
            count, loaded, stored = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
            pointer = lib.suite_profile_finish(ctypes.byref(count), ctypes.byref(loaded), ctypes.byref(stored))
            rows = counting.rows_from(pointer, count.value)
        finally:
            lib.suite_profile_end()
        labels = self.module.line_of(rows["pc"].tolist())
        self.backend.launches.append(summarize(self.name, grid, block, shared_mem, rows, loaded.value, stored.value,
                                               labels.__getitem__))
