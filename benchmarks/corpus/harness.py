"""Drivers in, outcomes out: builds each driver's file from a local checkout on the host backend and
runs each of its kernels against the driver's NumPy/PyTorch reference."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from causes import cause
from slicing import SliceError, device_code
from suite.errors import SuiteError

DRIVERS_DIR = Path(__file__).parent / "drivers"
# Public kernels are written for nvcc: NVRTC, the host backend's default GPU-build judge, rejects the
# host headers they include (stdio.h, assert.h). Without nvcc here that verdict is skipped; set
# SUITE_HOST_TOOLCHAIN=nvcc where a toolkit is installed.
os.environ.setdefault("SUITE_HOST_TOOLCHAIN", "none")


@dataclass
class Check:
    """What a kernel produced and what it should have (compared with numpy.allclose)."""

    actual: object
    expected: object
    rtol: float = 1e-5
    atol: float = 1e-6


@dataclass
class Outcome:
    source: str
    file: str
    kernel: str
    ok: bool
    cause: str = ""  # the failure's category (causes.py)
    detail: str = ""  # the first line of the message, or the largest error
    seconds: float = 0.0


class DriverError(Exception):
    """A driver file that does not say what it runs (a bug of ours, not of the emulator)."""


def load_drivers(directory: Path = DRIVERS_DIR, only=None) -> list:
    drivers = []
    if str(directory) not in sys.path:  # drivers share helpers (drivers/_*.py)
        sys.path.insert(0, str(directory))
    for path in sorted(Path(directory).glob("*.py")):
        if path.name.startswith("_") or (only and not any(re.search(o, path.stem) for o in only)):
            continue
        spec = importlib.util.spec_from_file_location(f"corpus_driver_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "FILE") and hasattr(module, "KERNELS"):
            module.FILES = {module.FILE: module.KERNELS}
        for field in ("SOURCE", "LICENSE", "FILES"):
            if not hasattr(module, field):
                raise DriverError(f"driver {path}: no {field} (a driver defines SOURCE, LICENSE, and FILE with KERNELS "
                                  "or FILES: see benchmarks/corpus/run.py)")
        drivers.append(module)
    return drivers


def _as_numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        x = x.float() if str(x.dtype) in ("torch.bfloat16", "torch.float16") else x
        return x.numpy()
    return np.asarray(x)


def compare(checks) -> str:
    """'' when every check matches, else what differs first."""
    for check in checks if isinstance(checks, (list, tuple)) else [checks]:
        got = _as_numpy(check.actual).astype(np.float64)
        want = _as_numpy(check.expected).astype(np.float64)
        if got.shape != want.shape:
            return f"shape {got.shape}, expected {want.shape}"
        close = np.isclose(got, want, rtol=check.rtol, atol=check.atol, equal_nan=True)
        if not close.all():
            worst = np.unravel_index(np.argmax(np.where(close, 0, np.abs(got - want))), got.shape)
            return (f"{(~close).sum()} of {close.size} values differ; at {tuple(int(i) for i in worst)}: "
                    f"{got[worst]:.6g}, expected {want[worst]:.6g}")
    return ""


def _first_error(message: str) -> str:
    message = re.sub(r"\S*/mod-[\w-]+\.so: ", "", message)  # a load error names the cached library
    for line in message.splitlines():
        if " error: " in line or "fault" in line.lower() or "undefined" in line:
            return line.split("error: ", 1)[-1].strip()[:160]
    return message.strip().splitlines()[0][:160] if message.strip() else ""


def run_driver(driver, root: Path) -> list[Outcome]:
    """Every kernel of one driver, built from `root` (the checkout of driver.SOURCE)."""
    return [o for file, kernels in driver.FILES.items() for o in run_file(driver, root, file, kernels)]


def run_file(driver, root: Path, file: str, kernels: dict) -> list[Outcome]:
    from suite.host import RawModule

    names = list(kernels)
    path = root / file

    def failed(category, message, kernels=names):
        return [Outcome(driver.SOURCE, file, k, False, category, _first_error(message)) for k in kernels]

    try:
        code = device_code(path, [root / d for d in getattr(driver, "INCLUDE_DIRS", ())])
    except SliceError as exc:
        return failed("source unreadable", str(exc))
    module = RawModule(code=code, options=tuple(getattr(driver, "COMPILE_OPTIONS", ())), name_expressions=names)
    outcomes = []
    for name, run in kernels.items():
        start = time.perf_counter()
        try:
            kernel = module.get_function(name)
            problem = compare(run(kernel))
            outcome = Outcome(driver.SOURCE, file, name, not problem, "", problem)
            if problem:
                guarded = "__CUDA_ARCH__" in path.read_text(errors="replace")
                outcome.cause = "wrong result" + (" (the file tests __CUDA_ARCH__, undefined on the host)"
                                                   if guarded else "")
        except Exception as exc:  # a build error, a fault, a refused argument, a load error, a missing API
            message = str(exc) if isinstance(exc, (SuiteError, OSError)) else f"{type(exc).__name__}: {exc}"
            outcome = Outcome(driver.SOURCE, file, name, False, cause(message, code), _first_error(message))
            if "could not compile" in message or isinstance(exc, OSError):  # the whole module failed
                outcomes += failed(outcome.cause, message, names[len(outcomes):])
                return outcomes
        outcome.seconds = time.perf_counter() - start
        outcomes.append(outcome)
    return outcomes
