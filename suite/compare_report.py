"""Rich tables for `suite compare`: who ran what, the per-case verdicts, the per-family summary."""

from __future__ import annotations

from typing import Sequence

from rich.markup import escape
from rich.table import Table

from suite import compare
from suite.compare import Comparison, Regression, Run, Verdict
from suite.report import fmt_time

VERDICT_STYLE = {"SLOW": "[red]SLOW[/]", "FAST": "[green]FAST[/]", "SAME": "SAME", "n/a": "[dim]n/a[/]"}
HOST_NOTE = "times are CPU-emulation times of the .cu source (host backend), not GPU performance"


def change(ratio: float | None) -> str:
    """A time ratio as a signed change: 1.23 -> '+23.0%' (slower), 0.8 -> '-20.0%' (faster)."""
    return "-" if ratio is None else f"{100 * (ratio - 1):+.1f}%"


def header_table(runs: Sequence[Run]) -> Table:
    """One column per run, one row per fact; rows where runs disagree are highlighted."""
    host = [f"#{r.index}" for r in runs if r.on_host]
    caption = f"{', '.join(host)}: {HOST_NOTE}" if host else None
    table = Table(title="runs compared (#1 is the base)", caption=caption, header_style="bold")
    table.add_column("")
    for r in runs:
        table.add_column(f"#{r.index}", overflow="fold")
    facts = {"file": [str(r.path) for r in runs], "created": [r.created for r in runs],
             "backend": [str(r.env.get("backend")) for r in runs], "device": [r.device for r in runs],
             "git commit": [r.commit for r in runs]}
    prints = [compare.fingerprint(r) for r in runs]
    for key in dict.fromkeys(k for p in prints for k in p):
        if key != "device.name":
            facts[key] = [str(p.get(key, "-")) for p in prints]
    timings = [r.env.get("timing") or {} for r in runs]
    for key in dict.fromkeys(k for t in timings for k in t):
        facts[f"timing.{key}"] = [str(t.get(key, "-")) for t in timings]
    for name, values in facts.items():
        differs = len(set(values)) > 1 and name not in ("file", "created")
        style = "[yellow]" if differs else ""
        table.add_row(escape(name), *(f"{style}{escape(v)}" for v in values))
    return table


def _verdict(v: Verdict | None) -> str:
    if v is None:
        return ""
    text = VERDICT_STYLE[v.label]
    if v.threshold is not None:
        text += f" [dim]±{100 * v.threshold:.0f}%[/]"
    if v.p is not None:
        text += f" [dim]p={v.p:.1e}[/]"
    if v.note:
        text += f" [dim]{escape(v.note)}[/]"
    return text


def _sources(cell: compare.Cell) -> str:
    if cell.sources is None or not cell.sources.known:
        return "[dim]?[/]"
    return "[yellow]differ[/]" if cell.sources.changed else "same"


def _rate(cell: compare.Cell) -> str:
    rate = compare.throughput(cell.case) if cell.case and cell.median_s else None
    return "-" if rate is None else f"{rate[0]:.3g} {rate[1]}"


def noise_lines(comparison: Comparison) -> list[str]:
    """What each run was judged against: its noise floor, where it comes from, the pair's spread."""
    out = []
    for run, noise in zip(comparison.runs[1:], comparison.noise):
        spread = ("too few cases for a spread" if noise.spread is None
                  else f"spread of the changes {100 * noise.spread:.1f}% (robust sd, log scale)")
        out.append(f"#{run.index} vs #1: run-to-run noise floor ±{100 * noise.floor.rel:.0f}% "
                   f"({escape(noise.floor.source)}); {spread}")
    return out


