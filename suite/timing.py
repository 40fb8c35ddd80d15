"""The timing protocol and its statistics (DESIGN.md, GPU backend and timing).

A timer turns "launch once" into seconds. `measure` warms up (so compilation and module load never
land in a sample), then samples until the median is known well enough (relative standard error of
the median under `target_noise`, with at least `min_samples`) or the time budget is spent.
The median is the headline; min, quartiles and noise come with it.

Timers: `WallTimer` (the CPU emulation) and `CudaEventTimer` (a GPU: CUDA events, cold samples with
the L2 cache flushed before the launch, or hot samples of N back-to-back launches). A timer may tell
`measure` about its last sample through two attributes, which end up in `Stats.flags`:
`clock_mhz` (the SM clock over the sample, from device stamps taken just before and just after its
launches) and `host_bound` (the host took longer to enqueue the launches than the device was kept
busy, so the sample may include idle device time).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence


@dataclass(frozen=True)
class TimingConfig:
    warmup: int = 1
    min_samples: int = 10
    max_samples: int = 10_000
    target_noise: float = 0.005  # relative standard error of the median
    budget_s: float = 2.0  # per measured callable, samples only

    def __post_init__(self):
        if self.min_samples < 1 or self.max_samples < self.min_samples:
            raise ValueError("timing: need 1 <= min_samples <= max_samples")
        if self.budget_s <= 0 or self.target_noise <= 0:
            raise ValueError("timing: budget_s and target_noise must be positive")


# The CPU emulation is slow and its times only show relative cost: a few samples are enough.
HOST_TIMING = TimingConfig(warmup=1, min_samples=3, max_samples=50, target_noise=0.02, budget_s=1.0)

# A GPU: warm-up runs also size the hold (below); 1 s per measured callable keeps full sweeps short.
GPU_TIMING = TimingConfig(warmup=3, min_samples=10, max_samples=2000, target_noise=0.005, budget_s=1.0)

# A sample is flagged throttled when the SM clock was below this fraction of the reference clock
# (the device's rated maximum): the default threshold of nvbench.
THROTTLE_FRACTION = 0.75


@dataclass(frozen=True)
class Stats:
    samples_s: tuple[float, ...]
    median_s: float
    min_s: float
    max_s: float
    q1_s: float
    q3_s: float
    noise: float  # relative standard error of the median
    stopped_by: str  # "noise", "budget" or "max_samples"
    flags: dict = field(default_factory=dict)  # e.g. throttled sample indices (GPU timers)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["samples_s"] = list(self.samples_s)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Stats":
        return cls(**{**d, "samples_s": tuple(d["samples_s"])})


def quartiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """(q1, median, q3) with linear interpolation (the 'inclusive' method), any n >= 1."""
    xs = sorted(samples)
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, med, q3


def median_noise(samples: Sequence[float]) -> float:
    """Relative standard error of the median: 1.2533 * sigma / sqrt(n) / median, with sigma estimated
    robustly from the interquartile range (IQR / 1.349), so one outlier does not decide."""
    n = len(samples)
    if n < 2:
        return math.inf
    q1, med, q3 = quartiles(samples)
    if med <= 0:
        return math.inf
    sigma = (q3 - q1) / 1.349
    return 1.2533 * sigma / math.sqrt(n) / med


def summarize(samples: Sequence[float], stopped_by: str, flags: dict | None = None) -> Stats:
    if not samples:
        raise ValueError("summarize: no samples")
    q1, med, q3 = quartiles(samples)
    return Stats(tuple(samples), med, min(samples), max(samples), q1, q3, median_noise(samples), stopped_by, flags or {})


def sample_flags(clocks_mhz: Sequence[float | None], host_bound: Sequence[bool],
                 reference_mhz: float | None = None) -> dict:
    """Per-sample notes for Stats.flags. `reference_mhz`: the device's rated SM clock; without it the
    fastest clock seen in these samples. Empty when the timer knows neither (the CPU emulation)."""
    flags: dict = {}
    known = [c for c in clocks_mhz if c is not None]
    if known:
        reference = reference_mhz or max(known)
        flags["sm_clock_mhz"] = [None if c is None else round(c, 1) for c in clocks_mhz]
        flags["reference_clock_mhz"] = reference
        flags["throttled"] = [i for i, c in enumerate(clocks_mhz)
                              if c is not None and c < THROTTLE_FRACTION * reference]
    slow_host = [i for i, slow in enumerate(host_bound) if slow]
    if slow_host:
        flags["host_bound"] = slow_host
    return flags


TIMER_MODES = ("cold", "hot")


def check_timer_mode(mode: str, launches: int) -> None:
    if mode not in TIMER_MODES:
        raise ValueError(f"timer mode must be 'cold' or 'hot', not {mode!r}")
    if launches < 1:
        raise ValueError(f"launches per hot sample must be >= 1, not {launches}")


class WallTimer:
    """Host wall clock: the callable's work is done when it returns (true for the CPU emulation).
    A sample is the time per call of `launches` calls in a row."""

    def __init__(self, launches: int = 1):
        self.launches = launches
        self.name = "wall clock (CPU)" + (f", {launches} calls per sample" if launches > 1 else "")

    def time_once(self, fn: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        for _ in range(self.launches):
            fn()
        return (time.perf_counter() - t0) / self.launches


def measure(fn: Callable[[], object], timer, config: TimingConfig) -> Stats:
    """Warm up, then sample `timer.time_once(fn)` until the noise target, the budget or max_samples."""
    for _ in range(config.warmup):
        timer.time_once(fn)
    samples: list[float] = []
    clocks: list[float | None] = []
    host_bound: list[bool] = []
    start = time.perf_counter()
    while True:
        samples.append(timer.time_once(fn))
        clocks.append(getattr(timer, "clock_mhz", None))
        host_bound.append(getattr(timer, "host_bound", False))
        n = len(samples)
        if n >= config.min_samples and median_noise(samples) < config.target_noise:
            stopped_by = "noise"
        elif n >= config.max_samples:
            stopped_by = "max_samples"
        elif n >= config.min_samples and time.perf_counter() - start > config.budget_s:
            stopped_by = "budget"
        else:
            continue
        return summarize(samples, stopped_by, sample_flags(clocks, host_bound, getattr(timer, "rated_clock_mhz", None)))


# The hold keeps the device busy while the host enqueues the sample's launches: long enough to
# measure the SM clock well (globaltimer ticks are up to 1 us), short enough to cost little.
MIN_HOLD_S, MAX_HOLD_S = 50e-6, 50e-3


class CudaEventTimer:
    """Times launches on the current CUDA stream with CUDA events.

    Per sample: `flush()` (cold samples: write a buffer larger than the L2 cache), `hold(seconds)`
    (a device busy-wait that covers the host's launch overhead, so the start event is not reached
    before the work is queued), `probe.stamp(0)`, start event, `launches` calls of fn back to back,
    end event, `probe.stamp(1)`. The sample is the event time per launch; `probe.mhz()`, read once the
    work is done, is the SM clock between the two stamps, so a clock that drops while the kernel runs
    is seen (nvbench brackets its measured region the same way).

    `event` makes one timing event; tests pass a fake one (and a fake probe) to run this on the CPU.
    """

    def __init__(self, *, flush: Callable[[], object] | None = None, hold: Callable[[float], object] | None = None,
                 probe=None, launches: int = 1, rated_clock_mhz: float | None = None,
                 event: Callable[[], object] | None = None):
        if launches < 1:
            raise ValueError("CudaEventTimer: launches must be >= 1")
        if event is None:
            import torch

            def event():
                return torch.cuda.Event(enable_timing=True)
        self.flush, self.hold, self.probe, self.launches = flush, hold, probe, launches
        self.rated_clock_mhz = rated_clock_mhz
        self.name = f"CUDA events ({'cold: L2 flushed' if flush else f'hot: {launches} back-to-back launches'})"
        self._start, self._end = event(), event()
        self._hold_s = MIN_HOLD_S
        self.clock_mhz: float | None = None
        self.host_bound = False

    def time_once(self, fn: Callable[[], object]) -> float:
        if self.flush is not None:
            self.flush()
        if self.hold is not None:
            self.hold(self._hold_s)
        if self.probe is not None:
            self.probe.stamp(0)
        self._start.record()
        t0 = time.perf_counter()
        for _ in range(self.launches):
            fn()
        enqueue_s = time.perf_counter() - t0
        self._end.record()
        if self.probe is not None:
            self.probe.stamp(1)
        self._end.synchronize()
        self.clock_mhz = self.probe.mhz() if self.probe is not None else None
        self.host_bound = enqueue_s > self._hold_s
        self._hold_s = min(max(2 * enqueue_s, MIN_HOLD_S), MAX_HOLD_S)
        return self._start.elapsed_time(self._end) / 1e3 / self.launches


def cuda_synchronized_clock() -> float:
    """pytest-benchmark timer: `time.perf_counter()` read after the GPU finished the queued work, so a
    benchmark round covers the kernels it launched. Without CUDA in use it is the plain clock."""
    torch = sys.modules.get("torch")  # never import torch just to read a clock
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()
