"""Every case of every family (smoke and full tiers) on the cupy backend against the references:
first launch, then one more launch into the same output (a kernel right only once is wrong)."""

import pytest

from suite import cases, runner, timing

pytestmark = pytest.mark.gpu

ONE_MORE_LAUNCH = timing.TimingConfig(warmup=0, min_samples=1, max_samples=1)


def _all_cases():
    files = cases.default_case_files()
    smoke = cases.load_cases(files, tier="smoke")
    smoke_ids = {c.id for c in smoke}
    full = [c for c in cases.load_cases(files, tier="full") if c.id not in smoke_ids]
    # the tier leads the test id, so `-k smoke` or `-k "not full"` picks the quick ones
    return [pytest.param(c, id=f"smoke:{c.id}") for c in smoke] + [pytest.param(c, id=f"full:{c.id}") for c in full]


@pytest.fixture(scope="module")
def backend():
    from suite.backends import get_backend

    return get_backend("cupy")


@pytest.mark.parametrize("case", _all_cases())
def test_case_matches_the_reference_on_the_gpu(backend, case):
    options = runner.RunOptions(baselines=False, timing=ONE_MORE_LAUNCH)
    result = runner.run_case(case, backend, backend.timer(), options)
    assert result.status == "passed", f"{case.id}: {result.error}"
    assert result.validation["passed"] and result.revalidation["passed"]
