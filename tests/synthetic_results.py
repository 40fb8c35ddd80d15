"""Synthetic result files for the compare and plot tests, written by the suite's own save path."""

from __future__ import annotations

import copy
import functools
import json
import random
from pathlib import Path

from suite import results, timing


class _FakeBackend:
    def __init__(self, name: str, device: dict):
        self.name, self._device = name, device

    def describe(self) -> dict:
        return dict(self._device)


@functools.lru_cache(maxsize=None)
def _base_environment(backend: str) -> dict:
    # results.environment asks git and torch for versions: once per test session is enough.
    return results.environment(_FakeBackend(backend, {"name": "placeholder"}))


def environment(device: str = "NVIDIA H100", backend: str = "cupy", peaks: dict | None = None, **facts) -> dict:
    env = copy.deepcopy(_base_environment(backend))
    env["device"] = {"name": device, "sm_clock_mhz": 1980, "driver": "580.65", **facts}
    if peaks:
        env["device"]["peaks"] = peaks
    return env


def samples(mean: float, rel_noise: float = 0.01, n: int = 20, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [mean * (1 + rng.gauss(0, rel_noise)) for _ in range(n)]


def case(case_id: str, times: list[float], params: dict | None = None, flops: int = 0, nbytes: int = 10**8,
         status: str = "passed", baselines: dict | None = None) -> results.CaseResult:
    """A passed case with timing statistics from `times` and metrics derived from its median, as the runner does."""
    family, _, dtype, kernel = case_id.split("/")
    stats = timing.summarize(times, "noise") if status == "passed" else None
    metrics = {}
    if stats:
        metrics = {"flops": flops, "bytes": nbytes, "gbps": nbytes / stats.median_s / 1e9,
                   "tflops": flops / stats.median_s / 1e12 if flops else None}
    return results.CaseResult(id=case_id, family=family, kernel=kernel, dtype=dtype, params=params or {},
                              shape="synthetic", status=status, timing=stats.as_dict() if stats else None,
                              metrics=metrics, baselines=baselines or {})


def save_run(root, env: dict, cases: list[results.CaseResult], created: str | None = None):
    doc = results.document(env, cases, complete=True, command="suite run (synthetic)")
    if created:
        doc["created"] = created
    return results.save(doc, results.default_path(env, root=root))


HOST_REPEAT_RUNS = Path(__file__).parent / "data" / "host_repeat_runs.json"


def host_repeat_runs(root, scale: dict | None = None) -> list:
    """The six measured host runs of identical code (tests/data/host_repeat_runs.json) saved as result
    files under `root`; `scale` maps (run index, case id) to a factor applied to that case's samples,
    to make a known change on top of real run-to-run noise."""
    doc = json.loads(HOST_REPEAT_RUNS.read_text())
    env = environment(doc["device"], backend="host")
    paths = []
    for i, run in enumerate(doc["runs"]):
        cases = [case(cid, [x * (scale or {}).get((i, cid), 1.0) for x in times]) for cid, times in run.items()]
        paths.append(save_run(root / f"run{i}", env, cases, created=f"2026-12-07T23:0{i}:00+00:00"))
    return paths
