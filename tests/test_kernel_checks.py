"""Every smoke case of every family under the host backend's bug finders: out-of-bounds accesses
(memcheck), schedule-dependent results (racecheck) and unwritten outputs (initcheck) fail the case."""

import pytest

from suite import backends, cases, runner
from suite.timing import TimingConfig

ONE_SAMPLE = TimingConfig(warmup=0, min_samples=1, max_samples=1, budget_s=1e-3)
SMOKE = cases.load_cases(cases.default_case_files(), tier="smoke")


@pytest.fixture(scope="module")
def checked_backend():
    return backends.get_backend("host", checks=backends.CHECKS)


@pytest.mark.parametrize("case", SMOKE, ids=[c.id for c in SMOKE])
def test_smoke_case_passes_every_check(case, checked_backend):
    result = runner.run_case(case, checked_backend, checked_backend.timer(),
                             runner.RunOptions(baselines=False, timing=ONE_SAMPLE))
    assert result.status == "passed", result.error
