"""Rich table of a `suite check` report (suite/check.py): one row per kernel instantiation and arch."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from suite import REPO_ROOT
from suite.check import CheckReport, KernelCheck
from suite.occupancy import Occupancy
from suite.sass import SUMMARY_CLASSES


def _source(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _kib(n: int) -> str:
    return f"{n / 1024:.1f}K" if n else "0"


def _kernel(check: KernelCheck) -> Text:
    inst = check.instantiation
    text = Text(inst.name_expression, style="bold")
    if inst.label:
        text.append(f" [{inst.label}]", style="cyan")
    text.append(f"\n{_source(inst.source)}", style="dim")
    return text


def _occupancy(occ: Occupancy) -> str:
    return f"{occ.fraction:.0%}: {occ.blocks_per_sm} blocks ({occ.limited_by})"


def _row(check: KernelCheck) -> list:
    verdict = Text("ok", style="green") if check.passed else Text("\n".join(check.problems), style="red")
    if check.usage is None:  # did not compile: nothing measured
        return [_kernel(check), check.arch, *["-"] * (4 + len(SUMMARY_CLASSES)), verdict]
    usage = check.usage
    smem = _kib(usage.static_smem) + (f"+{_kib(check.instantiation.dynamic_smem)}" if check.instantiation.dynamic_smem else "")
    counts = [str(check.instructions[name]) if check.instructions[name] else "·" for name in SUMMARY_CLASSES]
    return [_kernel(check), check.arch, str(usage.registers), smem, str(usage.local + usage.stack),
            _occupancy(check.occupancy), *counts, verdict]


def check_table(report: CheckReport) -> Table:
    """Registers, shared memory (static+dynamic), local bytes per thread, occupancy, SASS instruction
    counts and the verdict of every checked kernel."""
    passed = sum(k.passed for k in report.kernels)
    table = Table(title=f"suite check: {passed}/{len(report.kernels)} ok for {', '.join(report.archs)}")
    for header in ("kernel", "arch", "regs", "smem", "local B", "occupancy"):
        table.add_column(header, justify="left" if header in ("kernel", "arch", "occupancy") else "right")
    for name in SUMMARY_CLASSES:
        table.add_column(name, justify="right")
    table.add_column("verdict")
    for check in report.kernels:
        table.add_row(*_row(check))
    return table
