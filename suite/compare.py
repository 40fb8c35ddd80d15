"""Compare saved results across GPUs or commits: match cases by id, ratio of medians, a significance
verdict from the timing samples, a geometric mean per family, and the regressions for a CI gate.

The first run is the base; every other run is judged against it. A case is SLOW (FAST) only when the
samples differ significantly (two-sided Mann-Whitney U, p < ALPHA, with at least MIN_SAMPLES per
side) AND the median moved by more than PRACTICAL (2 %): noise is never called a regression, nor is
a real but negligible shift.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from suite import cases as case_filter
from suite import results
from suite.errors import InputError
from suite.results import CaseResult

ALPHA = 0.01
PRACTICAL = 0.02  # relative change of the median below which a difference does not matter
MIN_SAMPLES = 8  # per side: the normal approximation of U is trustworthy from here on


# ---- loading -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One loaded result file. `index` (1-based) is how tables and messages name it: #1, #2, ..."""

    index: int
    path: Path
    env: dict
    created: str
    complete: bool
    cases: dict[str, CaseResult]

    @property
    def device(self) -> str:
        return (self.env.get("device") or {}).get("name") or "unknown device"

    @property
    def label(self) -> str:
        return f"#{self.index} {self.device}"

    @property
    def on_host(self) -> bool:
        return self.env.get("backend") == "host"

    @property
    def commit(self) -> str:
        git = self.env.get("git") or {}
        text = (git.get("commit") or "no git")[:10]
        return text + (" (dirty)" if git.get("dirty") else "")


def _age(item: tuple[Path, dict]) -> tuple[str, str]:
    path, doc = item
    return str(doc.get("created", "")), path.name  # ISO timestamps sort in time order


def _newest_per_device(found: list[tuple[Path, dict]]) -> list[tuple[Path, dict]]:
    newest: dict[str, tuple[Path, dict]] = {}
    for item in found:
        env = item[1]["environment"]
        key = results.slug(f"{env.get('backend')}-{(env.get('device') or {}).get('name')}")
        if key not in newest or _age(item) > _age(newest[key]):
            newest[key] = item
    return [newest[k] for k in sorted(newest)]


def load_runs(paths: Sequence[str | Path], all_runs: bool = False, keyword: str | None = None) -> list[Run]:
    """Result files and folders -> runs, in the order given. A folder (e.g. results/ or
    results/<device>/) contributes the newest run of each device in it, or every run, oldest first,
    with `all_runs`. `keyword` keeps only cases whose id matches a `-k` expression."""
    loaded: list[tuple[Path, dict]] = []
    for arg in map(Path, paths):
        if not arg.is_dir():
            loaded.append((arg, results.load(arg)))
            continue
        found = [(f, results.load(f)) for f in sorted(arg.rglob("*.json")) if not f.name.startswith(".")]
        if not found:
            raise InputError(f"{arg}: folder holds no result file (*.json); expected files saved by "
                             "`suite run --save`, e.g. results/<device>/*.json")
        if all_runs:
            loaded += sorted(found, key=_age)
        else:
            loaded += _newest_per_device(found)
    runs = []
    for i, (path, doc) in enumerate(loaded, start=1):
        if not isinstance(doc["environment"], dict):
            raise InputError(f"{path}: 'environment' must be a mapping of device, versions and git facts")
        cases = results.case_results(path, doc)
        if keyword:
            cases = {c.id: c for c in case_filter.select(list(cases.values()), keyword)}
        runs.append(Run(i, path, doc["environment"], str(doc.get("created", "")), bool(doc.get("complete", True)), cases))
    return runs


# ---- statistics ----------------------------------------------------------------------------------

