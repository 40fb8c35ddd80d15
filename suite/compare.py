"""Compare saved results across GPUs or commits: match cases by id, ratio of medians, a verdict that
accounts for run-to-run noise, a geometric mean per family with its confidence interval, and the
regressions for a CI gate.

The first run is the base; every other run is judged against it. A case is SLOW (FAST) only when its
median moved by more than its threshold, the largest of:
- PRACTICAL (2 %): a real but negligible shift does not matter;
- the device's run-to-run noise floor (suite/noise_floor.py): identical code moves that much between
  runs, which the samples of one run cannot show;
- Z robust standard deviations of the change, from the spread of all compared cases' changes in this
  pair of runs and the two medians' own standard errors;
and, when both sides have MIN_SAMPLES samples, the two-sided Mann-Whitney U test agrees (p < ALPHA).
A family's geometric mean counts only when its 99 % confidence interval clears PRACTICAL and the floor.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from suite import cases as case_filter
from suite import noise_floor, results
from suite.errors import InputError
from suite.results import CaseResult

ALPHA = 0.01
PRACTICAL = 0.02  # relative change of the median below which a difference does not matter
MIN_SAMPLES = 8  # per side: the normal approximation of U is trustworthy from here on; below, no U test
Z = 3.0  # robust standard deviations a change must exceed
MIN_CASES_FOR_SPREAD = 8  # compared cases needed before their spread says anything about the noise
CONFIDENCE = 0.99  # of a family's geometric-mean interval


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


def load_runs(paths: Sequence[str | Path], all_runs: bool = False, keyword: str | None = None,
              dtypes: Sequence[str] = ()) -> list[Run]:
    """Result files and folders -> runs, in the order given. A folder (e.g. results/ or
    results/<device>/) contributes the newest run of each device in it, or every run, oldest first,
    with `all_runs`. `keyword` keeps only cases whose id matches a `-k` expression, `dtypes` only
    those dtypes (exactly)."""
    loaded: list[tuple[Path, dict]] = []
    for arg in map(Path, paths):
        if not arg.is_dir():
            loaded.append((arg, results.load(arg)))
            continue
        found = [(f, results.load(f)) for f in sorted(arg.rglob("*.json"))
                 if not f.name.startswith(".") and f.name != noise_floor.FILE_NAME]
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
        if keyword or dtypes:
            cases = {c.id: c for c in case_filter.select(list(cases.values()), keyword, dtypes)}
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
    p: float | None = None  # Mann-Whitney U, when both sides had MIN_SAMPLES
    note: str = ""
    threshold: float | None = None  # relative change the ratio had to exceed (either way)


def robust_sd(values: Sequence[float]) -> float:
    """Standard deviation estimated from the median absolute deviation: a few real changes among
    many unchanged cases do not inflate it."""
    center = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - center) for v in values)


def threshold(floor: float, spread: float | None = None, noises: Sequence[float] = ()) -> float:
    """The relative change a case must exceed: PRACTICAL, the run-to-run `floor`, and Z times the
    combined log-scale deviation of the pair's `spread` and the medians' relative standard errors."""
    variance = (spread or 0.0) ** 2 + sum(n ** 2 for n in noises if n is not None and math.isfinite(n))
    return max(PRACTICAL, floor, math.exp(Z * math.sqrt(variance)) - 1)


def judge(base: Sequence[float], other: Sequence[float], limit: float = PRACTICAL) -> Verdict:
    """FAST / SLOW / SAME for `other`'s samples against `base`'s: the median must move by more than
    `limit` (relative, either way) and, with MIN_SAMPLES per side, the U test must agree."""
    ratio = statistics.median(other) / statistics.median(base)
    p = mann_whitney_p(base, other) if min(len(base), len(other)) >= MIN_SAMPLES else None
    if abs(math.log(ratio)) <= math.log(1 + limit):
        return Verdict("SAME", ratio, p, threshold=limit)
    if p is not None and p >= ALPHA:
        return Verdict("SAME", ratio, p, "not significant within the runs", limit)
    return Verdict("SLOW" if ratio > 1 else "FAST", ratio, p, threshold=limit)


def geomean(values: Sequence[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def t_quantile(p: float, dof: int) -> float:
    """Student's t quantile (Cornish-Fisher expansion around the normal one; within 1 % from 3
    degrees of freedom, which is all a confidence interval here needs)."""
    z = statistics.NormalDist().inv_cdf(p)
    v = float(dof)
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3))


@dataclass(frozen=True)
class Mean:
    """A geometric mean of time ratios with its CONFIDENCE interval (None below 3 cases)."""

    ratio: float | None
    low: float | None = None
    high: float | None = None
    significant: bool = False


def mean_change(ratios: Sequence[float], floor: float) -> Mean:
    """Geometric mean of `ratios` and its t interval; significant when the whole interval lies beyond
    PRACTICAL and the run-to-run `floor` (a shift of the whole run is noise the cases share, so
    averaging many cases does not remove it)."""
    if not ratios:
        return Mean(None)
    logs = [math.log(r) for r in ratios]
    center = statistics.fmean(logs)
    if len(logs) < 3:
        return Mean(math.exp(center))
    half = t_quantile(0.5 + CONFIDENCE / 2, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    low, high = center - half, center + half
    bound = math.log(1 + max(PRACTICAL, floor))
    return Mean(math.exp(center), math.exp(low), math.exp(high), low > bound or high < -bound)


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
    """One case in one run. `verdict` and `sources` are None in the base run."""

    case: CaseResult | None
    verdict: Verdict | None = None
    sources: "SourceChange | None" = None

    @property
    def samples(self) -> list[float]:
        return list((self.case.timing or {}).get("samples_s") or []) if self.case and self.case.passed else []

    @property
    def median_s(self) -> float | None:
        return (self.case.timing or {}).get("median_s") if self.samples else None

    @property
    def noise(self) -> float | None:
        """The relative standard error of the median, as the run measured it."""
        return (self.case.timing or {}).get("noise") if self.samples else None


@dataclass(frozen=True)
class SourceChange:
    """How the kernel sources a case built differ from the base's: `known` is False when either
    result file predates the `sources` field; `changed` lists the paths whose hashes differ (or
    that only one side built)."""

    known: bool
    changed: tuple[str, ...] = ()


def source_change(base: CaseResult | None, other: CaseResult | None) -> SourceChange:
    a = getattr(base, "sources", None)
    b = getattr(other, "sources", None)
    if not isinstance(a, dict) or not isinstance(b, dict) or not a or not b:
        return SourceChange(False)
    return SourceChange(True, tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))))


@dataclass(frozen=True)
class Row:
    id: str
    family: str
    cells: tuple[Cell, ...]  # one per run, the base first


@dataclass(frozen=True)
class FamilySummary:
    family: str
    means: tuple[Mean, ...]  # per run after the base: geometric mean of time ratios to it, with its interval
    counts: tuple[dict, ...]  # per run after the base: {"n": cases compared, "SLOW": k, "FAST": k}


@dataclass(frozen=True)
class Noise:
    """What a run after the base was judged against: the run-to-run floor and the spread of the
    pair's log ratios (None with fewer than MIN_CASES_FOR_SPREAD cases)."""

    floor: noise_floor.Floor
    spread: float | None


