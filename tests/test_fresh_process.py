"""A sweep goes on in fresh processes after a case leaves the device unusable (a CUDA fault).

No GPU here: a host backend that loses its "context" on request stands in for the parent's CUDA
backend; the children really are spawned and really run the remaining cases on the host backend.
"""

import multiprocessing
import pickle

import pytest

from suite import cases, runner, timing
from suite.backends import cuda_faults
from suite.backends.host_backend import HostBackend
from suite.errors import KernelFault

SWEEP = """\
family: deform
kernels: [deform_im2col]
dtypes: [float32]
sweeps:
  - name: four
    tier: smoke
    params: {batch: 1, in_channels: 2, height: 5, width: 4, kernel: 3, padding: 1}
    sweep: {mask: [false, true], offset_groups: [1, 2]}
"""


ILLEGAL_ADDRESS = "CUDA error: an illegal memory access was encountered"  # torch's words for the fault


class FaultingHost(HostBackend):
    """Once `doomed`, fails as a CUDA process after a kernel fault: the fault surfaces at the next
    synchronize (`fault_in` "synchronize"), or as torch's RuntimeError from the event timer while the
    kernel is timed ("timing") or while a baseline is timed ("baseline"), and every call after it fails
    too. Whether an error is sticky is judged by CUDA's words, as the CUDA backend does."""

    doomed = False
    fault_in = "synchronize"

    def synchronize(self):
        if self.doomed and self.fault_in == "synchronize" and not self.context_lost:
            self.context_lost = "CUDA reported 'an illegal memory access was encountered' while running deform_im2col"
            raise KernelFault(self.context_lost)
        super().synchronize()

    def lost_context(self, exc, doing):
        if self.doomed and not self.context_lost and cuda_faults.is_sticky(exc):
            self.context_lost = f"CUDA reported '{exc}' while {doing}"
        return bool(self.context_lost)

    def timer(self, mode="cold", launches=10):
        return FaultingTimer(super().timer(mode, launches), self)


class FaultingTimer:
    def __init__(self, timer, backend):
        self.timer, self.backend, self.doomed_kernel = timer, backend, None

    def time_once(self, fn):
        if self.backend.doomed:
            self.doomed_kernel = self.doomed_kernel or fn  # the runner times the kernel before its baselines
            if self.backend.fault_in == "timing" or (self.backend.fault_in == "baseline" and fn is not self.doomed_kernel):
                raise RuntimeError(ILLEGAL_ADDRESS)
        return self.timer.time_once(fn)


@pytest.fixture
def four(tmp_path):
    path = tmp_path / "four.yaml"
    path.write_text(SWEEP)
    return cases.load_cases([path])


def _run(four, on_case_start, options=runner.RunOptions(), backend=None):
    backend, started, done = backend or FaultingHost(), [], []

    def on_start(case, index, total):
        started.append((case.id, index, total))
        on_case_start(backend, index)

    outcome = runner.run_cases(four, backend, options, on_start=on_start, on_done=done.append)
    assert [r.id for r in outcome.results] == [c.id for c in four] and done == outcome.results
    assert started == [(c.id, i, len(four)) for i, c in enumerate(four)]
    return outcome


def test_cases_pickle_with_read_only_params(four):
    for case in four:
        again = pickle.loads(pickle.dumps(case))
        assert again == case and dict(again.params) == dict(case.params)
        with pytest.raises(TypeError):
            again.params["batch"] = 3


def test_after_a_lost_context_the_rest_runs_in_a_fresh_process(four):
    def fault_in_the_second(backend, index):
        if index == 1:
            backend.doomed = True

    outcome = _run(four, fault_in_the_second)
    statuses = [r.status for r in outcome.results]
    assert statuses == ["passed", "error", "passed", "passed"], [r.error for r in outcome.results]
    assert "illegal memory access" in outcome.results[1].error
    assert outcome.fresh_processes == 1 and not outcome.interrupted


BASELINED = """\
family: deform
kernels: [deform_conv2d]
baselines: [torchvision]
dtypes: [float32]
sweeps:
  - name: three
    tier: smoke
    params: {batch: 1, in_channels: 2, out_channels: 2, height: 5, width: 4, kernel: 3, padding: 1}
    sweep: {offset_groups: [1, 2], mask: [false, true]}
"""


@pytest.mark.parametrize("fault_in", ["timing", "baseline"])
def test_a_fault_while_timing_the_kernel_or_a_baseline_hands_the_rest_to_a_fresh_process(tmp_path, fault_in):
    path = tmp_path / "baselined.yaml"
    path.write_text(BASELINED)
    sweep = cases.load_cases([path])
    backend = FaultingHost()
    backend.fault_in, backend.baselines_comparable = fault_in, True  # baselines timed as on a GPU

    def fault_in_the_second(backend, index):
        backend.doomed = index >= 1

    quick = runner.RunOptions(timing=timing.TimingConfig(warmup=0, min_samples=2, max_samples=2))
    outcome = _run(sweep, fault_in_the_second, quick, backend)
    statuses = [r.status for r in outcome.results]
    assert statuses == ["passed", "error", "passed", "passed"], [r.error for r in outcome.results]
    assert ILLEGAL_ADDRESS in outcome.results[1].error and outcome.fresh_processes == 1
    assert ("baseline torchvision" in backend.context_lost) == (fault_in == "baseline")
    assert "timing" in outcome.results[0].baselines["torchvision"]  # timed in the parent before the fault


def test_errors_are_sticky_by_cuda_words_from_torch_and_cupy():
    assert cuda_faults.is_sticky(RuntimeError(ILLEGAL_ADDRESS + "\nCUDA kernel errors might be reported ..."))
    assert cuda_faults.is_sticky(RuntimeError("cudaErrorIllegalAddress: ILLEGAL_ADDRESS"))
    assert cuda_faults.is_sticky(RuntimeError("CUDA error: device-side assert triggered"))
    assert not cuda_faults.is_sticky(RuntimeError("CUDA error: out of memory"))
    assert not cuda_faults.is_sticky(ValueError("shapes do not match"))


def test_a_worker_that_dies_in_a_case_fails_that_case_only(four):
    def fault_then_kill_the_worker(backend, index):
        if index == 0:
            backend.doomed = True
        if index == 2:  # the first case of the first fresh process: kill it mid-case
            for child in multiprocessing.active_children():
                child.kill()

    # 200 samples keep each case busy for far longer than the parent takes to kill the worker
    slow = runner.RunOptions(timing=timing.TimingConfig(warmup=0, min_samples=200, max_samples=200))
    outcome = _run(four, fault_then_kill_the_worker, slow)
    statuses = [r.status for r in outcome.results]
    assert statuses == ["error", "passed", "error", "passed"], [r.error for r in outcome.results]
    assert "died (killed by SIGKILL)" in outcome.results[2].error
    assert outcome.fresh_processes == 2


def test_ctrl_c_while_a_fresh_process_runs_keeps_what_finished(four):
    backend = FaultingHost()

    def on_start(case, index, total):
        if index == 1:
            backend.doomed = True
        if index == 3:  # inside the fresh process's second case
            raise KeyboardInterrupt

    outcome = runner.run_cases(four, backend, on_start=on_start)
    assert outcome.interrupted and [r.status for r in outcome.results] == ["passed", "error", "passed"]
    assert not multiprocessing.active_children()  # the worker was stopped, not left running