def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test: normal approximation with tie correction and
    continuity correction (good for n >= 8 per side)."""
    n1, n2 = len(a), len(b)
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    n = n1 + n2
    rank_sum_a, ties, i = 0.0, 0.0, 0
    while i < n:
        j = i
        while j < n and pooled[j][0] == pooled[i][0]:
            j += 1
        t = j - i
        mid_rank = (i + 1 + j) / 2  # ranks i+1 .. j share their average
        rank_sum_a += mid_rank * sum(1 for k in range(i, j) if pooled[k][1] == 0)
        ties += t ** 3 - t
        i = j
    u = rank_sum_a - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0  # every sample equal: no evidence of a difference
    z = max(abs(u - mean) - 0.5, 0.0) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2))


@dataclass(frozen=True)
class Verdict:
    label: str  # "FAST" | "SLOW" | "SAME" | "n/a"
    ratio: float | None = None  # median time of this run / median time of the base
    p: float | None = None
    note: str = ""


def judge(base: Sequence[float], other: Sequence[float]) -> Verdict:
    """FAST / SLOW / SAME for `other`'s samples against `base`'s."""
    ratio = statistics.median(other) / statistics.median(base)
    if min(len(base), len(other)) < MIN_SAMPLES:
        return Verdict("SAME", ratio, None, f"too few samples ({len(base)} and {len(other)}; need {MIN_SAMPLES} per side)")
    p = mann_whitney_p(base, other)
    if p < ALPHA and ratio > 1 + PRACTICAL:
        return Verdict("SLOW", ratio, p)
    if p < ALPHA and ratio < 1 / (1 + PRACTICAL):
        return Verdict("FAST", ratio, p)
    return Verdict("SAME", ratio, p)


def geomean(values: Sequence[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def throughput(case: CaseResult) -> tuple[float, str] | None:
    """The case's headline rate: TFLOP/s where its model counts FLOPs, else GB/s."""
    m = case.metrics or {}
    if m.get("flops") and m.get("tflops"):
        return m["tflops"], "TFLOP/s"
    if m.get("gbps"):
        return m["gbps"], "GB/s"
    return None


# ---- the comparison ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One case in one run. `verdict` is None in the base run."""

    case: CaseResult | None
    verdict: Verdict | None = None

    @property
    def samples(self) -> list[float]:
        return list((self.case.timing or {}).get("samples_s") or []) if self.case and self.case.passed else []

    @property
    def median_s(self) -> float | None:
        return (self.case.timing or {}).get("median_s") if self.samples else None


@dataclass(frozen=True)
class Row:
    id: str
    family: str
    cells: tuple[Cell, ...]  # one per run, the base first


@dataclass(frozen=True)
class FamilySummary:
    family: str
    geomeans: tuple[float | None, ...]  # per run after the base: geometric mean of time ratios to it
    counts: tuple[dict, ...]  # per run after the base: {"n": cases compared, "SLOW": k, "FAST": k}


@dataclass(frozen=True)
class Comparison:
    runs: tuple[Run, ...]
    rows: tuple[Row, ...]  # cases of the base found in at least one other run
    families: tuple[FamilySummary, ...]  # and a last one named "all"
    partial: tuple[tuple[str, tuple[int, ...]], ...]  # (case id, indices of the runs that have it)
    warnings: tuple[str, ...]


def _cell(base: Cell, case: CaseResult | None) -> Cell:
    if case is None:
        return Cell(None, Verdict("n/a", note="not in this run"))
    cell = Cell(case)
    if not case.passed:
        note = f"{case.status} in this run"
    elif not cell.samples:
        note = "no timing samples"
    elif not base.samples:
        note = "no timing in the base run"
    else:
        return Cell(case, judge(base.samples, cell.samples))
    return Cell(case, Verdict("n/a", note=note))


def _row(case_id: str, runs: Sequence[Run]) -> Row:
    base = Cell(runs[0].cases[case_id])
    return Row(case_id, base.case.family, (base, *(_cell(base, r.cases.get(case_id)) for r in runs[1:])))


