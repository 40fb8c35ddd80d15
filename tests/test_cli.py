"""`suite run` end to end on the host backend: exit codes, messages, saving, Ctrl-C."""

import json

import pytest

from suite import cases, cli, results, runner
from suite.kernels import get_family

TINY = """\
family: deform
kernels: [deform_im2col]
dtypes: [float32, bfloat16]
sweeps:
  - name: tiny
    tier: smoke
    params: {batch: 1, in_channels: 2, out_channels: 2, height: 5, width: 4, kernel: 3, padding: 1}
    sweep: {mask: [false, true]}
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def run(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_passing_sweep_prints_a_table_and_exits_0(tiny, capsys):
    code, out, err = run(capsys, "run", str(tiny), "--backend", "host")
    assert code == 0
    assert "4 passed, 0 failed" in out.splitlines()
    assert "CPU-emulation" in out and "Traceback" not in out + err


def test_a_wrong_result_fails_the_case_and_exits_1(tiny, capsys, monkeypatch):
    family = get_family("deform")
    real = family.reference

    def off_by_one_for_masks(kernel, params, inputs, dtype):
        ref64, ref_lowp = real(kernel, params, inputs, dtype)
        if params["mask"]:  # both references move, as if the kernel were off by one
            return ref64 + 1.0, (None if ref_lowp is None else ref_lowp + 1.0)
        return ref64, ref_lowp

    monkeypatch.setattr(family, "reference", off_by_one_for_masks)
    code, out, _ = run(capsys, "run", str(tiny), "--backend", "host")
    assert code == 1
    assert "2 passed, 2 failed" in out.splitlines()
    assert "FAIL" in out and "mask=true" in out


def test_an_overflowing_low_precision_reference_makes_the_case_an_error(tiny, capsys, monkeypatch):
    family = get_family("deform")
    real = family.reference

    def overflowing(kernel, params, inputs, dtype):
        ref64, ref_lowp = real(kernel, params, inputs, dtype)
        if ref_lowp is not None:  # bfloat16 cases: the kernel's-dtype reference overflows in one element
            ref_lowp = ref_lowp.clone()
            ref_lowp.view(-1)[0] = float("inf")
        return ref64, ref_lowp

    monkeypatch.setattr(family, "reference", overflowing)
    code, out, _ = run(capsys, "run", str(tiny), "--backend", "host")
    assert code == 1 and "2 passed, 2 failed" in out.splitlines()
    assert out.count("overflows") == 2 and "ERROR" in out


def test_bad_case_file_exits_2_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text(TINY.replace("height: 5", "hieght: 5"))
    code, out, err = run(capsys, "run", str(bad))
    assert code == 2
    assert "broken.yaml:7" in err and "hieght" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["run", "missing.yaml"], "missing.yaml"),
    (["run", "{tiny}", "-k", "nothing_matches_this"], "no case"),
    (["run", "{tiny}", "-k", "float32 and (mask"], "-k"),
    (["run", "{tiny}", "--tier", "huge"], "invalid choice"),
    (["run", "{tiny}", "--check", "speedcheck"], "memcheck"),
    (["run", "{tiny}", "--budget", "0"], "expected a positive float"),
    (["run", "{tiny}", "--launches", "-1"], "expected a positive int"),
])
def test_usage_mistakes_exit_2(tiny, capsys, argv, words):
    argv = [a.format(tiny=tiny) for a in argv]
    try:
        code, out, err = run(capsys, *argv)
    except SystemExit as exc:  # argparse's own usage errors
        code, err = exc.code, capsys.readouterr().err
    assert code == 2 and words in err


def test_save_writes_a_loadable_file_and_never_overwrites(tiny, tmp_path, capsys):
    target = tmp_path / "out" / "run.json"
    for _ in range(2):
        code, out, _ = run(capsys, "run", str(tiny), "--backend", "host", "--save", str(target))
        assert code == 0
    files = sorted((tmp_path / "out").glob("*.json"))
    assert [f.name for f in files] == ["run-1.json", "run.json"]
    doc = results.load(target)
    assert doc["complete"] is True and len(doc["cases"]) == 4
    assert all(c["status"] == "passed" and c["timing"]["samples_s"] for c in doc["cases"])
    assert doc["environment"]["backend"] == "host"


def test_ctrl_c_keeps_finished_cases_and_marks_the_file_incomplete(tiny, tmp_path, capsys, monkeypatch):
    saved, out = _interrupted_run(tiny, tmp_path, capsys, monkeypatch)
    assert "2 of 4 cases finished" in out and "2 passed, 0 failed" in out and "--resume" in out
    doc = json.loads(saved.read_text())
    assert doc["complete"] is False and len(doc["cases"]) == 2


def test_list_names_families_kernels_and_case_files(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "deform_im2col" in out and "torchvision" in out and "deform_im2col.yaml" in out
    out = " ".join(out.split())  # rich wraps long lines
    assert "param channel_chunk (int; default 0; one of 0, 8, 1)" in out
    assert "param heads_q (int; required; >= 1): query heads" in out and "d128: 128x32w4s2" in out


def test_list_wraps_descriptions_in_their_column_at_80_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    start = lines.index(next(line for line in lines if line.lstrip().startswith("param    tiles")))
    # the tiles help takes several lines, each continued under its own column
    assert all(line.startswith(" " * 20) for line in lines[start + 1:start + 4]) and "d128" in " ".join(lines[start:start + 6])


def test_check_with_an_unknown_architecture_exits_2(capsys):
    code, _, err = run(capsys, "check", "--arch", "sm_12")
    assert code == 2 and "sm_12" in err


def _interrupted_run(tiny, folder, capsys, monkeypatch):
    """A run of the tiny sweep stopped by Ctrl-C in its third case: the saved (incomplete) file, and
    what the run printed."""
    real, calls = runner.run_case, []

    def interrupted_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(runner, "run_case", interrupted_on_the_third)
        code, out, _ = run(capsys, "run", str(tiny), "--backend", "host", "--save", str(folder) + "/")
    assert code == 130
    return next(folder.glob("*.json")), out


def test_resume_runs_only_the_missing_cases_and_saves_all_in_a_new_file(tiny, tmp_path, capsys, monkeypatch):
    first, _ = _interrupted_run(tiny, tmp_path, capsys, monkeypatch)
    before = first.read_text()
    code, out, _ = run(capsys, "run", str(tiny), "--backend", "host", "--resume", str(first))
    assert code == 0 and "2 case(s) carried over, 2 run now" in out and "4 passed, 0 failed" in out
    assert first.read_text() == before  # never rewritten
    (second,) = set(tmp_path.glob("*.json")) - {first}
    old, new = json.loads(before), json.loads(second.read_text())
    assert new["complete"] is True and new["environment"]["resumed_from"] == [str(first)]
    expected_order = [c.id for c in cases.load_cases([tiny])]
    assert [c["id"] for c in new["cases"]] == expected_order
    assert new["cases"][:2] == old["cases"]  # carried over as measured, not re-run

    code, out, _ = run(capsys, "run", str(tiny), "--backend", "host", "--resume", str(second))
    assert code == 0 and "nothing to resume" in out and len(list(tmp_path.glob("*.json"))) == 2


def test_resume_refuses_a_run_from_another_commit(tiny, tmp_path, capsys, monkeypatch):
    first, _ = _interrupted_run(tiny, tmp_path, capsys, monkeypatch)
    doc = json.loads(first.read_text())
    doc["environment"]["git"]["commit"] = "0" * 40
    first.write_text(json.dumps(doc))
    code, _, err = run(capsys, "run", str(tiny), "--backend", "host", "--resume", str(first))
    assert code == 2 and "0000000000" in err and "same commit" in " ".join(err.split())


def test_timing_options_reach_every_measurement_and_the_file(tiny, tmp_path, capsys):
    code, _, _ = run(capsys, "run", str(tiny), "--backend", "host", "--timer", "hot", "--launches", "3",
                     "--min-samples", "4", "--max-samples", "4", "--save", str(tmp_path) + "/")
    assert code == 0
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    timing = doc["environment"]["timing"]
    assert (timing["timer"], timing["launches"], timing["min_samples"], timing["max_samples"]) == ("hot", 3, 4, 4)
    assert all(len(c["timing"]["samples_s"]) == 4 for c in doc["cases"])


def test_min_samples_above_max_samples_exits_2(tiny, capsys):
    code, _, err = run(capsys, "run", str(tiny), "--backend", "host", "--min-samples", "5", "--max-samples", "2")
    assert code == 2 and "min_samples <= max_samples" in " ".join(err.split())


def test_resume_refuses_other_timing_options(tiny, tmp_path, capsys, monkeypatch):
    first, _ = _interrupted_run(tiny, tmp_path, capsys, monkeypatch)
    code, _, err = run(capsys, "run", str(tiny), "--backend", "host", "--resume", str(first), "--timer", "hot")
    assert code == 2 and "same timing options" in " ".join(err.split())


def test_dry_run_lists_the_selected_cases_and_runs_nothing(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "run_case", None)  # anything that tried to run would fail
    code, out, _ = run(capsys, "run", str(tiny), "-k", "bfloat16", "--dry-run", "--save", str(tmp_path))
    expected = [c.id for c in cases.select(cases.load_cases([tiny]), "bfloat16")]
    assert code == 0 and out.split("\n")[:len(expected)] == expected and f"{len(expected)} case(s)" in out
    assert not list(tmp_path.glob("**/*.json"))
