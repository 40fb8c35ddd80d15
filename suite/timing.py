"""The timing protocol and its statistics (DESIGN.md, GPU backend and timing).

A timer turns "launch once" into seconds. `measure` warms up (so compilation and module load never
land in a sample), then samples until the median is known well enough (relative standard error of
the median under `target_noise`, with at least `min_samples`) or the time budget is spent.
The median is the headline; min, quartiles and noise come with it.
"""

from __future__ import annotations

import math
import statistics
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


class WallTimer:
    """Host wall clock: the callable's work is done when it returns (true for the CPU emulation)."""

    name = "wall clock (CPU)"

    def time_once(self, fn: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0


def measure(fn: Callable[[], object], timer, config: TimingConfig) -> Stats:
    """Warm up, then sample `timer.time_once(fn)` until the noise target, the budget or max_samples."""
    for _ in range(config.warmup):
        timer.time_once(fn)
    samples: list[float] = []
    start = time.perf_counter()
    while True:
        samples.append(timer.time_once(fn))
        n = len(samples)
        if n >= config.min_samples and median_noise(samples) < config.target_noise:
            return summarize(samples, "noise")
        if n >= config.max_samples:
            return summarize(samples, "max_samples")
        if n >= config.min_samples and time.perf_counter() - start > config.budget_s:
            return summarize(samples, "budget")
