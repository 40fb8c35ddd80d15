"""Rich tables for `suite profile`: per launch, per source line (worst first), the predicted bounds
and the strict rules. Returns renderables; printing is the CLI's."""

from __future__ import annotations

from collections import defaultdict

from rich.table import Table
from rich.text import Text

from suite.profile.summary import LineCounts


def _ratio(actual: int, ideal: int, requests: int) -> str:
    if not requests:
        return "-"
    return f"{actual / requests:.2f} ({ideal / requests:.2f})"


def _short(kernel: str) -> str:
    return kernel.replace("__nv_bfloat16", "bf16").replace("__half", "half").replace(" ", "")


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def launch_table(profiles) -> Table:
    t = Table(title="Memory behaviour per launch, counted on the CPU emulation", title_justify="left",
              caption="per warp request: actual (ideal); wf: shared-memory wavefronts; sect: global 32-byte "
                      "sectors; conflicts: wavefronts beyond the ideal; unique: global bytes touched once",
              caption_justify="left")
    t.add_column("case / kernel", overflow="fold")
    for header in ("shared\nwf/req", "bank\nconflicts", "load\nsect/req", "store\nsect/req", "unique /\nmodel B"):
        t.add_column(header, justify="right")
    for p in profiles:
        if p.error:
            t.add_row(Text(p.case.id), Text("ERROR", style="red"), *[""] * 4)
            continue
        for launch in p.launches:
            shared = launch.total(space="shared")
            loads, stores = launch.total("global", "load"), launch.total("global", "store")
            unique = launch.unique_bytes_loaded + launch.unique_bytes_stored
            label = p.case.id + (f" · {_short(launch.kernel)}" if len(p.launches) > 1 else "")
            t.add_row(Text(label), _ratio(shared.wavefronts, shared.ideal_wavefronts, shared.requests),
                      str(launch.bank_conflicts),
                      _ratio(loads.sectors, loads.ideal_sectors, loads.requests),
                      _ratio(stores.sectors, stores.ideal_sectors, stores.requests),
                      f"{_bytes(unique)} / {_bytes(p.bytes_model)}" if len(p.launches) == 1 else _bytes(unique))
    return t


def aggregate_lines(profiles) -> dict[str, list[LineCounts]]:
    """Per kernel (name up to '<'), its source lines summed over the profiled cases, worst first."""
    rows: dict[str, dict[tuple, LineCounts]] = defaultdict(dict)
    for p in profiles:
        for launch in p.launches:
            kernel = launch.kernel.split("<")[0].strip()
            for line in launch.lines:
                key = (line.line, line.space, line.kind, line.op)
                row = rows[kernel].setdefault(key, LineCounts(*key))
                for k in ("requests", "threads", "bytes", "wavefronts", "ideal_wavefronts", "sectors", "ideal_sectors"):
                    setattr(row, k, getattr(row, k) + getattr(line, k))
    return {k: sorted(v.values(), key=lambda r: (-r.excess, -r.requests, r.line)) for k, v in sorted(rows.items())}


def lines_table(kernel: str, rows: list[LineCounts], top: int) -> Table:
    t = Table(title=f"{kernel}: source lines, worst first (summed over the profiled cases)", title_justify="left")
    t.add_column("line (> callee)", overflow="fold")
    t.add_column("instruction")
    for header in ("requests", "wf/req", "sect/req", "bytes", "excess"):
        t.add_column(header, justify="right")
    for row in rows[:top]:
        memory = row.space in ("shared", "global")
        t.add_row(row.line.replace(" > ", "\n> "), row.instruction(), str(row.requests),
                  _ratio(row.wavefronts, row.ideal_wavefronts, row.requests) if row.space == "shared" else "",
                  _ratio(row.sectors, row.ideal_sectors, row.requests) if row.space == "global" else "",
                  _bytes(row.bytes) if memory else "",
                  Text(str(row.excess), style="yellow" if row.excess else ""))
    if len(rows) > top:
        t.caption = f"{len(rows) - top} more line(s); --lines N shows more, --json all"
    return t


def bounds_table(profiles, measured: dict[str, float]) -> Table:
    gpu = next((p.bound.gpu for p in profiles if p.bound), "")
    t = Table(title=f"Speed of light on {gpu}: PREDICTED least time per unit (not measured)", title_justify="left")
    t.caption = ("mma: tensor-core instructions; SFU: special-function ops; scale: the case's counts over "
                 "the profiled ones; least time: of the binding unit (--json: every unit)")
    t.caption_justify = "left"
    t.add_column("case", overflow="fold")
    for header in ("mma", "SFU", "scale", "binding\nunit", "least\nµs", "ceiling") + (
            ("measured\n/ bound",) if measured else ()):
        t.add_column(header, justify="right")
    for p in profiles:
        if not p.bound:
            continue
        b = p.bound
        value, unit = b.ceiling()
        totals = p.totals()
        row = [Text(p.case.id), str(totals["mma"]), str(totals["sfu"]), f"x{p.scale}", b.binding,
               f"{b.least_seconds * 1e6:.3g}", f"{value:.3g} {unit}"]
        if measured:
            m = measured.get(p.case.id)
            row.append(f"{m / b.least_seconds:.2f}x" if m and b.least_seconds else "-")
        t.add_row(*row)
    return t


def rules_table(findings) -> Table | None:
    failed = [f for f in findings if not f.passed]
    if not failed:
        return None
    t = Table(title="Strict rules broken", title_justify="left")
    for name in ("rule", "limit", "case", "line", "excess"):
        t.add_column(name, overflow="fold")
    for f in failed:
        t.add_row(f.rule.name, f.limit(), Text(f.case_id), f.row.line, str(f.excess))
    return t
