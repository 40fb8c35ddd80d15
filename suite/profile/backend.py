"""A host backend whose launches are counted: every kernel it loads is built instrumented
(suite.profile.build), and each launch leaves a LaunchProfile in `backend.launches`.

    backend = ProfilingBackend()
    suite.ops.attention(q, k, v, backend=backend)     # anything that takes a backend object
    backend.launches[-1].lines[0]                     # the worst source line of the last launch

Launches run on one worker thread, so the records come in a fixed order and need no lock.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from suite.backends import host_abi as abi, host_build
from suite.backends.host_backend import HostBackend, HostKernel, HostModule
from suite.errors import InputError
from suite.profile import source_lines
from suite.profile.build import build_profiled_module
from suite.profile.counting import rows_from
from suite.profile.summary import LaunchProfile, summarize


class ProfilingBackend(HostBackend):
    name = "host"

    def __init__(self, arch: str = "sm_80"):
        super().__init__(arch=arch, threads=1)
        self.launches: list[LaunchProfile] = []

    def describe(self) -> dict:
        return super().describe() | {"profiled": True}

    def load_module(self, source, name_expressions, options=()) -> HostModule:
        source = Path(source).resolve()
        names, options = tuple(name_expressions), tuple(options)
        if not source.is_file():
            raise InputError(f"kernel source {source} cannot be read")
        key = (source, names, options, source.stat().st_mtime_ns)
        module = self._modules.get(key)
        if module is None:
            abi.load_runtime(host_build.runtime_library(self.fibers))
            library = build_profiled_module(source, names, options, self.fibers)
            module = self._modules[key] = ProfiledModule(self, source, names, abi.load_module(library), library)
        return module


class ProfiledModule(HostModule):
    def __init__(self, backend, source, names, library, path: Path):
        super().__init__(backend, source, names, library)
        self.path = path
        library.suite_profile_begin.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_int, ctypes.c_uint64]
        library.suite_profile_finish.argtypes = [ctypes.POINTER(ctypes.c_uint64)] * 3
        library.suite_profile_finish.restype = ctypes.c_void_p
        self.labels: dict[int, str] = {}  # code address -> source line, filled as launches need them

    def get_function(self, name: str) -> HostKernel:
        if name not in self._kernels:
            kernel = super().get_function(name)
            self._kernels[name] = ProfiledKernel(self, kernel)
        return self._kernels[name]

    def line_of(self, pcs) -> dict[int, str]:
        missing = [pc for pc in pcs if pc not in self.labels]
        self.labels.update(source_lines.resolve(self.path, missing))
        return self.labels


class ProfiledKernel(HostKernel):
    def __init__(self, module: ProfiledModule, plain: HostKernel):
        super().__init__(module.backend, plain.name, plain._launcher, plain.params)
        self.module = module

    def run(self, argv, buffers, grid, block, shared_mem, schedule=abi.FORWARD, seed=0, workers=None) -> None:
        lib = self.module._library
        spans = [v for b in buffers for v in (b.start, b.end)]
        lib.suite_profile_begin((ctypes.c_uint64 * max(1, len(spans)))(*spans), len(buffers), shared_mem)
        try:
            super().run(argv, buffers, grid, block, shared_mem, schedule, seed, workers=1)
            count, loaded, stored = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
            pointer = lib.suite_profile_finish(ctypes.byref(count), ctypes.byref(loaded), ctypes.byref(stored))
            rows = rows_from(pointer, count.value)
        finally:
            lib.suite_profile_end()
        labels = self.module.line_of(rows["pc"].tolist())
        self.backend.launches.append(summarize(self.name, grid, block, shared_mem, rows, loaded.value, stored.value,
                                               labels.__getitem__))
