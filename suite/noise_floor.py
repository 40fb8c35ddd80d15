"""The run-to-run noise floor of a device kind: how far a case's median time moves between two runs of
identical code on the same machine (clocks, load, placement, what else the machine is doing).

Samples inside one run cannot show this variance, so `suite compare` never calls a change SLOW or
FAST unless it clears the floor. The floor is measured (`suite noise-floor` over repeated runs of one
commit) and saved next to the results as `noise-floor.json`; without a saved one, a built-in default
per backend applies (DEFAULT_FLOOR, with where each number comes from).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from suite import results
from suite.errors import InputError

FILE_NAME = "noise-floor.json"
SCHEMA = "rawkernel-suite/noise-floor/1"
RESULTS_ROOT: Path | None = None  # results/ of the working directory unless set (as result files go)

# Relative change of a case's median that identical code showed between runs, per backend.
# host: measured for this project (tests/data/host_repeat_runs.json): 6 runs of deform_im2col float32
#   smoke (19 cases) one after another on a shared 2-core machine under other jobs' load; of the 15
#   pairs, the largest change of one case was +117.0 %, so the default is 120 %: rounded up, since a
#   change exactly as large as the worst one seen must not be called. The emulation runs a block's fibers on every
#   core, so when another job takes a core, cases slow down by up to 2x; a quiet pair of the same
#   runs moved at most 6.6 %. A quiet machine should measure its own floor.
# cupy: NOT measured by this project (no GPU here): 5 % is an assumption for a quiet GPU with locked
#   clocks. Measure yours: run the same sweep 3+ times, `suite noise-floor results/<gpu>/ --all-runs`.
DEFAULT_FLOOR = {"host": 1.20, "cupy": 0.05}


@dataclass(frozen=True)
class Floor:
    rel: float  # a change of the median within a factor (1 + rel) either way may be run-to-run noise
    source: str  # where the number comes from, for the report


def _passed_medians(cases: dict) -> dict[str, float]:
    out = {}
    for cid, case in cases.items():
        median = (case.timing or {}).get("median_s") if case.passed else None
        if median and median > 0:
            out[cid] = median
    return out


def pair_changes(a: dict, b: dict) -> list[float]:
    """|log(median ratio)| of every passed case the two runs (id -> CaseResult) share."""
    ma, mb = _passed_medians(a), _passed_medians(b)
    return [abs(math.log(mb[cid] / ma[cid])) for cid in ma.keys() & mb.keys()]


def measure(runs: Sequence) -> tuple[float, int, int]:
    """The floor from runs of identical code on one device: the largest relative change of a case's
    median between any two of them, rounded up to 0.1 % (a change as large as the worst one seen is
    noise too). Returns (floor, pairs, case comparisons)."""
    if len(runs) < 2:
        raise InputError("noise-floor needs at least two runs of the same code on the same device; "
                         f"got {len(runs)}")
    slugs = {results.device_slug(r.env) for r in runs}
    if len(slugs) > 1:
        raise InputError(f"noise-floor: the runs are from different devices ({', '.join(sorted(slugs))}); "
                         "give repeated runs of one device")
    changes = [pair_changes(a.cases, b.cases) for a, b in itertools.combinations(runs, 2)]
    found = [c for pair in changes for c in pair]
    if not found:
        raise InputError("noise-floor: the runs share no passed, timed case")
    return math.ceil((math.exp(max(found)) - 1) * 1000) / 1000, len(changes), len(found)


def save(runs: Sequence, path: Path | None = None) -> tuple[Path, float]:
    """Measure the floor of `runs` and write it (default: results/<device>/noise-floor.json)."""
    rel, pairs, n = measure(runs)
    commits = sorted({r.commit for r in runs})
    doc = {"schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "device": results.device_slug(runs[0].env), "backend": runs[0].env.get("backend"), "floor": rel,
           "pairs": pairs, "comparisons": n, "commits": commits, "from": [str(r.path) for r in runs]}
    target = path or _results_root() / doc["device"] / FILE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=1) + "\n")
    return target, rel


def _results_root() -> Path:
    return RESULTS_ROOT or Path.cwd() / "results"


def _read(path: Path) -> float | None:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable noise-floor file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("floor"), (int, float)):
        raise InputError(f"{path}: expected a noise-floor file ({SCHEMA}) with a numeric 'floor'")
    return float(doc["floor"])


def for_run(run) -> Floor:
    """The floor that applies to a run: a noise-floor.json beside its file, else in
    results/<device>/, else the backend's default."""
    for folder in (Path(run.path).parent, _results_root() / results.device_slug(run.env)):
        rel = _read(folder / FILE_NAME)
        if rel is not None:
            return Floor(rel, str(folder / FILE_NAME))
    backend = run.env.get("backend") or "cupy"
    return Floor(DEFAULT_FLOOR.get(backend, DEFAULT_FLOOR["cupy"]), f"default for the {backend} backend")


def for_pair(base, other, given: float | None = None) -> Floor:
    """The floor for judging `other` against `base`: `given` (--noise-floor) if set, else the larger
    of the two runs' floors (two devices: each side brings its own noise)."""
    if given is not None:
        return Floor(given, "--noise-floor")
    return max(for_run(base), for_run(other), key=lambda f: f.rel)
