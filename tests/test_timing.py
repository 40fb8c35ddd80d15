"""Timing statistics on synthetic samples (the clock itself is exercised by the runner tests)."""

import math
import random
import statistics
import time

import pytest

from suite import timing


def test_quartiles_and_median_match_statistics_module():
    rng = random.Random(7)
    xs = [rng.lognormvariate(0, 0.3) for _ in range(101)]
    q1, med, q3 = timing.quartiles(xs)
    assert med == pytest.approx(statistics.median(xs))
    assert q1 < med < q3
    assert timing.quartiles([2.5]) == (2.5, 2.5, 2.5)


def test_noise_shrinks_with_more_samples_and_ignores_one_outlier():
    rng = random.Random(11)
    few = [1.0 + rng.gauss(0, 0.01) for _ in range(10)]
    many = [1.0 + rng.gauss(0, 0.01) for _ in range(1000)]
    assert timing.median_noise(many) < timing.median_noise(few)
    # relative standard error of the median of N(1, 0.01): 1.2533 * 0.01 / sqrt(n)
    assert timing.median_noise(many) == pytest.approx(1.2533 * 0.01 / math.sqrt(1000), rel=0.15)
    spiked = many[:-1] + [50.0]
    assert timing.median_noise(spiked) == pytest.approx(timing.median_noise(many), rel=0.1)
    assert timing.median_noise([1.0]) == math.inf


class FakeTimer:
    """Returns scripted samples, so the stopping rules can be checked exactly."""

    def __init__(self, samples):
        self.samples = iter(samples)
        self.calls = 0

    def time_once(self, fn):
        self.calls += 1
        return next(self.samples)


def test_measure_stops_on_noise_after_min_samples_and_excludes_warmup():
    timer = FakeTimer([99.0] + [1.0] * 100)  # the warm-up sample is slow (a compile) and must vanish
    cfg = timing.TimingConfig(warmup=1, min_samples=10, target_noise=0.005, budget_s=60)
    stats = timing.measure(lambda: None, timer, cfg)
    assert stats.stopped_by == "noise" and len(stats.samples_s) == 10 and stats.max_s == 1.0


def test_measure_stops_at_max_samples_when_noisy():
    rng = random.Random(3)
    timer = FakeTimer([rng.uniform(1, 3) for _ in range(100)])
    cfg = timing.TimingConfig(warmup=0, min_samples=5, max_samples=20, target_noise=1e-9, budget_s=60)
    stats = timing.measure(lambda: None, timer, cfg)
    assert stats.stopped_by == "max_samples" and len(stats.samples_s) == 20
    assert stats.min_s <= stats.q1_s <= stats.median_s <= stats.q3_s <= stats.max_s


def test_measure_respects_the_budget():
    cfg = timing.TimingConfig(warmup=0, min_samples=3, max_samples=10**6, target_noise=1e-12, budget_s=0.05)
    rng = random.Random(5)
    stats = timing.measure(lambda: None, FakeTimer(iter(lambda: rng.uniform(1, 2), None)), cfg)
    assert stats.stopped_by == "budget" and len(stats.samples_s) >= 3


def test_stats_round_trip_and_bad_config():
    s = timing.summarize([3.0, 1.0, 2.0], "noise")
    assert timing.Stats.from_dict(s.as_dict()) == s and s.median_s == 2.0
    with pytest.raises(ValueError):
        timing.TimingConfig(min_samples=0)


def test_hot_wall_timer_times_each_call_of_a_sample():
    rng = random.Random(8)
    sleeps = [rng.uniform(0.002, 0.004) for _ in range(5)]
    calls = iter(sleeps)
    timer = timing.WallTimer(launches=5)
    t0 = time.perf_counter()
    seconds = timer.time_once(lambda: time.sleep(next(calls)))
    total = time.perf_counter() - t0
    assert next(calls, None) is None  # all five calls ran
    # the time per call: the mean sleep at least, and a fifth of what the whole sample took at most
    assert statistics.mean(sleeps) <= seconds <= total / 5
