"""One case end to end: make inputs, launch, validate, time, validate again, baselines -> CaseResult.

Nothing here prints: progress goes to a callback, failures of a case go into its result (the sweep
goes on with the next case), and a Ctrl-C ends the sweep keeping what was finished.
"""

from __future__ import annotations

import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from suite import provenance, timing, validate
from suite.cases import Case
from suite.errors import SuiteError
from suite.kernels import family_origin, get_family
from suite.results import CaseResult

HOST_BASELINE_SKIP = "baselines are timed on a GPU only: CPU times of PyTorch say nothing next to the emulation's"


@dataclass(frozen=True)
class RunOptions:
    baselines: bool = True
    timing: timing.TimingConfig | None = None  # None: the backend's default protocol
    timer_mode: str = "cold"  # cold: L2 flushed before each launch; hot: `launches` back to back
    launches: int = 10


@dataclass
class Outcome:
    results: list[CaseResult]
    interrupted: bool
    fresh_processes: int = 0  # started after CUDA faults, to go on with the sweep


def _metrics(family, case: Case, median_s: float, peaks: dict) -> dict:
    flops = family.flops(case.kernel, case.params)
    nbytes = family.bytes_moved(case.kernel, case.params, case.dtype)
    m = {"flops": flops, "bytes": nbytes}
    if median_s > 0:
        m["tflops"] = flops / median_s / 1e12 if flops else None
        m["gbps"] = nbytes / median_s / 1e9 if nbytes else None
        if m["gbps"] and peaks.get("copy_gbps"):
            m["pct_peak_bw"] = 100.0 * m["gbps"] / peaks["copy_gbps"]
        peak_tflops = peaks.get("matmul_tflops", {}).get(case.dtype)
        if m["tflops"] and peak_tflops:
            m["pct_peak_flops"] = 100.0 * m["tflops"] / peak_tflops
    return m


