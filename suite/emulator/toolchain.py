"""The GPU toolchain's verdict on every module the host backend builds.

g++ accepts code that a GPU build rejects: a host-only function or `std::vector` in a kernel,
`INFINITY` (which NVRTC does not define), static shared memory above 48 KiB. On a GPU such code
never runs, because nvcc or NVRTC refuses it first; so every host build (plain, checked, at
`suite run` and at a RawModule's first use) also compiles its module for the backend's
architecture with a GPU toolchain, to a CUBIN (ptxas enforces the per-kernel limits), and a
rejection is a KernelCompileError carrying that compiler's own message.

The toolchain (HostBackend(toolchain=...), RawModule(toolchain=...), $SUITE_HOST_TOOLCHAIN):
- "nvrtc" (default): NVRTC with the options cupy.RawModule compiles with;
- "nvcc": NVIDIA's nvcc (the nvidia-cuda-nvcc wheel, or a toolkit's), for kernels written for
  nvcc: `<cassert>`, `<cstdint>`, `<float.h>`, `uint` are then fine;
- "none": no GPU build (the opt-out); static shared memory is then unknown (taken as 0).

The GPU build starts in a background thread before the g++ build and overlaps it. A pass is
remembered in the build cache, keyed by the host library (whose name covers every file the
build read), the name expressions, options, architecture and toolchain, with each kernel's static
shared memory (the launch checks need it: static plus dynamic above 48 KiB needs the opt-in).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from suite.emulator import build
from suite.errors import BackendUnavailable, InputError, KernelCompileError
from suite.nvrtc_compile import compile_names
from suite.sass import read_resource_usage

ENV = "SUITE_HOST_TOOLCHAIN"
JUDGES = {"nvrtc": "NVRTC, as cupy.RawModule compiles it", "nvcc": "nvcc", "none": None}
SM90_SMEM_RESERVE = 1024
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="suite-gpu-build")


def choose(toolchain: str | None = None) -> str:
    """`toolchain`, else $SUITE_HOST_TOOLCHAIN, else "nvrtc"; InputError for anything else."""
    value = toolchain if toolchain is not None else os.environ.get(ENV, "nvrtc")
    if value not in JUDGES:
        where = f"toolchain={value!r}" if toolchain is not None else f"{ENV}={value!r}"
        raise InputError(f"{where}: expected one of {', '.join(JUDGES)} (the GPU compiler that judges host builds; "
                         "none: no GPU build)")
    return value


class GpuVerdict:
    """The GPU build of one module, started at construction unless the cache already has its pass;
    static_smem(library) waits for it once the g++ build has given the library's name."""

    def __init__(self, source: Path, names: tuple, options: tuple, arch: str, toolchain: str,
                 cached_library: Path | None = None):
        self.source, self.names, self.options, self.arch, self.toolchain = source, names, options, arch, toolchain
        self._future: Future | None = None
        if toolchain != "none" and not (cached_library and self._marker(cached_library).exists()):
            self._future = _pool.submit(self._judge)

    def _marker(self, library: Path) -> Path:
        key = build.digest(library.name, *self.names, *self.options, self.arch, self.toolchain)[:32]
        return build.cache_dir() / "gpu-build" / f"{key}.json"

    def static_smem(self, library: Path) -> dict:
        """{name: static shared memory in bytes} as the GPU build allocates it; raises
        KernelCompileError (the GPU compiler's message) when the module does not build for a GPU."""
        if self.toolchain == "none":
            return dict.fromkeys(self.names, 0)
        marker = self._marker(library)
        if marker.exists():
            return json.loads(marker.read_text())
        static = (self._future or _pool.submit(self._judge)).result()
        marker.parent.mkdir(parents=True, exist_ok=True)
        build.atomic_write(marker, json.dumps(static).encode())
        return static

    def _judge(self) -> dict:
        try:
            if self.toolchain == "nvcc":
                cubin, lowered = _nvcc_cubin(self.source, self.names, self.arch, self.options)
            else:
                cubin, lowered, _log = compile_names(self.source, self.names, self.arch, self.options)
        except KernelCompileError as exc:
            nvcc_hint = f"a kernel written for nvcc says so with {ENV}=nvcc or toolchain='nvcc'; " \
                if self.toolchain == "nvrtc" else ""
            raise KernelCompileError(
                f"{', '.join(self.names)} of {self.source} does not build for a GPU ({self.arch}, "
                f"{JUDGES[self.toolchain]}), so the host backend does not run it either ({nvcc_hint}"
                f"{ENV}=none skips this GPU build):\n{exc}") from None
        usage = read_resource_usage(cubin)
        # From sm_90 on, cuobjdump counts the 1 KiB that ptxas reserves in every kernel that has shared
        # memory (measured: 400 B of arrays read 1424 B for sm_90, 400 B for sm_80; none reads 0).
        reserve = SM90_SMEM_RESERVE if int(self.arch[3:5]) >= 90 else 0
        return {name: max(usage[lowered[name]].static_smem - reserve, 0) for name in self.names}


