"""suite.testing.case_tests: one pytest test per case id in a user's repository, failing with the
case's validation message, and under the host checks when asked."""

from user_folder import new_folder, run_pytest


def _break(folder, old: str, new: str):
    path = folder / "rowsoft.cu"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_one_test_per_case_id(tmp_path):
    folder = new_folder(tmp_path)
    done = run_pytest(folder, "--collect-only")
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(ids) == 12 and "test_rowsoft.py::test_rowsoft[rowsoft/rows[cols=33]/bfloat16/rowsoft]" in ids


def test_a_wrong_kernel_fails_its_tests_with_the_validation_message(tmp_path):
    folder = new_folder(tmp_path)
    _break(folder, "* inverse)", "* inverse * 1.05f)")
    done = run_pytest(folder)
    assert done.returncode == 1 and "12 failed" in done.stdout, done.stdout
    assert ("rowsoft/rows[cols=33]/float16/rowsoft: FAILED: max error" in done.stdout
            and "exceeds 2 x" in done.stdout and "Traceback" not in done.stdout)


def test_checks_find_a_race_that_a_plain_run_misses(tmp_path):
    folder = new_folder(tmp_path)
    # without the closing barrier, the next reduction's write may overtake a slower warp's read
    _break(folder, "  v = warp_reduce<MAX>(v);\n  __syncthreads();\n  return v;", "  v = warp_reduce<MAX>(v);\n  return v;")
    (folder / "test_rowsoft.py").write_text(
        "from suite.testing import case_tests\n\n"
        "test_plain = case_tests('rowsoft.yaml', k='cols=1000 and float32', checks=())\n"
        "test_checked = case_tests('rowsoft.yaml', k='cols=1000 and float32', checks=('racecheck',))\n")
    done = run_pytest(folder, "-rA")
    assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout, done.stdout
    assert "PASSED test_rowsoft.py::test_plain" in done.stdout
    assert "test_checked[rowsoft/rows[cols=1000]/float32/rowsoft]" in done.stdout and "racecheck" in done.stdout
