"""Pictures of saved results: throughput against a sweep axis, and a roofline against measured peaks.

Figures are built with matplotlib's object API (no pyplot, no global state) and written as PNG, SVG,
or a self-contained HTML page embedding the SVG (one plotting library, no JavaScript).
"""

from __future__ import annotations

import html
import io
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from suite.compare import Run
from suite.errors import InputError

FORMATS = (".png", ".svg", ".html")
HOST_NOTE = "CPU-emulation times (host backend), not GPU performance"
METRICS = {"gbps": "GB/s", "tflops": "TFLOP/s"}
# FLOP per byte above which a kernel is compute-bound, when the results hold no measured peaks:
# H100 SXM5 datasheet, dense FP16/BF16 tensor 989.4 TFLOP/s and FP32 67 TFLOP/s over 3350 GB/s.
PUBLISHED_RIDGE = {"float16": 989.4e12 / 3350e9, "bfloat16": 989.4e12 / 3350e9, "float32": 67e12 / 3350e9}


def _ridge(run: Run, dtype: str) -> float:
    measured = peaks(run)
    tflops = (measured.get("matmul_tflops") or {}).get(dtype)
    if tflops and measured.get("copy_gbps"):
        return tflops * 1000 / measured["copy_gbps"]
    return PUBLISHED_RIDGE.get(dtype, PUBLISHED_RIDGE["float32"])


