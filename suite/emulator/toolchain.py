"""The GPU toolchain's verdict on a kernel before the host backend runs it under the checks.

g++ accepts code that a GPU build rejects: a host-only function or `std::vector` in a kernel,
static shared memory above 48 KiB. compute-sanitizer never sees such code, because nvcc or NVRTC
refuses it first; so a checked launch first compiles its kernel with NVRTC for the backend's
architecture, to a CUBIN as `suite check` does (ptxas enforces the per-kernel limits), and
reports NVRTC's own message. A pass is remembered in the build cache, keyed by the host library
(whose name covers every file the build read), the name expression, the options and the
architecture, with the kernel's static shared memory (the launch checks need it: static plus
dynamic shared memory above 48 KiB needs the opt-in), so each instantiation is compiled once.
"""

from __future__ import annotations

from pathlib import Path

from suite.emulator import build
from suite.errors import KernelCompileError
from suite.nvrtc_compile import compile_cubin
from suite.sass import read_machine_code

SM90_SMEM_RESERVE = 1024


def require_gpu_build(library: Path, source: Path, name: str, options, arch: str) -> int:
    """The kernel's static shared memory in bytes, as the GPU build allocates it; raises
    KernelCompileError (NVRTC's log) when `name` of `source` does not build for `arch`."""
    marker = build.cache_dir() / "nvrtc" / f"{build.digest(library.name, name, *options, arch)[:32]}.smem"
    if marker.exists():
        return int(marker.read_text())
    try:
        cubin = compile_cubin(source, name, arch, tuple(options))
    except KernelCompileError as exc:
        raise KernelCompileError(
            f"{name} of {source} does not build for a GPU ({arch}, NVRTC), so the checks do not run it "
            f"(a GPU toolchain rejects it the same way):\n{exc}") from None
    static = read_machine_code(cubin.data, cubin.lowered_name).usage.static_smem
    # From sm_90 on, cuobjdump counts the 1 KiB that ptxas reserves in every kernel that has shared
    # memory (measured: 400 B of arrays read 1424 B for sm_90, 400 B for sm_80; none reads 0).
    static = max(static - SM90_SMEM_RESERVE, 0) if int(arch[3:5]) >= 90 else static
    marker.parent.mkdir(parents=True, exist_ok=True)
    build.atomic_write(marker, str(static).encode())
    return static
