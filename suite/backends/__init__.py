"""Where a kernel runs: `cupy` (a CUDA GPU through cupy.RawModule) or `host` (the same .cu on the CPU).

Every backend offers the same small surface, modelled on CuPy's so that kernel code is written once:

    backend.name                      "cupy" | "host"
    backend.device                    torch.device where inputs and outputs live
    backend.describe() -> dict        facts about the device for result files
    backend.sm_count                  SMs that launchers size grids by (the host backend: an H100's)
    backend.arch                      "sm_90", ...: the architecture launchers pick tile plans by
    backend.load_module(source, name_expressions, options=()) -> module   (cached)
    backend.sources_loaded            the .cu files load_module was given (resolved), cached or not: the
                                      runner empties it before a case and records their hashes after
    module.get_function(name_expression) -> kernel
    kernel(grid, block, args, shared_mem=0)      args: torch tensors on backend.device, numpy scalars
    kernel.bind(grid, block, args, shared_mem=0) -> launch()   the same launch, arguments converted once
    kernel.max_dynamic_shared_size_bytes = N     opt-in above 48 KiB, as on the GPU
    backend.synchronize()
    backend.timer() -> timer             suite.timing timer: time_once(fn) -> seconds
    backend.default_timing               suite.timing.TimingConfig used when the user sets none
    backend.context_lost                 None, or why nothing more can run on this device in this
                                         process (a CUDA fault); the runner goes on in a fresh one
    backend.lost_context(exc, doing) -> bool   asked on every error of a case: whether `exc` left the
                                         device unusable here (then context_lost is set)
    backend.baselines_comparable         whether PyTorch baselines timed here mean something next to
                                         the kernels' times (not on the CPU emulation)
"""

from __future__ import annotations

import functools
import os

from suite.errors import BackendUnavailable, InputError

BACKENDS = ("auto", "cupy", "host")
CHECKS = ("memcheck", "racecheck", "initcheck", "synccheck")


@functools.lru_cache(maxsize=None)
def gpu_unusable_reason() -> str | None:
    """None when CuPy can run kernels on a GPU here, else why not (in words a user can act on)."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return f"CuPy is not importable ({exc.__class__.__name__}: {exc}); install cupy-cuda12x or cupy-cuda13x"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CuPy finds no usable CUDA device ({exc})"
    if count == 0:
        return "CuPy finds no CUDA device"
    try:
        import torch

        if not torch.cuda.is_available():
            return "torch has no CUDA support here (a CPU-only build, or no driver)"
    except Exception as exc:
        return f"torch is not importable ({exc})"
    return None


def resolve_name(name: str | None) -> str:
    """'auto'/None -> 'cupy' when a GPU is usable, else 'host'."""
    if name in (None, "auto"):
        return "host" if gpu_unusable_reason() else "cupy"
    if name not in BACKENDS:
        raise InputError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    return name


@functools.lru_cache(maxsize=None)
def _backend(name: str, checks: frozenset):
    if name == "cupy":
        reason = gpu_unusable_reason()
        if reason:
            raise BackendUnavailable(f"backend 'cupy' needs a CUDA GPU: {reason}. Use --backend host to run on the CPU emulation.")
        if checks:
            raise InputError("--check modes belong to the host backend; run them with --backend host")
        from suite.backends.cupy_backend import CupyBackend

        return CupyBackend()
    from suite.backends.host_backend import HostBackend

    return HostBackend(checks=checks)


def check_set(checks) -> frozenset:
    """`checks` as a frozenset, or InputError naming the unknown ones."""
    checks = frozenset(checks)
    unknown = checks - set(CHECKS)
    if unknown:
        raise InputError(f"unknown check(s) {', '.join(sorted(unknown))}; expected some of {', '.join(CHECKS)}")
    return checks


def get_backend(name: str | None = None, checks=None):
    """A shared backend instance. `checks` (host only): any of CHECKS; None: those named in
    $SUITE_HOST_CHECKS (comma-separated) for the host backend, as `compute-sanitizer python ...`
    checks a whole program."""
    name = resolve_name(name)
    if checks is None:
        checks = env_checks() if name == "host" else ()
    return _backend(name, check_set(checks))


def env_checks() -> frozenset:
    raw = os.environ.get("SUITE_HOST_CHECKS", "")
    try:
        return check_set(c.strip() for c in raw.split(",") if c.strip())
    except InputError as exc:
        raise InputError(f"SUITE_HOST_CHECKS={raw!r}: {exc}") from None


def backend_for_tensor(tensor, backend=None, argument="input"):
    """The backend an op should use: as asked, or by where `tensor` lives; errors name the argument."""
    if backend is None:
        backend = "cupy" if tensor.is_cuda else "host"
    b = get_backend(backend)
    if tensor.device.type != b.device.type:
        raise InputError(f"{argument} is on {tensor.device}, but backend {b.name!r} needs tensors on {b.device.type}")
    return b
