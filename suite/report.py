"""Rich console output: the results table, progress while a sweep runs, the closing line."""

from __future__ import annotations

import contextlib
import itertools
import math
from typing import Any, Callable, Iterator, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from suite.results import CaseResult

STATUS_STYLE = {"passed": "[green]PASS[/]", "failed": "[red]FAIL[/]", "error": "[red]ERROR[/]"}


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _num(value: float | None, fmt: str = "{:.3g}") -> str:
    return "-" if value is None or not math.isfinite(value) else fmt.format(value)


def _baseline_names(results: Sequence[CaseResult]) -> list[str]:
    names: list[str] = []
    for r in results:
        names += [n for n in r.baselines if n not in names]
    return names


def results_table(results: Sequence[CaseResult], backend_name: str, device: str) -> Table:
    on_gpu = backend_name == "cupy"
    caption = (f"times: median of event-timed launches on {device}" if on_gpu else
               "times are CPU-emulation times of the .cu source, not GPU performance")
    if any("compared_elements" in (r.validation or {}) for r in results):
        caption += "\n* max |err| over a sample of the output (large cases: the float64 reference covers chosen rows)"
    if any("worst_output" in (r.validation or {}) for r in results):
        caption += "\ncases with several outputs (backward passes): the error of the worst one, named"
    table = Table(title=f"rawkernel-suite on {device}", caption=caption, header_style="bold")
    # the whole case id (it names dtype and kernel): what a user greps a log for
    for name, kw in (("case", {"overflow": "fold"}), ("shape", {}), ("status", {}), ("max |err|", {"justify": "right"}), ("allowed", {"justify": "right"}),
                     ("time (median)", {"justify": "right"}), ("noise %", {"justify": "right"})):
        table.add_column(name, **kw)
    baselines = _baseline_names(results) if on_gpu else []
    if on_gpu:
        for name in ("GB/s", "TFLOP/s", "% peak"):
            table.add_column(name, justify="right")
        for name in baselines:
            table.add_column(f"speedup vs {name} (x)", justify="right")
    for r in results:
        v, t, m = r.validation or {}, r.timing or {}, r.metrics
        row = [escape(r.id), escape(r.shape), STATUS_STYLE[r.status],
               _num(v.get("max_abs_err"), "{:.2e}") + ("*" if "compared_elements" in v else "")
               + (f" {v['worst_output']}" if "worst_output" in v else ""),
               _num(v.get("allowed"), "{:.2e}"),
               fmt_time(t.get("median_s")), _num(100 * t["noise"] if t else None, "{:.2f}")]
        if on_gpu:
            pct = m.get("pct_peak_flops") or m.get("pct_peak_bw")
            row += [_num(m.get("gbps"), "{:.1f}"), _num(m.get("tflops"), "{:.1f}"), _num(pct, "{:.0f}")]
            for name in baselines:
                b = r.baselines.get(name, {})
                row.append(_num(b.get("speedup"), "{:.2f}") if "speedup" in b else "[dim]n/a[/]")
        table.add_row(*row)
    return table


def execution_line(modes: dict) -> str | None:
    """How the host backend ran the kernels (docs/DESIGN.md, "Lane loops"): how many as lane loops,
    and what the others wait at (kernels per construct). `modes`: kernel -> what it waits at
    (empty: lane loops). None when no plain launch with lane loops on ran."""
    if not modes:
        return None
    waiting = [what for what in modes.values() if what]
    line = f"host execution: {len(modes) - len(waiting)} of {len(modes)} kernel(s) ran as lane loops"
    counts: dict[str, int] = {}
    for what in waiting:
        for construct in what:
            counts[construct] = counts.get(construct, 0) + 1
    if waiting:
        line += f", {len(waiting)} on fibers (kernels waiting at " + ", ".join(f"{w}: {n}" for w, n in counts.items()) + ")"
    return line


def problems(results: Sequence[CaseResult], tracebacks: bool = False) -> list[str]:
    """One line per case that did not pass, with the reason in full (table cells stay short), and
    with `tracebacks` the whole Python traceback of an error after it."""
    out = []
    for r in results:
        if not r.passed:
            out.append(f"{STATUS_STYLE[r.status]} {escape(r.id)}: {escape(r.error)}")
            if tracebacks and r.traceback:
                out.append(f"[dim]{escape(r.traceback.rstrip())}[/]")
    if not tracebacks and any(r.traceback for r in results):
        out.append("[dim](--traceback shows where each error came from in full)[/]")
    return out


def closing_line(results: Sequence[CaseResult]) -> str:
    passed = sum(r.passed for r in results)
    return f"{passed} passed, {len(results) - passed} failed"


def _bars(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=console, transient=True)


def _case_outcome(result) -> str:
    """A finished case (a CaseResult, or a profile with its case and error) in a progress line."""
    if isinstance(result, CaseResult):
        return f"{escape(result.id)}: {STATUS_STYLE[result.status]}"
    return f"{escape(result.case.id)}: " + ("[red]ERROR[/]" if result.error else "done")


@contextlib.contextmanager
def progress(console: Console, total: int, describe: Callable[[Any], str] = _case_outcome) -> Iterator:
    """Progress on `console`: a bar on a terminal; elsewhere (a pipe, a CI log) a line per finished
    step, `[n/total] describe(item)`, so long work is never silent. Yields (on_start, on_done)
    callbacks for runner.run_cases (on_done may be called from several threads)."""
    if not console.is_terminal:
        count = itertools.count(1)

        def on_line(item):
            # soft_wrap: one line per step whatever the width, so a case id is never cut (grep finds it)
            console.print(f"[{next(count)}/{total}] {describe(item)}", highlight=False, soft_wrap=True)

        yield (lambda case, index, count: None), on_line
        return
    bar = _bars(console)
    task = bar.add_task("starting", total=total)

    def on_start(case, index, count):
        bar.update(task, description=escape(case.id))

    def on_done(result):
        bar.advance(task)

    with bar:
        yield on_start, on_done


ALL_KINDS = "all kinds"


@contextlib.contextmanager
def progress_per_kind(console: Console) -> Iterator:
    """One bar per device kind of a cluster sweep, shown once the workers are up. Yields
    (show(totals), on_done(kind, result)); totals maps a kind to its case count, or to None when
    the kinds share one queue, in which case an ALL_KINDS entry holds the count."""
    bar = _bars(console)
    tasks = {"starting": bar.add_task("starting the cluster's workers", total=None)}

    def show(totals: dict):
        bar.remove_task(tasks.pop("starting"))
        for kind, total in totals.items():
            tasks[kind] = bar.add_task(escape(kind), total=total)

    def on_done(kind, result):
        for name in (kind, ALL_KINDS):
            if name in tasks:
                bar.advance(tasks[name])

    with bar:
        yield show, on_done
