"""Going on from an earlier, unfinished run (`suite run --resume FILE`).

A long sweep may be cut short (Ctrl-C, or a time limit sending SIGINT) and saved marked incomplete.
Resuming runs only the cases that file lacks and saves a new file holding both, so a sweep can be
spread over several sessions without losing or repeating a measurement. Results belong together
only when they come from the same backend, device, commit and timing protocol; anything else is
refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from suite import results
from suite.cases import Case
from suite.errors import InputError
from suite.results import CaseResult


@dataclass
class Previous:
    path: Path
    environment: dict
    results: dict[str, CaseResult]  # by case id, in the file's order


def _where(env: dict) -> str:
    return f"backend {env.get('backend')!r} on {(env.get('device') or {}).get('name')!r}"


def load_previous(path: str | Path, env: dict) -> Previous:
    """The run in `path`, checked to be one this run (`env`, from results.environment) may extend."""
    path = Path(path)
    doc = results.load(path)
    old = doc["environment"]
    if not isinstance(old, dict) or _where(old) != _where(env):
        raise InputError(f"--resume {path}: that run used {_where(old if isinstance(old, dict) else {})}, this one "
                         f"{_where(env)}; results of different devices do not belong in one file: start a new run")
    if old.get("timing") not in (None, env.get("timing")):
        raise InputError(f"--resume {path}: that run timed with {old['timing']}, this one with {env.get('timing')}; "
                         "give the same timing options, or start a new run")
    old_commit, commit = (old.get("git") or {}).get("commit"), (env.get("git") or {}).get("commit")
    if old_commit != commit:
        raise InputError(f"--resume {path}: that run measured commit {old_commit}, this checkout is {commit}; resume "
                         "from the same commit, or start a new run")
    return Previous(path, old, results.case_results(path, doc))


def merged(previous: Previous, selected: Sequence[Case], new: Sequence[CaseResult]) -> list[CaseResult]:
    """Every result once: in the order of `selected`, then earlier results this run did not select."""
    by_id = dict(previous.results) | {r.id: r for r in new}
    ordered = [by_id.pop(c.id) for c in selected if c.id in by_id]
    return ordered + list(by_id.values())


def environment(previous: Previous) -> dict:
    """The earlier run's environment (its device facts and measured peaks, so every case's percentages
    use the same peaks), noting which file it goes on from."""
    return previous.environment | {"resumed_from": [*previous.environment.get("resumed_from", []), str(previous.path)]}
