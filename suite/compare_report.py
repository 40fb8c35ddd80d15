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
    if v.p is not None:
        text += f" [dim]p={v.p:.1e}[/]"
    if v.note:
        text += f" [dim]{escape(v.note)}[/]"
    return text


def _rate(cell: compare.Cell) -> str:
    rate = compare.throughput(cell.case) if cell.case and cell.median_s else None
    return "-" if rate is None else f"{rate[0]:.3g} {rate[1]}"


def compare_table(comparison: Comparison) -> Table:
    caption = (f"verdict: two-sided Mann-Whitney U on the timing samples; SLOW/FAST need p < {compare.ALPHA} and a "
               f"median change over {100 * compare.PRACTICAL:.0f}%; below {compare.MIN_SAMPLES} samples per side "
               "the verdict is SAME")
    table = Table(title="cases (median time; change against #1)", caption=caption, header_style="bold")
    table.add_column("case", overflow="fold")
    for r in comparison.runs:
        table.add_column(f"#{r.index} median", justify="right")
        if r.index > 1:
            table.add_column(f"#{r.index} vs #1", justify="right")
            table.add_column(f"#{r.index} verdict")
        table.add_column(f"#{r.index} rate", justify="right")
    for row in comparison.rows:
        cells = [escape(row.id)]
        for i, cell in enumerate(row.cells):
            cells.append(fmt_time(cell.median_s))
            if i:
                cells += [change(cell.verdict.ratio if cell.verdict else None), _verdict(cell.verdict)]
            cells.append(_rate(cell))
        table.add_row(*cells)
    return table


def family_table(comparison: Comparison) -> Table:
    table = Table(title="per family: geometric mean of time ratios", header_style="bold")
    table.add_column("family")
    for r in comparison.runs[1:]:
        table.add_column(f"#{r.index} vs #1", justify="right")
        table.add_column(f"#{r.index} cases", justify="right")
    for s in comparison.families:
        cells = [f"[bold]{s.family}[/]" if s.family == "all" else escape(s.family)]
        for g, c in zip(s.geomeans, s.counts):
            cells += [change(g), f"{c['n']} ([red]{c['SLOW']} slow[/], [green]{c['FAST']} fast[/])"]
        table.add_row(*cells)
    return table


def partial_lines(comparison: Comparison) -> list[str]:
    """Cases not in every run: listed, never dropped silently."""
    return [f"[yellow]only in {', '.join(f'#{i}' for i in where)}:[/] {escape(cid)}" for cid, where in comparison.partial]


def warning_lines(comparison: Comparison) -> list[str]:
    return [f"[yellow]warning:[/] {escape(w)}" for w in comparison.warnings]


def regression_lines(found: Sequence[Regression], fail_above_pct: float) -> list[str]:
    lines = [f"[red]regression:[/] {escape(r.case_id)}: {change(r.verdict.ratio)} time on {escape(r.run.label)} "
             f"(p={r.verdict.p:.1e})" for r in found]
    verdict = (f"[red]{len(found)} case(s) significantly slower than #1 by more than {fail_above_pct:g}%[/]"
               if found else f"[green]no case significantly slower than #1 by more than {fail_above_pct:g}%[/]")
    return lines + [verdict]
