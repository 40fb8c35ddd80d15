"""Sweeps on a Ray cluster: long-lived workers, one per GPU (or per CPU core for the host backend),
grouped by device kind; cases handed out one at a time, results streamed back.

This is the only module that imports Ray (the optional `cluster` extra). The runner knows nothing
of it: each worker runs cases with runner.run_case, as a plain run does, and keeps its backend
(CUDA context, module cache, measured peaks) from one case to the next.

Device kind: a node that carries a custom resource `suite-device:<kind>` (set by
`ray start --resources '{"suite-device:<kind>": N}'`) offers N workers of that kind; any other node
offers one worker per GPU (cupy) or per CPU (host), whose kind the worker reports: the GPU's name
and memory, or the CPU emulation's CPU model.

Two modes: each kind runs the whole selection (`each-device`), or all workers share one queue
(`shard`). A worker lost inside a case (killed, a lost node) is replaced on its node and the case
goes to another worker of the same kind; a case that took two workers down is an error row.
"""

from __future__ import annotations

import collections
import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

from suite import REPO_ROOT, results, runner
from suite.cases import Case
from suite.errors import InputError, SuiteError
from suite.results import CaseResult

try:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
except ImportError:  # the optional `cluster` extra is not installed
    ray = None

KIND_RESOURCE = "suite-device:"
MODES = ("each-device", "shard")
DEATHS_ALLOWED = 2  # a case that took this many workers down is recorded as an error


def device_kind(backend_name: str, device: dict) -> str:
    """A device kind as results name it: the GPU's name and memory, or the host's CPU model."""
    if backend_name == "cupy" and device.get("memory_bytes"):
        return f"{device['name']} {device['memory_bytes'] / 2**30:.0f} GiB"
    return device.get("name", backend_name)


def _ran_on(where: dict) -> dict:
    """A worker's place as a case records it (its pid is only for the driver)."""
    return {k: v for k, v in where.items() if k != "pid"}


def kind_of(env: dict) -> str:
    """The device kind a saved run belongs to (a cluster run names it; a plain run's device implies it)."""
    return (env.get("cluster") or {}).get("kind") or device_kind(env.get("backend", ""), env.get("device") or {})


class _Worker:
    """One long-lived process on one GPU (or CPU core): builds the backend once, runs cases on it."""

    def __init__(self, backend_name: str, checks: tuple, options: runner.RunOptions, label: str | None):
        from suite import backends

        self.backend = backends.get_backend(backend_name, checks)
        self.options = options
        self.timer = self.backend.timer(options.timer_mode, options.launches)
        self.env = results.environment(self.backend)
        self.peaks = self.env["device"].get("peaks")
        context = ray.get_runtime_context()
        self.where = {"node": os.uname().nodename, "node_id": context.get_node_id(),
                      "kind": label or device_kind(self.backend.name, self.env["device"]),
                      "device": self.env["device"].get("name"), "gpu": [str(g) for g in ray.get_gpu_ids()],
                      "pid": os.getpid()}

    def describe(self) -> tuple[dict, dict]:
        return self.env, self.where

    def prepare(self, peaks: dict | None, dtypes: tuple) -> dict | None:
        """The device's peaks for percent-of-peak: given (a resumed run's), or measured once here."""
        if peaks is None and self.backend.name == "cupy":
            from suite.peaks import measure_peaks

            peaks = measure_peaks(self.backend, list(dtypes))
        self.peaks = peaks
        return peaks

    def run(self, case: Case) -> tuple[CaseResult, bool]:
        """The case's result, and whether this process can go on (False after a CUDA fault)."""
        result = runner.run_case(case, self.backend, self.timer, self.options, self.peaks)
        result.ran_on = _ran_on(self.where)
        return result, not self.backend.context_lost


_WorkerActor = ray.remote(_Worker) if ray is not None else None


@dataclass
class _Slot:
    """The driver's handle on one worker."""

    backend: str
    label: str | None  # the node's `suite-device:` kind, if it has one
    actor_options: dict  # kept to start a replacement on the same node
    actor: object = None
    where: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.where["kind"]


@dataclass
class KindRun:
    kind: str
    env: dict  # the environment of one of its workers (device, host, versions, peaks)
    workers: int
    results: list[CaseResult] = field(default_factory=list)


@dataclass
class ClusterOutcome:
    kinds: dict[str, KindRun]
    interrupted: bool
    replaced: int = 0  # workers started again after one was lost


