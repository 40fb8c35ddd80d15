"""The GPU timing protocol, run on the CPU: CudaEventTimer with fake events and a fake device whose
work takes seeded random times, throttle and host-bound flags, and the pytest-benchmark clock."""

import random
import statistics
import time

import pytest

from suite import timing


class FakeDevice:
    """A stream of work on a simulated clock: events, stamps and kernels advance it in submission
    order. The SM cycle counter runs at `idle_mhz` outside kernels and at each kernel's own clock."""

    def __init__(self, seed, idle_mhz=1500.0):
        self.rng = random.Random(seed)
        self.now = 0.0
        self.cycles = 0.0
        self.idle_mhz = idle_mhz
        self.log = []  # what was submitted, in order
        self.kernel_times = []

    def _advance(self, seconds, mhz):
        self.now += seconds
        self.cycles += seconds * mhz * 1e6

    def kernel(self, mhz=None):
        t = self.rng.uniform(1e-3, 2e-3)
        self.kernel_times.append(t)
        self._advance(t, mhz or self.idle_mhz)
        self.log.append("kernel")

    def flush(self):
        self._advance(5e-3, self.idle_mhz)
        self.log.append("flush")

    def hold(self, seconds):
        self._advance(seconds, self.idle_mhz)
        self.log.append("hold")

    def probe(self):
        device = self

        class Probe:
            stamps = [None, None]

            def stamp(self, slot):
                self.stamps[slot] = (device.now, device.cycles)
                device.log.append(f"stamp{slot}")

            def mhz(self):
                (t0, c0), (t1, c1) = self.stamps
                return (c1 - c0) / (t1 - t0) / 1e6

        return Probe()

    def event(self):
        device = self

        class Event:
            def record(self):
                self.t = device.now
                device.log.append("event")

            def synchronize(self):
                pass

            def elapsed_time(self, end):  # milliseconds, as CUDA events give them
                return (end.t - self.t) * 1e3

        return Event()


def test_cold_sample_flushes_holds_and_stamps_around_the_events_and_times_one_launch():
    dev = FakeDevice(1)
    timer = timing.CudaEventTimer(flush=dev.flush, hold=dev.hold, probe=dev.probe(), event=dev.event)
    t = timer.time_once(dev.kernel)
    assert dev.log == ["flush", "hold", "stamp0", "event", "kernel", "event", "stamp1"]
    assert t == pytest.approx(dev.kernel_times[0])
    assert timer.clock_mhz == pytest.approx(1500.0) and "cold" in timer.name


def test_hot_sample_is_the_mean_of_back_to_back_launches_without_flush():
    dev = FakeDevice(2)
    timer = timing.CudaEventTimer(hold=dev.hold, probe=dev.probe(), launches=7, event=dev.event)
    t = timer.time_once(dev.kernel)
    assert dev.log == ["hold", "stamp0", "event"] + ["kernel"] * 7 + ["event", "stamp1"]
    assert t == pytest.approx(sum(dev.kernel_times) / 7)
    with pytest.raises(ValueError):
        timing.CudaEventTimer(launches=0, event=dev.event)


def test_hold_grows_to_cover_a_slow_host_and_the_uncovered_sample_is_flagged():
    dev = FakeDevice(3)
    holds = []

    def hold(seconds):
        holds.append(seconds)
        dev.hold(seconds)

    timer = timing.CudaEventTimer(hold=hold, event=dev.event)
    slow_host = 3e-3  # host enqueue cost of one launch, far above the first hold

    def launch():
        time.sleep(slow_host)
        dev.kernel()

    timer.time_once(launch)
    assert holds[0] == timing.MIN_HOLD_S and timer.host_bound
    timer.time_once(launch)
    assert holds[1] >= 2 * slow_host and not timer.host_bound
    assert holds[1] <= timing.MAX_HOLD_S


def test_measure_flags_samples_whose_clock_dropped_while_the_kernel_ran():
    """The device is at full clock during the hold before every sample; in some samples the clock
    drops while the kernel runs. Only stamps around the launches see that."""
    dev = FakeDevice(4, idle_mhz=1980.0)
    rng = random.Random(4)
    kernel_clocks = [1980.0 if rng.random() < 0.7 else 1000.0 for _ in range(40)]
    it = iter(kernel_clocks)
    timer = timing.CudaEventTimer(hold=dev.hold, probe=dev.probe(), rated_clock_mhz=1980.0, event=dev.event)
    cfg = timing.TimingConfig(warmup=0, min_samples=40, max_samples=40, target_noise=1e-9, budget_s=60)
    stats = timing.measure(lambda: dev.kernel(next(it)), timer, cfg)
    assert stats.flags["sm_clock_mhz"] == pytest.approx(kernel_clocks, rel=1e-3)
    expected = [i for i, c in enumerate(kernel_clocks) if c < timing.THROTTLE_FRACTION * 1980.0]
    assert stats.flags["throttled"] == expected and expected
    assert stats.median_s == pytest.approx(statistics.median(dev.kernel_times))


def test_sample_flags_reference_and_empty_cases():
    assert timing.sample_flags([None, None], [False, False]) == {}
    # without a rated clock, the fastest sample is the reference
    flags = timing.sample_flags([2000.0, 1400.0, 1600.0, None], [False, True, False, True])
    assert flags["reference_clock_mhz"] == 2000.0
    assert flags["throttled"] == [1]  # 1400 < 0.75 * 2000, 1600 is not
    assert flags["host_bound"] == [1, 3]
    assert flags["sm_clock_mhz"][3] is None


def test_wall_timer_measurements_carry_no_gpu_flags():
    stats = timing.measure(lambda: None, timing.WallTimer(), timing.TimingConfig(warmup=0, min_samples=3, budget_s=0.01))
    assert stats.flags == {}


def test_gpu_default_protocol():
    cfg = timing.GPU_TIMING
    assert cfg.min_samples >= 10 and cfg.target_noise == 0.005 and cfg.warmup >= 1


def test_benchmark_clock_is_monotonic_without_a_gpu():
    a = timing.cuda_synchronized_clock()
    time.sleep(0.01)
    b = timing.cuda_synchronized_clock()
    assert b - a >= 0.009
