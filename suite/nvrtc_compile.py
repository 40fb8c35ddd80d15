"""Compile one kernel instantiation to a CUBIN with NVRTC, no GPU needed.

Uses NVIDIA's NVRTC bindings (cuda-bindings, with the nvidia-cuda-nvrtc wheel's library) and the
same options as the CuPy backend (suite.kernels.compile_options).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suite.errors import BackendUnavailable, KernelCompileError
from suite.kernels.compile_options import nvrtc_options


@dataclass(frozen=True)
class Cubin:
    data: bytes
    lowered_name: str  # the mangled symbol of the name expression inside `data`
    log: str  # compiler warnings, if any


def _nvrtc():
    try:
        from cuda.bindings import nvrtc

        nvrtc.nvrtcVersion()  # loads libnvrtc now, so a missing library is reported here
    except Exception as exc:
        raise BackendUnavailable(
            f"NVRTC is not usable ({exc.__class__.__name__}: {exc}); "
            "install cuda-bindings and nvidia-cuda-nvrtc of the same CUDA major version") from exc
    return nvrtc


def _ok(nvrtc, result, what: str):
    """Unwrap a cuda.bindings return tuple; a failure here is NVRTC's, not the kernel's."""
    status, *values = result
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise KernelCompileError(f"NVRTC {what} failed: {nvrtc.nvrtcGetErrorString(status)[1].decode()}")
    return values[0] if values else None


def _read(nvrtc, prog, size_call, read_call, what: str) -> bytes:
    size = _ok(nvrtc, size_call(prog), what)
    # A mutable buffer NVRTC writes into. Never a bytes object: `b" " * 1` is CPython's shared
    # b" ", and an empty log's NUL written there corrupted every later use of it in the process.
    buffer = bytearray(size)
    _ok(nvrtc, read_call(prog, buffer), what)
    return bytes(buffer)


def compile_cubin(source: Path, name_expression: str, arch: str, extra_options=()) -> Cubin:
    """CUBIN of `name_expression` from `source` for `arch` (e.g. "sm_80"). On a compile error raises
    KernelCompileError whose message is NVRTC's log (file(line): error: ...)."""
    data, lowered, log = compile_names(source, (name_expression,), arch, extra_options)
    return Cubin(data, lowered[name_expression], log)


def compile_names(source: Path, name_expressions, arch: str, extra_options=()) -> tuple[bytes, dict, str]:
    """One CUBIN holding every name expression of `source`: (data, {name expression: lowered name},
    log), so that a module of several kernels is compiled once."""
    nvrtc = _nvrtc()
    try:
        code = Path(source).read_bytes()
    except OSError as exc:
        raise KernelCompileError(f"cannot read kernel source {source}: {exc.strerror}") from exc
    options = [o.encode() for o in nvrtc_options(source, arch, extra_options)]
    prog = _ok(nvrtc, nvrtc.nvrtcCreateProgram(code, str(source).encode(), 0, [], []), "create program")
    try:
        for name in name_expressions:
            _ok(nvrtc, nvrtc.nvrtcAddNameExpression(prog, name.encode()), "add name expression")
        status, = nvrtc.nvrtcCompileProgram(prog, len(options), options)
        log = _read(nvrtc, prog, nvrtc.nvrtcGetProgramLogSize, nvrtc.nvrtcGetProgramLog, "read log")
        log = log.rstrip(b"\0").decode(errors="replace").strip()
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise KernelCompileError(log or f"NVRTC failed: {nvrtc.nvrtcGetErrorString(status)[1].decode()}")
        cubin = _read(nvrtc, prog, nvrtc.nvrtcGetCUBINSize, nvrtc.nvrtcGetCUBIN, "read CUBIN")
        lowered = {name: _ok(nvrtc, nvrtc.nvrtcGetLoweredName(prog, name.encode()), "lowered name").decode()
                   for name in name_expressions}
        return cubin, lowered, log
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