def connect(address: str) -> None:
    """Join the cluster at `address`, or start one on this machine for `local`. Workers import the
    suite from this checkout's path, which every node must hold (the same image or checkout)."""
    if ray is None:
        raise InputError("--ray needs Ray, which is not installed: pip install -e '.[cluster]'")
    try:
        ray.init(address=address, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False, configure_logging=False)
    except ConnectionError as exc:
        raise InputError(f"--ray {address}: cannot reach a Ray cluster there ({exc})") from None


def disconnect() -> None:
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def _live_nodes() -> list[dict]:
    return [node for node in ray.nodes() if node.get("Alive")]


def backend_name(requested: str) -> str:
    """The backend the cluster's workers use: as asked, or for `auto` cupy when any node has a GPU."""
    if requested != "auto":
        return requested
    return "cupy" if any(node.get("Resources", {}).get("GPU") for node in _live_nodes()) else "host"


def _runtime_env(backend: str) -> dict:
    """The suite from this checkout's path; one emulation thread per host worker (the workers, not
    the threads of one, fill the cores)."""
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    if backend == "host":
        env["SUITE_HOST_THREADS"] = "1"
    return {"env_vars": env}


def _slots(backend: str) -> list[_Slot]:
    """One slot per GPU (cupy), CPU (host) or labelled device of every live node."""
    slots = []
    for node in _live_nodes():
        resources = node.get("Resources", {})
        labels = [k for k in resources if k.startswith(KIND_RESOURCE)]
        count = int(resources.get("GPU" if backend == "cupy" else "CPU", 0))
        need = {"num_gpus": 1, "num_cpus": 0} if backend == "cupy" else {"num_cpus": 1}
        if labels and count:
            need["resources"] = {labels[0]: 1}
            count = min(count, int(resources[labels[0]]))
        options = dict(need, scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                       max_restarts=0, runtime_env=_runtime_env(backend))
        label = labels[0][len(KIND_RESOURCE):] if labels else None
        slots += [_Slot(backend, label, options) for _ in range(count)]
    return slots


def _start(slot: _Slot, checks: tuple, options: runner.RunOptions):
    """Start `slot`'s worker; the returned ref resolves to its (env, where)."""
    slot.actor = _WorkerActor.options(**slot.actor_options).remote(slot.backend, checks, options, slot.label)
    return slot.actor.describe.remote()


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Sweep:
    """The driver's side of a running sweep: queues per kind, workers in flight, results."""

    def __init__(self, queues, checks: tuple, options: runner.RunOptions, on_start, on_done):
        self.checks, self.options, self.on_start, self.on_done = checks, options, on_start, on_done
        self.queues = queues  # kind -> deque of cases; in shard mode one deque that every kind shares
        self.retries: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.deaths: collections.Counter = collections.Counter()
        self.in_flight: dict = {}  # ref -> (slot, case); case None while the worker starts
        self.idle: list[_Slot] = []
        self.results: dict[str, list[CaseResult]] = collections.defaultdict(list)
        self.replaced = 0

    def submit(self, slot: _Slot) -> None:
        queue = self.retries[slot.kind] or self.queues[slot.kind]
        if not queue:
            self.idle.append(slot)
            return
        case = queue.popleft()
        if self.on_start:
            self.on_start(slot.kind, case, slot.where)
        self.in_flight[slot.actor.run.remote(case)] = (slot, case)

    def record(self, kind: str, result: CaseResult) -> None:
        self.results[kind].append(result)
        if self.on_done:
            self.on_done(kind, result)

    def replace(self, slot: _Slot) -> None:
        ray.kill(slot.actor)
        self.in_flight[_start(slot, self.checks, self.options)] = (slot, None)
        slot.where = {"kind": slot.kind}  # until the new worker describes itself
        self.replaced += 1

    def lost(self, slot: _Slot, case: Case, exc: Exception) -> None:
        """`slot`'s worker died inside `case`: retry it on the kind's next worker, or give up on it."""
        self.deaths[case.id] += 1
        if self.deaths[case.id] >= DEATHS_ALLOWED:
            failed = runner.new_result(case)
            failed.error = f"the case took {DEATHS_ALLOWED} workers of {slot.kind} down; the last: {_reason(exc)}"
            failed.ran_on = _ran_on(slot.where)
            self.record(slot.kind, failed)
        else:
            self.retries[slot.kind].append(case)
        self.replace(slot)

    def step(self) -> None:
        """Wait for the next call to end and act on it."""
        [ref], _ = ray.wait(list(self.in_flight), num_returns=1)
        slot, case = self.in_flight.pop(ref)
        self._settle(slot, case, ref)
        for waiting in [s for s in self.idle if self.retries[s.kind]]:  # a retry for an idle worker
            self.idle.remove(waiting)
            self.submit(waiting)

    def _settle(self, slot: _Slot, case: Case | None, ref) -> None:
        try:
            value = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the worker lives on; the case raised past run_case
            failed = runner.new_result(case)
            failed.error = f"the worker raised {_reason(exc)}"
            self.record(slot.kind, failed)
            self.submit(slot)
            return
        except ray.exceptions.RayError as exc:  # the worker died (killed, its node lost...)
            if case is not None:  # else a replacement that could not start (its node is gone)
                self.lost(slot, case, exc)
            return
        if case is None:  # a replacement is up
            slot.where = value[1]
            self.submit(slot)
            return
        result, usable = value
        self.record(slot.kind, result)
        if usable:
            self.submit(slot)
        else:  # a CUDA fault: this process can run nothing more; a fresh one takes its place
            self.replace(slot)

    def leftovers(self) -> None:
        """Cases no worker of their kind was left to run."""
        for kind in list(self.results) + list(self.retries) + list(self.queues):
            for queue in (self.retries[kind], self.queues[kind]):
                while queue:
                    failed = runner.new_result(queue.popleft())
                    failed.error = f"not run: no worker of {kind} was left to run it"
                    self.record(kind, failed)


