"""Selecting one dtype exactly: `-k` words are substrings (float16 is inside bfloat16, as pytest's
-k would have it); `--dtype` names dtypes exactly, on run, profile, compare and plot."""

import pytest

from suite import cases, cli, compare
from suite.errors import InputError
from synthetic_results import case, environment, samples, save_run


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")


def _smoke():
    return cases.load_cases(cases.default_case_files(), tier="smoke")


def test_k_is_a_substring_and_dtype_is_exact():
    every = _smoke()
    by_k = {c.dtype for c in cases.select(every, "deform_im2col and float16")}
    assert by_k == {"float16", "bfloat16"}  # what pytest's -k does, and why --dtype exists
    exact = cases.select(every, "deform_im2col", ["float16"])
    assert exact and {c.dtype for c in exact} == {"float16"}
    both = cases.select(every, "deform_im2col", ["float16", "bfloat16"])
    assert {c.dtype for c in both} == {"float16", "bfloat16"} and len(both) == len(cases.select(every, "deform_im2col and float16"))
    assert cases.select(every, None, ["float32"]) == [c for c in every if c.dtype == "float32"]


def test_a_dtype_no_case_has_is_an_error_naming_it():
    with pytest.raises(InputError, match=r"--dtype flaot16: no case has that dtype; the cases have .*float16"):
        cases.select(_smoke(), "", ["flaot16"])


def test_cli_dry_run_with_dtype_lists_no_bfloat16(capsys):
    assert cli.main(["run", "--dry-run", "-k", "deform_im2col and dcn", "--dtype", "float16"]) == cli.EXIT_OK
    ids = capsys.readouterr().out.splitlines()[:-1]
    assert ids and all(i.endswith("/float16/deform_im2col") for i in ids)
    assert cli.main(["run", "--dry-run", "--dtype", "flaot16"]) == cli.EXIT_USAGE
    assert "--dtype flaot16" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--dry-run", "--dtype", ","])
    assert exited.value.code == cli.EXIT_USAGE and "comma-separated list of dtypes" in capsys.readouterr().err


def test_compare_with_dtype_keeps_exactly_that_dtype(tmp_path):
    ids = ["attn/s[x]/float16/k", "attn/s[x]/bfloat16/k"]
    paths = [save_run(tmp_path / n, environment(), [case(i, samples(1e-3, seed=s)) for s, i in enumerate(ids)])
             for n in ("a", "b")]
    runs = compare.load_runs(paths, dtypes=["float16"])
    assert [list(r.cases) for r in runs] == [[ids[0]], [ids[0]]]
    assert [list(r.cases) for r in compare.load_runs(paths, keyword="float16")] == [ids, ids]