# ---- nvcc -----------------------------------------------------------------------------------------


def nvcc_path() -> str:
    """NVIDIA's nvcc: the nvidia-cuda-nvcc wheel's, else a toolkit's on PATH or under $CUDA_HOME."""
    try:
        from cuda.pathfinder import find_nvidia_binary_utility

        found = find_nvidia_binary_utility("nvcc")
    except Exception:  # pathfinder absent or too old to know nvcc: PATH and CUDA_HOME still apply
        found = None
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    found = found or shutil.which("nvcc") or (home and shutil.which("nvcc", path=str(Path(home) / "bin")))
    if not found:
        raise BackendUnavailable(
            f"{ENV}=nvcc (toolchain='nvcc') needs NVIDIA's nvcc, which is not installed here: pip install "
            "nvidia-cuda-nvcc (the extra rawkernel-suite[nvcc]), or put a CUDA toolkit's bin on PATH; "
            f"{ENV}=nvrtc judges with NVRTC instead")
    return found


def _nvcc_cubin(source: Path, names: tuple, arch: str, options: tuple) -> tuple[bytes, dict]:
    """nvcc's CUBIN of `source` with each name expression instantiated (its address taken in host
    code, which makes nvcc emit the kernel), and {name: mangled symbol} read back from it (the
    runtime wheel's include folder gives cuda_runtime.h, which nvcc's wheel does not carry)."""
    nvcc = nvcc_path()
    with tempfile.TemporaryDirectory(prefix="suite-nvcc-") as folder:
        unit = Path(folder) / "unit.cu"
        unit.write_text(f'#include "{source}"\n' + "".join(
            f"[[maybe_unused]] static const void* __suite_instance_{i} = (const void*)&{name};\n" for i, name in enumerate(names)))
        cubin = Path(folder) / "unit.cubin"
        flags = [o for o in options if o.startswith(("-D", "-U", "-I", "-std=", "--std="))]
        command = [nvcc, "-cubin", f"-arch={arch}", "-std=c++17", "-I", str(source.parent), "-I", str(build.KERNELS_DIR),
                   "-isystem", str(build.nvidia_include_dir()), *flags, "-o", str(cubin), str(unit)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise KernelCompileError((done.stderr or done.stdout).strip().replace(str(unit), "<instantiations>"))
        data = cubin.read_bytes()
    mangled = list(read_resource_usage(data))
    demangled = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True, text=True).stdout.split("\n")
    symbols = dict(zip(mangled, demangled))
    lowered = {}
    for name in names:
        match = [mangled for mangled, pretty in symbols.items() if _names_kernel(pretty, name)]
        if len(match) != 1:
            raise KernelCompileError(f"nvcc's CUBIN has {len(match)} kernels matching {name!r} (expected one)")
        lowered[name] = match[0]
    return data, lowered


def _names_kernel(demangled: str, name: str) -> bool:
    """Whether `demangled` ("void fill<float, int>(float*, int)", or "k" for extern "C") is `name`."""
    head = demangled.split("(", 1)[0].removeprefix("void ").strip()
    return head.replace(" ", "") == name.replace(" ", "").lstrip(":")