def run(cases: Sequence[Case], backend: str, checks: tuple, options: runner.RunOptions, mode: str,
        done: dict[str, set[str]] | None = None, peaks: dict[str, dict] | None = None,
        on_ready: Callable[[dict[str, KindRun]], None] | None = None,
        on_start: Callable[[str, Case, dict], None] | None = None,
        on_done: Callable[[str, CaseResult], None] | None = None) -> ClusterOutcome:
    """Run `cases` on the connected cluster. `done`: ids each kind already holds (a resumed run; in
    shard mode ids any kind holds are skipped); `peaks`: a resumed kind's peaks. `on_ready` sees the
    kinds found once every worker is up; `on_start`/`on_done` see each case with its kind."""
    if mode not in MODES:
        raise InputError(f"cluster mode {mode!r}: expected one of {', '.join(MODES)}")
    done, peaks = done or {}, peaks or {}
    slots = _slots(backend)
    if not slots:
        raise InputError(f"the Ray cluster has no {'GPU' if backend == 'cupy' else 'CPU'} for backend {backend!r}")
    kinds: dict[str, KindRun] = {}
    starting = {_start(slot, checks, options): slot for slot in slots}
    failures = []
    for ref, slot in starting.items():
        try:
            env, slot.where = ray.get(ref)
        except ray.exceptions.RayError as exc:
            failures.append(_reason(exc))
            continue
        kinds.setdefault(slot.kind, KindRun(slot.kind, env, 0)).workers += 1
    slots = [s for s in slots if s.where]
    if not slots:
        raise SuiteError(f"no worker of the cluster could start: {failures[0]}")
    dtypes = tuple(sorted({c.dtype for c in cases}))
    measured = ray.get([s.actor.prepare.remote(peaks.get(s.kind), dtypes) for s in slots])
    for slot, value in zip(slots, measured):
        if value is not None and "peaks" not in kinds[slot.kind].env["device"]:
            kinds[slot.kind].env["device"]["peaks"] = value
    if mode == "shard":
        held = set().union(*done.values()) if done else set()
        shared = collections.deque(c for c in cases if c.id not in held)
        queues = collections.defaultdict(lambda: shared)
    else:
        queues = {kind: collections.deque(c for c in cases if c.id not in done.get(kind, set())) for kind in kinds}
    if on_ready:
        on_ready(kinds)
    sweep = _Sweep(queues, checks, options, on_start, on_done)
    for slot in slots:
        sweep.submit(slot)
    interrupted = False
    try:
        while sweep.in_flight:
            sweep.step()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for slot in slots:
            ray.kill(slot.actor)
    if not interrupted:
        sweep.leftovers()
    order = {c.id: i for i, c in enumerate(cases)}
    for kind, found in sweep.results.items():
        kinds[kind].results = sorted(found, key=lambda r: order[r.id])
    return ClusterOutcome(kinds, interrupted, sweep.replaced)