@dataclass(frozen=True)
class Comparison:
    runs: tuple[Run, ...]
    rows: tuple[Row, ...]  # cases of the base found in at least one other run
    families: tuple[FamilySummary, ...]  # and a last one named "all"
    partial: tuple[tuple[str, tuple[int, ...]], ...]  # (case id, indices of the runs that have it)
    warnings: tuple[str, ...]
    noise: tuple[Noise, ...] = ()  # per run after the base


def _cell(base: Cell, case: CaseResult | None, noise: Noise) -> Cell:
    if case is None:
        return Cell(None, Verdict("n/a", note="not in this run"))
    cell = Cell(case)
    sources = source_change(base.case, case)
    if not case.passed:
        note = f"{case.status} in this run"
    elif not cell.samples:
        note = "no timing samples"
    elif not base.samples:
        note = "no timing in the base run"
    else:
        limit = threshold(noise.floor.rel, noise.spread, (base.noise, cell.noise))
        return Cell(case, judge(base.samples, cell.samples, limit), sources)
    return Cell(case, Verdict("n/a", note=note), sources)


def _pair_noise(base: Run, other: Run, given: float | None) -> Noise:
    logs = [math.log(Cell(other.cases[cid]).median_s / Cell(case).median_s) for cid, case in base.cases.items()
            if cid in other.cases and Cell(case).median_s and Cell(other.cases[cid]).median_s]
    spread = robust_sd(logs) if len(logs) >= MIN_CASES_FOR_SPREAD else None
    return Noise(noise_floor.for_pair(base, other, given), spread)


