"""CuPy's RawKernel/RawModule, running on the CPU through the host backend.

Change one import to test a CuPy kernel without a GPU:

    from suite.host import RawKernel          # instead of: from cupy import RawKernel
    add = RawKernel(code, "add")
    add((blocks,), (threads,), (x, y, out, numpy.int32(n)))   # torch CPU tensors or numpy arrays

Under the host backend's checks, as compute-sanitizer would run it on a GPU:

    add = RawKernel(code, "add", checks=("memcheck", "racecheck", "initcheck", "synccheck"))

or, for unchanged code, SUITE_HOST_CHECKS=memcheck,racecheck python my_script.py.

Unlike CuPy, every argument is checked against the kernel's parameter types before the launch
(a numpy.int64 for an `int` is an error here, not a silently misread value). CuPy-only keyword
arguments (backend, jitify, translate_cucomplex, enable_cooperative_groups) are accepted and
ignored. Compilation happens at first use, as in CuPy. As in CuPy, a call with
`enable_cooperative_groups=True` is a cooperative launch: every block resident, this_grid().sync().

`__constant__` and `__device__` variables are filled as with CuPy (suite/emulator/memory_pointer.py
lists the host equivalents of cudaMemcpyToSymbol and friends):

    module = RawModule(code=code)
    module.get_global("coeffs").copy_from_host(coeffs, coeffs.nbytes)   # coeffs: a numpy array
    module.get_global("coeffs").view(numpy.float32)[:] = 1.0            # or write through a view

Texture objects: suite.host.texture has cupy.cuda.texture's classes (and cupy.cuda.runtime's
texture constants); a TextureObject is passed for a `cudaTextureObject_t` parameter.

`profile()` counts the memory behaviour of every launch inside it, as a GPU profiler would
(shared-memory wavefronts and bank conflicts, global sectors per request, per source line):

    with suite.host.profile() as launches:
        add((blocks,), (threads,), (x, y, out, numpy.int32(n)))
    launches[0].bank_conflicts, launches[0].lines[0]     # suite.profile.summary.LaunchProfile
"""

from __future__ import annotations

import contextlib
import re
import weakref
from pathlib import Path

from suite.backends import get_backend
from suite.emulator.build import source_for_code, strip_comments
from suite.emulator import texture  # noqa: F401  (cupy.cuda.texture's equivalents, for users)
from suite.errors import InputError

_KERNEL = re.compile(
    r"\b__global__\b(?P<decl>(?:[^;{}()]|\([^()]*\))*?)\b(?P<name>(?!__launch_bounds__\b)[A-Za-z_]\w*)\s*\("
)


def kernel_names(code: str) -> list[str]:
    """The non-template __global__ functions of `code`: what get_function can find by plain name."""
    code = strip_comments(code)
    names = []
    for m in _KERNEL.finditer(code):
        before = code[: m.start()]
        head = before[max(before.rfind(c) for c in ";{}") + 1 :]
        if "template" in re.findall(r"\w+", head + m.group("decl")):
            continue
        if m.group("name") not in names:
            names.append(m.group("name"))
    return names


_profilers: list = []  # the backend of each open profile() block, innermost last


@contextlib.contextmanager
def profile():
    """Within the block, kernels launch on a counting backend (one worker thread, instrumented
    builds); yields the list that each launch's LaunchProfile is appended to."""
    from suite.profile.backend import ProfilingBackend

    backend = ProfilingBackend()
    _profilers.append(backend)
    try:
        yield backend.launches
    finally:
        _profilers.remove(backend)


def _backend(checks=None):
    """The counting backend inside profile(), else the host backend with `checks`."""
    return _profilers[-1] if _profilers else get_backend("host", checks)


class RawModule:
    def __init__(self, code: str | None = None, *, path=None, options=(), name_expressions=None, checks=None,
                 toolchain=None, **_cupy_only):
        if (code is None) == (path is None):
            raise InputError("RawModule needs exactly one of code= or path=")
        self._checks = None if checks is None else tuple(checks)  # None: $SUITE_HOST_CHECKS
        self._source = Path(path).resolve() if path is not None else source_for_code(code)
        self._options = tuple(options)
        self._names = tuple(name_expressions) if name_expressions else None
        self._toolchain = toolchain  # the GPU compiler that judges the build; None: $SUITE_HOST_TOOLCHAIN

    def _module(self, also: str | None = None):
        names = self._names or tuple(kernel_names(self._source.read_text(errors="replace")))
        if also is not None and also not in names:
            names += (also,)  # the compiler then says what is wrong with it
        if not names:
            raise InputError(f"{self._source} has no __global__ function to build a module around")
        backend = _backend(self._checks)
        return backend.load_module(self._source, names, self._options, toolchain=self._toolchain)

    def get_function(self, name: str):
        return self._module(name).get_function(name)

    def get_global(self, name: str):
        """The `__constant__`/`__device__` variable `name` as a MemoryPointer (as CuPy's), to fill
        before a launch: get_global("c").copy_from_host(array, nbytes) is cudaMemcpyToSymbol.
        The module of checked runs is another build: fill the variable through the same RawModule
        (and checks) that launches."""
        return self._module().get_global(name)


class RawKernel:
    def __init__(self, code: str, name: str, options=(), checks=None, toolchain=None, **_cupy_only):
        self._module = RawModule(code, options=options, name_expressions=[name], checks=checks, toolchain=toolchain)
        self.name = name
        self._kernels = weakref.WeakKeyDictionary()  # by backend: plain, or counting inside profile()
        self._max_dynamic_smem = None

    @property
    def kernel(self):
        backend = _backend(self._module._checks)
        if backend not in self._kernels:
            self._kernels[backend] = self._module.get_function(self.name)
            if self._max_dynamic_smem is not None:
                self._kernels[backend].max_dynamic_shared_size_bytes = self._max_dynamic_smem
        return self._kernels[backend]

    @property
    def max_dynamic_shared_size_bytes(self) -> int:
        return self.kernel.max_dynamic_shared_size_bytes

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, value: int) -> None:
        self.kernel.max_dynamic_shared_size_bytes = value
        self._max_dynamic_smem = value

    def __call__(self, grid, block, args, *, shared_mem: int = 0, enable_cooperative_groups: bool = False) -> None:
        self.kernel(grid, block, args, shared_mem=shared_mem, enable_cooperative_groups=enable_cooperative_groups)