def compare_table(comparison: Comparison) -> Table:
    caption = (f"verdict: SLOW/FAST when the median moved by more than ±threshold (the largest of "
               f"{100 * compare.PRACTICAL:.0f}%, the run-to-run noise floor, and {compare.Z:g} sd of the change) "
               f"and, with {compare.MIN_SAMPLES}+ samples per side, a two-sided Mann-Whitney U gives "
               f"p < {compare.ALPHA}; sources: kernel sources against #1's (? = not recorded)")
    table = Table(title="cases (median time; change against #1)", caption=caption, header_style="bold")
    table.add_column("case", no_wrap=True)
    for r in comparison.runs:
        table.add_column(f"#{r.index} median", justify="right")
        if r.index > 1:
            table.add_column(f"#{r.index} vs #1", justify="right")
            table.add_column(f"#{r.index} verdict")
            table.add_column(f"#{r.index} sources")
        table.add_column(f"#{r.index} rate", justify="right")
    for row in comparison.rows:
        cells = [escape(row.id)]
        for i, cell in enumerate(row.cells):
            cells.append(fmt_time(cell.median_s))
            if i:
                cells += [change(cell.verdict.ratio if cell.verdict else None), _verdict(cell.verdict), _sources(cell)]
            cells.append(_rate(cell))
        table.add_row(*cells)
    return table


def _mean(mean: compare.Mean) -> str:
    if mean.ratio is None:
        return "-"
    if mean.low is None:
        return f"{change(mean.ratio)} [dim](too few cases for an interval)[/]"
    interval = f"[dim]({change(mean.low)} to {change(mean.high)})[/]"
    return f"{change(mean.ratio)} {interval}" + ("" if mean.significant else " [dim]not significant[/]")


def family_table(comparison: Comparison) -> Table:
    caption = (f"geometric mean with its {100 * compare.CONFIDENCE:.0f}% confidence interval; significant only "
               f"when the interval clears {100 * compare.PRACTICAL:.0f}% and the run-to-run noise floor")
    table = Table(title="per family: geometric mean of time ratios", caption=caption, header_style="bold")
    table.add_column("family", no_wrap=True)
    for r in comparison.runs[1:]:
        table.add_column(f"#{r.index} vs #1", justify="right")
        table.add_column(f"#{r.index} cases", justify="right")
    for s in comparison.families:
        cells = [f"[bold]{s.family}[/]" if s.family == "all" else escape(s.family)]
        for m, c in zip(s.means, s.counts):
            cells += [_mean(m), f"{c['n']} ([red]{c['SLOW']} slow[/], [green]{c['FAST']} fast[/])"]
        table.add_row(*cells)
    return table


def source_lines(comparison: Comparison) -> list[str]:
    """Per run after the base: for how many cases the kernel sources are the same, differ, or are
    not recorded, and which sources differ."""
    out = []
    for i, run in enumerate(comparison.runs[1:], start=1):
        found = [row.cells[i].sources for row in comparison.rows if row.cells[i].sources is not None]
        same = sum(s.known and not s.changed for s in found)
        differ = [s for s in found if s.known and s.changed]
        unknown = sum(not s.known for s in found)
        parts = [f"same for {same} case(s)"] if same else []
        if differ:
            paths = sorted({p for s in differ for p in s.changed})
            parts.append(f"[yellow]differ for {len(differ)} case(s)[/] ({escape(', '.join(paths))})")
        if unknown:
            parts.append(f"not recorded for {unknown} case(s) (a result file older than the 'sources' field)")
        if parts:
            out.append(f"kernel sources of #{run.index} against #1: " + "; ".join(parts))
    return out


def partial_lines(comparison: Comparison) -> list[str]:
    """Cases not in every run: listed, never dropped silently."""
    return [f"[yellow]only in {', '.join(f'#{i}' for i in where)}:[/] {escape(cid)}" for cid, where in comparison.partial]


def warning_lines(comparison: Comparison) -> list[str]:
    return [f"[yellow]warning:[/] {escape(w)}" for w in comparison.warnings]


def regression_lines(found: Sequence[Regression], fail_above_pct: float) -> list[str]:
    lines = [f"[red]regression:[/] {escape(r.case_id)}: {change(r.verdict.ratio)} time on {escape(r.run.label)} "
             f"(beyond its ±{100 * r.verdict.threshold:.0f}% threshold"
             + (f", p={r.verdict.p:.1e})" if r.verdict.p is not None else ")") for r in found]
    verdict = (f"[red]{len(found)} case(s) significantly slower than #1 by more than {fail_above_pct:g}%[/]"
               if found else f"[green]no case significantly slower than #1 by more than {fail_above_pct:g}%[/]")
    return lines + [verdict]