def _baselines(family, case: Case, inputs: dict, backend, timer, config, kernel_median: float) -> dict:
    if not backend.baselines_comparable:
        return {name: {"skipped": HOST_BASELINE_SKIP} for name in case.baselines}
    out = {}
    for name in case.baselines:
        try:
            fn = family.baseline(name, case.kernel, case.params, inputs)
            if fn is None:
                out[name] = {"skipped": f"{name} does not apply to {case.kernel} with {case.dtype} here"}
                continue
            stats = timing.measure(fn, timer, config)
            out[name] = {"timing": stats.as_dict(), "speedup": stats.median_s / kernel_median}
        except Exception as exc:  # a baseline that cannot run must not sink the case,
            if backend.lost_context(exc, f"timing the baseline {name}"):
                raise  # unless it took the device with it (cuDNN has faulted so): then the case is an error
            out[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
    return out


def _library_dirs() -> tuple[Path, ...]:
    """Where Python's standard library and installed packages live: frames there are not the
    user's code (the suite itself counts as the user's when run from a checkout)."""
    paths = sysconfig.get_paths()
    return tuple(Path(paths[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)


def where(exc: BaseException) -> str:
    """'path:line in function' of the innermost frame of `exc` in code outside Python's libraries
    and installed packages (a family's make_inputs, reference, ...), the path relative to the
    working directory when inside it; '' when every frame is library code."""
    libraries = _library_dirs()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if frame.filename.startswith("<") or any(path.is_relative_to(d) for d in libraries):
            continue
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        return f"{shown}:{frame.lineno} in {frame.name}"
    return ""


def _error(exc: BaseException, backend, doing: str) -> str | None:
    """The case's error text for `exc`, or None when `exc` is no error of the case (a bug: raise it).
    Every error is offered to the backend first: a CUDA fault may surface in any call, and the sweep
    must then leave this process."""
    lost = backend.lost_context(exc, doing)
    if isinstance(exc, SuiteError):
        return str(exc)
    # torch and the families raise these for impossible cases; record them against the case.
    if lost or isinstance(exc, (RuntimeError, ValueError, TypeError, MemoryError)):
        at = where(exc)
        text = f"{type(exc).__name__}: {exc}" + (f" (at {at})" if at else "")
        return text if not lost or backend.context_lost in text else f"{backend.context_lost}. {text}"
    return None


def _numel(tensors) -> int:
    return sum(t.numel() for t in tensors.values()) if isinstance(tensors, dict) else tensors.numel()


def _coverage(launched, ref64) -> dict:
    """How much of the output the check compared (as much as the reference holds), when not all of it."""
    if launched.select is None:
        return {}
    return {"compared_elements": _numel(ref64), "output_elements": _numel(launched.output)}


def new_result(case: Case) -> CaseResult:
    """The result of `case` before anything ran: status "error" until it is known better."""
    family = get_family(case.family, case.family_file)
    return CaseResult(id=case.id, family=case.family, kernel=case.kernel, dtype=case.dtype, params=dict(case.params),
                      shape=family.shape_label(case.params), status="error",
                      family_origin=dict(family_origin(case.family, case.family_file)))


def run_case(case: Case, backend, timer, options: RunOptions, peaks: dict | None = None) -> CaseResult:
    family = get_family(case.family, case.family_file)
    result = new_result(case)
    config = options.timing or backend.default_timing
    doing = f"running {case.id}"
    backend.sources_loaded.clear()
    try:
        inputs = family.make_inputs(case.params, case.dtype, case.seed, backend.device)
        launched = family.run(case.kernel, case.params, inputs, backend)
        backend.synchronize()
        ref64, ref_lowp = family.reference(case.kernel, case.params, inputs, case.dtype)
        verdict = validate.check_outputs(launched.compared(), ref64, ref_lowp, case.tolerance)
        result.validation = verdict.as_dict() | _coverage(launched, ref64)
        if not verdict.passed:
            result.status, result.error = "failed", verdict.detail
            return result  # a wrong kernel is not worth timing
        doing = f"timing {case.id}"
        stats = timing.measure(launched.again, timer, config)
        backend.synchronize()
        result.timing = stats.as_dict()
        again = validate.check_outputs(launched.compared(), ref64, ref_lowp, case.tolerance)
        result.revalidation = again.as_dict() | _coverage(launched, ref64)
        if not again.passed:
            result.status = "failed"
            result.error = f"right on the first launch, wrong after {len(stats.samples_s)} more: {again.detail}"
            return result
        result.metrics = _metrics(family, case, stats.median_s, peaks or {})
        if options.baselines:
            doing = f"timing the baselines of {case.id}"
            result.baselines = _baselines(family, case, inputs, backend, timer, config, stats.median_s)
        result.status = "passed"
    except Exception as exc:
        result.error = _error(exc, backend, doing)
        if result.error is None:
            raise
        result.traceback = "".join(traceback.format_exception(exc))
    finally:  # a case that failed to compile also says which source it was
        result.sources = provenance.source_digests(backend.sources_loaded)
    return result


def run_cases(cases: Sequence[Case], backend, options: RunOptions = RunOptions(),
              on_start: Callable[[Case, int, int], None] | None = None,
              on_done: Callable[[CaseResult], None] | None = None, peaks: dict | None = None) -> Outcome:
    """Every case, in order. When a case leaves the backend's device unusable in this process (a CUDA
    fault), the remaining cases go on in fresh processes (suite.fresh_process)."""
    results, interrupted = run_in_this_process(cases, backend, options, on_start, on_done, peaks)
    fresh_processes = 0
    if not interrupted and len(results) < len(cases):
        from suite import fresh_process  # here, not at the top: it imports this module

        more, interrupted, fresh_processes = fresh_process.run_rest(
            cases[len(results):], backend, options, peaks, on_start, on_done, first=len(results), total=len(cases))
        results += more
    return Outcome(results, interrupted, fresh_processes)


def run_in_this_process(cases: Sequence[Case], backend, options: RunOptions,
                        on_start: Callable[[Case, int, int], None] | None = None,
                        on_done: Callable[[CaseResult], None] | None = None, peaks: dict | None = None,
                        first: int = 0, total: int | None = None) -> tuple[list[CaseResult], bool]:
    """(results, interrupted). Stops early, with fewer results than cases, once `backend.context_lost`.
    `first` and `total` place these cases in a longer sweep for the progress callback."""
    timer = backend.timer(options.timer_mode, options.launches)
    results: list[CaseResult] = []
    try:
        for i, case in enumerate(cases):
            if backend.context_lost:
                break
            if on_start:
                on_start(case, first + i, len(cases) if total is None else total)
            result = run_case(case, backend, timer, options, peaks)
            results.append(result)
            if on_done:
                on_done(result)
    except KeyboardInterrupt:
        return results, True
    return results, False
