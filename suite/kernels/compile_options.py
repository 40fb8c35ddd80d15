"""The NVRTC options every kernel is compiled with, shared by the CuPy backend and `suite check`
so that what is checked is exactly what runs."""

from __future__ import annotations

import functools
from pathlib import Path

from suite import KERNELS_DIR


@functools.lru_cache(maxsize=None)
def _cuda_include_dir() -> str | None:
    from cuda.pathfinder import find_nvidia_header_directory

    return find_nvidia_header_directory("cudart")


def nvrtc_options(source: Path, arch: str | None = None, extra=()) -> list[str]:
    """Options for compiling `source`. `arch` (e.g. "sm_80") makes NVRTC emit a CUBIN for that GPU;
    None leaves the architecture to the caller (CuPy picks the device's). `extra`: the
    instantiation's own options, appended last."""
    # -ftz=true: CuPy adds it to every compile; say it here too so `suite check` sees the same code.
    options = ["-std=c++17", "-ftz=true", f"-I{KERNELS_DIR}", f"-I{Path(source).resolve().parent}"]
    include = _cuda_include_dir()
    if include:  # without it NVRTC still has its built-in cuda_fp16.h/cuda_bf16.h
        options.append(f"-I{include}")
        # libcu++ (<cuda/std/...>, which <cooperative_groups/reduce.h> needs too) from the CCCL wheel
        if (Path(include) / "cccl" / "cuda" / "std").is_dir():
            options.append(f"-I{Path(include) / 'cccl'}")
    if arch:
        options.append(f"--gpu-architecture={arch}")
    options.extend(extra)
    return options
