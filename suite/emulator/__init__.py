"""The CUDA-on-CPU emulator behind the host backend.

Python side (this package): `build` (g++ command lines, the generated wrapper, the build cache),
`toolchain` (NVRTC builds that judge GPU compilability), `abi` and `args` (the launch ABI and
argument packing), `checks` (the sanitizer-grade checked launches), `lines` (code address -> source
line). C++ side, as the emulation provides CUDA: `include/` (`cuda_host.h`, force-included before a
kernel; `emu/`, its parts, one header per CUDA facility; `compat/`, stand-ins for toolkit headers
NVIDIA's pip wheels lack), `runtime/` (fibers, blocks, launches, faults, the checks' hooks) and
`profile/` (the observer and memory model of `suite profile`).
"""

from pathlib import Path

EMULATOR_DIR = Path(__file__).resolve().parent
INCLUDE_DIR = EMULATOR_DIR / "include"
RUNTIME_DIR = EMULATOR_DIR / "runtime"
PROFILE_DIR = EMULATOR_DIR / "profile"