def _summary(name: str, rows: Sequence[Row], n_runs: int) -> FamilySummary:
    geomeans, counts = [], []
    for i in range(1, n_runs):
        verdicts = [r.cells[i].verdict for r in rows if r.cells[i].verdict and r.cells[i].verdict.ratio]
        geomeans.append(geomean([v.ratio for v in verdicts]))
        counts.append({"n": len(verdicts), "SLOW": sum(v.label == "SLOW" for v in verdicts),
                       "FAST": sum(v.label == "FAST" for v in verdicts)})
    return FamilySummary(name, tuple(geomeans), tuple(counts))


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def fingerprint(run: Run) -> dict:
    """What should be equal when two runs claim the same device: device facts (clocks, driver...) and
    software versions. Measured peaks are left out: they are measurements, not settings."""
    device = {k: v for k, v in (run.env.get("device") or {}).items() if k != "peaks"}
    return _flatten({"device": device, "versions": run.env.get("versions") or {}})


def _differences(a: dict, b: dict) -> list[str]:
    """'key (a's value vs b's)' for every key whose values differ, sorted by key."""
    return [f"{k} ({a.get(k)} vs {b.get(k)})" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


def _timing_warnings(runs: Sequence[Run]) -> list[str]:
    """Runs timed with different protocols (cold vs hot, other stopping rules), files that say so."""
    timed = [r for r in runs if isinstance(r.env.get("timing"), dict)]
    out = []
    for r in timed[1:]:
        differ = _differences(timed[0].env["timing"], r.env["timing"])
        if differ:
            out.append(f"#{timed[0].index} and #{r.index} were timed differently: " + ", ".join(differ))
    return out


def _warnings(runs: Sequence[Run]) -> list[str]:
    out = []
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if a.device != b.device or a.on_host != b.on_host:
                continue
            differ = _differences(fingerprint(a), fingerprint(b))
            if differ:
                out.append(f"#{a.index} and #{b.index} both ran on {a.device} but differ in: " + ", ".join(differ))
    out += _timing_warnings(runs)
    backends = {r.on_host for r in runs}
    if len(backends) > 1:
        out.append("CPU-emulation and GPU runs are compared: their times measure different things")
    out += [f"#{r.index} {r.path} is an interrupted run: some cases are missing" for r in runs if not r.complete]
    return out


def compare(runs: Sequence[Run]) -> Comparison:
    """Judge every run against the first. InputError when fewer than two runs, or when a run shares
    no case with the base."""
    if len(runs) < 2:
        named = ", ".join(str(r.path) for r in runs) or "nothing"
        raise InputError(f"compare needs at least two result files; got {named}")
    base = runs[0]
    for run in runs[1:]:
        if not base.cases.keys() & run.cases.keys():
            raise InputError(f"#{run.index} {run.path} and #1 {base.path} have no case in common; "
                             "compare results of the same sweep (case ids must match)")
    rows = tuple(_row(cid, runs) for cid in base.cases if any(cid in r.cases for r in runs[1:]))
    families = sorted({r.family for r in rows})
    summaries = [_summary(f, [r for r in rows if r.family == f], len(runs)) for f in families]
    summaries.append(_summary("all", rows, len(runs)))
    all_ids = list(dict.fromkeys(cid for r in runs for cid in r.cases))
    partial = tuple((cid, tuple(r.index for r in runs if cid in r.cases)) for cid in all_ids
                    if not all(cid in r.cases for r in runs))
    return Comparison(tuple(runs), rows, tuple(summaries), partial, tuple(_warnings(runs)))


@dataclass(frozen=True)
class Regression:
    case_id: str
    run: Run
    verdict: Verdict


def regressions(comparison: Comparison, fail_above_pct: float) -> list[Regression]:
    """SLOW cases whose median grew by more than `fail_above_pct` percent (the CI gate). Only SLOW
    counts, so the gate never fails on a case the table calls SAME (below PRACTICAL, or noise)."""
    limit = 1 + fail_above_pct / 100
    return [Regression(row.id, run, cell.verdict) for row in comparison.rows
            for run, cell in zip(comparison.runs[1:], row.cells[1:])
            if cell.verdict and cell.verdict.label == "SLOW" and cell.verdict.ratio > limit]
