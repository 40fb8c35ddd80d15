"""pytest-benchmark view of the suite: one benchmark per smoke case of each family.

pytest-benchmark times `launched.again` with `suite.timing.cuda_synchronized_clock` (the device is
synchronized before the clock is read, so a round covers the kernel's execution, launch overhead
included). The suite's own protocol (CUDA events, L2 flushed, adaptive stopping) is run first and
its median, TFLOP/s, GB/s and percentages of the peaks measured in this session go into
`extra_info`: those are the figures to compare across GPUs.

    pytest tests/benchmarks --benchmark-only --benchmark-json=bench.json
"""

import pytest

from suite import cases, runner, timing
from suite.kernels import get_family

SMOKE = cases.load_cases(cases.default_case_files(), tier="smoke")
ROUNDS, WARMUP_ROUNDS = 50, 5


def _params():
    return [pytest.param(case, id=case.id, marks=[
        pytest.mark.gpu, pytest.mark.benchmark(group=case.family, timer=timing.cuda_synchronized_clock)])
        for case in SMOKE]


@pytest.fixture(scope="module")
def backend():
    from suite.backends import get_backend

    return get_backend("cupy")


@pytest.fixture(scope="module")
def peaks(backend):
    from suite.peaks import measure_peaks

    return measure_peaks(backend, {case.dtype for case in SMOKE})


@pytest.mark.parametrize("case", _params())
def test_case(benchmark, backend, peaks, case):
    result = runner.run_case(case, backend, backend.timer(), runner.RunOptions(baselines=False), peaks)
    assert result.status == "passed", f"{case.id}: {result.error}"
    m, t = result.metrics, result.timing
    benchmark.extra_info.update({
        "case": case.id, "kernel": case.kernel, "dtype": case.dtype, "shape": result.shape,
        "event_median_s": t["median_s"], "event_noise": t["noise"], "event_samples": len(t["samples_s"]),
        "throttled_samples": len(t["flags"].get("throttled", [])),
        "tflops": m.get("tflops"), "gbps": m.get("gbps"),
        "pct_peak_flops": m.get("pct_peak_flops"), "pct_peak_bw": m.get("pct_peak_bw"),
        "peak_copy_gbps": peaks["copy_gbps"], "peak_matmul_tflops": peaks["matmul_tflops"].get(case.dtype),
    })
    family = get_family(case.family)
    inputs = family.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = family.run(case.kernel, case.params, inputs, backend)
    benchmark.pedantic(launched.again, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS)
