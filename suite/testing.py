"""pytest in a user's repository: one test per case of a case file.

    from suite.testing import case_tests
    test_softmax = case_tests("softmax.yaml")               # relative to this test file
    test_checked = case_tests("softmax.yaml", checks=("memcheck", "racecheck"))

Each test validates its case (and validates it again after a few more launches) on the GPU when
CuPy finds one and on the host backend otherwise, and fails with the case's validation message.
Timing is left to `suite run`: a test launches a handful of times, not until the noise is low.
`checks` (host backend only; default: $SUITE_HOST_CHECKS) runs every launch under the host checks.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable, Sequence

from suite import backends, cases, runner, timing

# Enough launches to catch a kernel that is right once and wrong after (a race, a stale buffer).
TEST_TIMING = timing.TimingConfig(warmup=1, min_samples=3, max_samples=3, target_noise=1.0, budget_s=60.0)


def case_tests(case_file: str | Path, tier: str = "smoke", k: str = "", checks: Sequence[str] | None = None,
               backend: str = "auto") -> Callable:
    """A pytest test function parametrized over the cases of `case_file` (relative paths: to the
    calling file's folder) in `tier`, selected by the -k expression `k`; assign it to a `test_` name."""
    import pytest  # here: the rest of the suite does not need pytest

    path = Path(case_file)
    if not path.is_absolute():
        path = Path(inspect.stack()[1].filename).resolve().parent / path
    selected = cases.select(cases.load_cases([path], tier=tier), k)
    if not selected:
        raise ValueError(f"case_tests: {path} has no {tier} case" + (f" matching -k {k!r}" if k else ""))

    @pytest.mark.parametrize("case", selected, ids=[case.id for case in selected])
    def test_case(case):
        name = backends.resolve_name(backend)
        used = backends.get_backend(name, checks=tuple(checks) if checks is not None and name == "host" else None)
        options = runner.RunOptions(baselines=False, timing=TEST_TIMING)
        result = runner.run_case(case, used, used.timer("cold"), options)
        if not result.passed:
            pytest.fail(f"{case.id}: {result.status.upper()}: {result.error}", pytrace=False)

    return test_case