def _row(case_id: str, runs: Sequence[Run], noise: Sequence[Noise]) -> Row:
    base = Cell(runs[0].cases[case_id])
    cells = (_cell(base, r.cases.get(case_id), n) for r, n in zip(runs[1:], noise))
    return Row(case_id, base.case.family, (base, *cells))


def _summary(name: str, rows: Sequence[Row], noise: Sequence[Noise]) -> FamilySummary:
    means, counts = [], []
    for i, pair in enumerate(noise, start=1):
        verdicts = [r.cells[i].verdict for r in rows if r.cells[i].verdict and r.cells[i].verdict.ratio]
        means.append(mean_change([v.ratio for v in verdicts], pair.floor.rel))
        counts.append({"n": len(verdicts), "SLOW": sum(v.label == "SLOW" for v in verdicts),
                       "FAST": sum(v.label == "FAST" for v in verdicts)})
    return FamilySummary(name, tuple(means), tuple(counts))


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


def compare(runs: Sequence[Run], floor: float | None = None) -> Comparison:
    """Judge every run against the first. `floor`: the run-to-run noise floor (relative) to use
    instead of the devices' saved or default ones. InputError when fewer than two runs, or when a
    run shares no case with the base."""
    if len(runs) < 2:
        named = ", ".join(str(r.path) for r in runs) or "nothing"
        raise InputError(f"compare needs at least two result files; got {named}")
    base = runs[0]
    for run in runs[1:]:
        if not base.cases.keys() & run.cases.keys():
            raise InputError(f"#{run.index} {run.path} and #1 {base.path} have no case in common; "
                             "compare results of the same sweep (case ids must match)")
    noise = [_pair_noise(base, run, floor) for run in runs[1:]]
    rows = tuple(_row(cid, runs, noise) for cid in base.cases if any(cid in r.cases for r in runs[1:]))
    families = sorted({r.family for r in rows})
    summaries = [_summary(f, [r for r in rows if r.family == f], noise) for f in families]
    summaries.append(_summary("all", rows, noise))
    all_ids = list(dict.fromkeys(cid for r in runs for cid in r.cases))
    partial = tuple((cid, tuple(r.index for r in runs if cid in r.cases)) for cid in all_ids
                    if not all(cid in r.cases for r in runs))
    return Comparison(tuple(runs), rows, tuple(summaries), partial, tuple(_warnings(runs)), tuple(noise))


@dataclass(frozen=True)
class Regression:
    case_id: str
    run: Run
    verdict: Verdict


def regressions(comparison: Comparison, fail_above_pct: float) -> list[Regression]:
    """SLOW cases whose median grew by more than `fail_above_pct` percent (the CI gate). Only SLOW
    counts, so the gate never fails on a case the table calls SAME (below its threshold: negligible,
    within the run-to-run noise floor, or not significant)."""
    limit = 1 + fail_above_pct / 100
    return [Regression(row.id, run, cell.verdict) for row in comparison.rows
            for run, cell in zip(comparison.runs[1:], row.cells[1:])
            if cell.verdict and cell.verdict.label == "SLOW" and cell.verdict.ratio > limit]