def default_metric(cases: Sequence[tuple[Run, object]]) -> str:
    """GB/s for a memory-bound family, TFLOP/s for a compute-bound one: from its FLOP and byte
    models, the median arithmetic intensity of its (run, case) pairs against the ridge (measured
    peaks, else PUBLISHED_RIDGE). A family whose model counts no FLOPs is memory-bound."""
    ratios = []
    for run, case in cases:
        m = case.metrics or {}
        if m.get("bytes"):
            ratios.append((m.get("flops") or 0) / m["bytes"] / _ridge(run, case.dtype))
    if not ratios:
        return "tflops"
    ratios.sort()
    return "tflops" if ratios[len(ratios) // 2] > 1 else "gbps"


def rate(case, metric: str) -> float | None:
    value = (case.metrics or {}).get(metric) if case.passed else None
    return value if value else None


def _figure(panels: int, legend_lines: Sequence[int] = ()):
    """A figure of `panels` panels, each tall enough for its legend (`legend_lines` entries beside
    it): a legend taller than its panel would make the layout give up and cut the legend off."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("suite plot needs matplotlib: pip install matplotlib") from None
    heights = [max(4.5, 0.2 * n + 1.0) for n in (legend_lines or [0] * panels)]
    fig = Figure(figsize=(9, sum(heights)), layout="constrained")
    return fig, fig.subplots(panels, 1, squeeze=False, height_ratios=heights)[:, 0]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_axis_value(value) -> bool:
    """Numbers (a numeric axis) or names such as a tile shape (a categorical one)."""
    return _is_number(value) or isinstance(value, str)


def sweep_axes(runs: Sequence[Run]) -> list[str]:
    """Parameters that take more than one value among the passed cases: numeric ones first, then
    named ones (e.g. tile shapes), most values first."""
    values: dict[str, set] = defaultdict(set)
    for run in runs:
        for case in run.cases.values():
            if case.passed:
                for k, v in case.params.items():
                    if _is_axis_value(v):
                        values[k].add(v)
    numeric = {k: all(_is_number(v) for v in vs) for k, vs in values.items()}
    return sorted((k for k, v in values.items() if len(v) > 1), key=lambda k: (not numeric[k], -len(values[k]), k))


def _labels(keys: Sequence[dict]) -> list[str]:
    """Short legend labels: only the parts of the series keys that differ between series."""
    names = dict.fromkeys(k for key in keys for k in key)
    varying = [k for k in names if len({str(key.get(k)) for key in keys}) > 1] or ["device"]
    return [", ".join(str(key[k]) if k in _SERIES_FIELDS else f"{k}={key[k]}" for k in varying if k in key)
            for key in keys]


_SERIES_FIELDS = ("device", "kernel", "dtype")


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value  # pairs come back from JSON as lists


def _swept(case) -> tuple[str, list[str]]:
    """The sweep's name and its swept parameters, from the case id."""
    name, _, inside = case.id.split("/")[1].partition("[")
    return name, [part.split("=")[0] for part in inside.rstrip("]").split(",") if part]


def _tied_to(runs: Sequence[Run], axis: str) -> set[tuple[str, str, str]]:
    """(family, sweep, param) of swept params that the axis determines within their sweep (zipped
    with it, e.g. seq_k with seq_q): they change along a line, so they must not split it into
    one-point lines."""
    seen: dict = defaultdict(lambda: defaultdict(set))
    for run in runs:
        for case in run.cases.values():
            name, swept = _swept(case)
            if axis in case.params:
                for k in swept:
                    if k != axis and k in case.params:
                        seen[(case.family, name, k)][_hashable(case.params[axis])].add(_hashable(case.params[k]))
    return {key for key, by_x in seen.items() if len(by_x) > 1 and all(len(v) == 1 for v in by_x.values())}


def _series_params(case, axis: str, tied: set) -> dict:
    """What tells one line from another within a family: the sweep (from the case id) and its other
    swept parameters, less those tied to the axis; fixed parameters are the same along a line and
    only crowd the legend."""
    name, swept = _swept(case)
    # a parameter named like a series field (deform's `kernel` size) is renamed, not overwritten
    return {"sweep": name, **{(f"{k} (param)" if k in _SERIES_FIELDS else k): _hashable(case.params[k])
                              for k in swept if k != axis and k in case.params and (case.family, name, k) not in tied}}


def _metrics(runs: Sequence[Run], metric: str | None) -> dict[str, str]:
    """family -> the metric to plot: `metric` for all, else each family's default_metric."""
    by_family: dict = defaultdict(list)
    for run in runs:
        for case in run.cases.values():
            if case.passed:
                by_family[case.family].append((run, case))
    return {family: metric or default_metric(pairs) for family, pairs in by_family.items()}


def _sweep_series(runs: Sequence[Run], axis: str, baselines: bool, metric: str | None = None) -> dict:
    """(family, unit) -> series key (as a tuple of items) -> [(x, y)]."""
    panels: dict = defaultdict(lambda: defaultdict(list))
    metrics = _metrics(runs, metric)
    tied = _tied_to(runs, axis)
    for run in runs:
        for case in run.cases.values():
            y = rate(case, metrics.get(case.family, "tflops"))
            if y is None or not _is_axis_value(case.params.get(axis)):
                continue
            rest = _series_params(case, axis, tied)
            x, unit = case.params[axis], METRICS[metrics[case.family]]
            lines = [(case.kernel, y)]
            if baselines:
                lines += [(f"{name} (baseline)", y / b["speedup"]) for name, b in case.baselines.items() if b.get("speedup")]
            for kernel, value in lines:
                key = {"device": run.label, "kernel": kernel, "dtype": case.dtype, **rest}
                panels[(case.family, unit)][tuple(key.items())].append((x, value))
    return panels


def one_point_lines(runs: Sequence[Run], axis: str, metric: str | None = None) -> tuple[int, int]:
    """(lines with a single `axis` value, all lines) of the sweep view: a line of one point means
    the axis does not vary inside it."""
    series = [s for panel in _sweep_series(runs, axis, False, metric).values() for s in panel.values()]
    return sum(len({x for x, _ in s}) == 1 for s in series), len(series)


def _plain_numbers(axis) -> None:
    """Tick labels as plain numbers: matplotlib would otherwise move a factor such as 1e-5 into an
    offset text at the axis end, which reads as part of the unit."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))


def sweep_figure(runs: Sequence[Run], axis: str | None = None, baselines: bool = True, metric: str | None = None):
    """Throughput against a sweep parameter: one panel per family, in `metric` (gbps or tflops;
    default per family: GB/s when memory-bound), one line per device and kernel/baseline (and per
    value of any other swept parameter not tied to the axis)."""
    axes = sweep_axes(runs)
    if axis is None:
        if not axes:
            raise InputError("no numeric case parameter varies across the passed cases; nothing to plot against")
        axis = axes[0]
    panels = _sweep_series(runs, axis, baselines, metric)
    if not panels:
        raise InputError(f"no passed case with a throughput has a parameter {axis!r}; "
                         f"parameters that vary: {', '.join(axes) or 'none'}")
    fig, axs = _figure(len(panels), [len(series) for _, series in sorted(panels.items())])
    for ax, ((family, unit), series) in zip(axs, sorted(panels.items())):
        xs = [p[0] for s in series.values() for p in s]
        # Named values (tile shapes...) sit at evenly spaced positions, in the order first seen.
        names = list(dict.fromkeys(x for x in xs if isinstance(x, str)))
        position = {name: i for i, name in enumerate(names)}
        keys = list(series)
        for key, label in zip(keys, _labels([dict(k) for k in keys])):
            points = sorted((position.get(x, x), y) for x, y in series[key])
            style = "--" if dict(key)["kernel"].endswith("(baseline)") else "-"
            ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=label)
        _plain_numbers(ax.yaxis)
        if names:
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        elif min(xs) > 0 and max(xs) / min(xs) >= 8:
            ax.set_xscale("log", base=2)
        else:
            _plain_numbers(ax.xaxis)
        ax.set(title=f"{family}: {unit} against {axis}", xlabel=axis, ylabel=unit)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside, never over data
    _note_host(fig, runs)
    return fig


def peaks(run: Run) -> dict:
    """Peaks measured in the run: {"copy_gbps": ..., "matmul_tflops": {dtype: ...}} or {}."""
    return (run.env.get("device") or {}).get("peaks") or {}


def roofline_figure(runs: Sequence[Run]):
    """Achieved TFLOP/s against arithmetic intensity (FLOP/byte), under each run's measured roofs."""
    points: dict = defaultdict(list)
    for run in runs:
        for case in run.cases.values():
            m = case.metrics or {}
            if case.passed and m.get("flops") and m.get("bytes") and m.get("tflops"):
                points[(run.label, case.kernel, case.dtype)].append((m["flops"] / m["bytes"], m["tflops"]))
    if not points:
        raise InputError("no passed case has both a FLOP and a byte count; a roofline needs both")
    # (label, peak TFLOP/s, copy GB/s); the ridge, where the two roofs meet, is at peak * 1000 / GB/s FLOP/byte
    roofs = [(f"roof {run.label} {dtype}", peak, peaks(run)["copy_gbps"]) for run in runs if peaks(run).get("copy_gbps")
             for dtype, peak in sorted((peaks(run).get("matmul_tflops") or {}).items()) if peak]
    xs = [p[0] for s in points.values() for p in s] + [peak * 1000 / gbps for _, peak, gbps in roofs]
    lo, hi = min(xs) / 4, max(xs) * 4
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    fig, (ax,) = _figure(1)
    for label, peak, gbps in roofs:
        ax.plot(grid, [min(peak, x * gbps / 1000) for x in grid], ":", label=label)
    keys = list(points)
    for key, label in zip(keys, _labels([dict(zip(_SERIES_FIELDS, k)) for k in keys])):
        ax.plot(*zip(*points[key]), "o", label=label)
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP/byte)", ylabel="TFLOP/s",
           title="roofline: achieved against measured peaks" if roofs else
           "roofline: no measured peaks in these results (points only)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    _note_host(fig, runs)
    return fig


def _note_host(fig, runs: Sequence[Run]) -> None:
    host = [f"#{r.index}" for r in runs if r.on_host]
    if host:
        fig.suptitle(f"{', '.join(host)}: {HOST_NOTE}", fontsize="small")


def save_figure(fig, path: str | Path) -> Path:
    """Write `fig` as .png, .svg or .html (the SVG inside a small self-contained page)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"-o {path}: unknown picture format {suffix or '(none)'!r}; use one of {', '.join(FORMATS)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix != ".html":
            fig.savefig(path, format=suffix[1:], dpi=120)
            return path
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        svg = buf.getvalue()
        title = html.escape(path.stem)
        path.write_text(f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n"
                        f"<body>\n{svg[svg.index('<svg'):]}</body></html>\n")
        return path
    except OSError as exc:
        raise InputError(f"-o {path}: cannot write the picture ({exc.strerror or exc})") from None
