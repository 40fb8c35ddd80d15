"""Every smoke case of every family (a bfloat16 one through its float16 twin) under the host
backend's bug finders: out-of-bounds accesses (memcheck), schedule-dependent results (racecheck) and
unwritten outputs (initcheck) fail the case."""

import pytest

from suite import backends, cases, runner
from suite.timing import TimingConfig

ONE_SAMPLE = TimingConfig(warmup=0, min_samples=1, max_samples=1, budget_s=1e-3)


def _without_bfloat16_twins(smoke):
    """A bfloat16 case makes the accesses of its float16 twin (the same case in float16): the two
    instantiations move 2-byte elements along one code path, the types differ only in arithmetic,
    which the plain smoke tests validate for both. Under the checks the twin covers it."""
    ids = {c.id for c in smoke}
    return [c for c in smoke if not (c.dtype == "bfloat16" and c.id.replace("/bfloat16/", "/float16/") in ids)]


SMOKE = _without_bfloat16_twins(cases.load_cases(cases.default_case_files(), tier="smoke"))


@pytest.fixture(scope="module")
def checked_backend():
    return backends.get_backend("host", checks=backends.CHECKS)


@pytest.mark.parametrize("case", SMOKE, ids=[c.id for c in SMOKE])
def test_smoke_case_passes_every_check(case, checked_backend):
    result = runner.run_case(case, checked_backend, checked_backend.timer(),
                             runner.RunOptions(baselines=False, timing=ONE_SAMPLE))
    assert result.status == "passed", result.error
