"""`suite compare` on synthetic result files: the U test, verdicts, geomeans, missing cases, the CI
gate, folders, and every kind of bad input."""

import json
import math
import os
import statistics

import pytest

from suite import cli, compare
from suite.errors import InputError
from synthetic_results import case, environment, samples, save_run


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich tables without folded cells, so words can be found


def _said(capsys, stream="out"):
    """Captured output with rich's line wrapping undone."""
    return " ".join(getattr(capsys.readouterr(), stream).split())


def test_mann_whitney_matches_hand_computed_values():
    # 1..8 against 9..16: U = 0, mean 32, var = 8*8/12 * 17; z = (32 - 0.5) / 9.5219 = 3.30816
    assert compare.mann_whitney_p(range(1, 9), range(9, 17)) == pytest.approx(9.391e-4, rel=1e-3)
    # ties: [1,1,2,2] vs [2,2,3,3]: ranks 1.5,1.5,4.5,4.5 | 4.5,4.5,7.5,7.5; R1 = 12, U = 2, mean 8,
    # tie sum (2^3-2)+(4^3-4)+(2^3-2) = 72, var = 16/12 * (9 - 72/56) = 10.2857, z = 5.5/3.2071 = 1.71493
    assert compare.mann_whitney_p([1, 1, 2, 2], [2, 2, 3, 3]) == pytest.approx(0.08636, rel=1e-3)
    assert compare.mann_whitney_p([2, 2, 3, 3], [1, 1, 2, 2]) == compare.mann_whitney_p([1, 1, 2, 2], [2, 2, 3, 3])
    assert compare.mann_whitney_p([5.0] * 10, [5.0] * 10) == 1.0


def test_verdicts_call_real_differences_and_not_noise():
    base = samples(1e-3, seed=1)
    slow = compare.judge(base, samples(1.2e-3, seed=2))
    assert slow.label == "SLOW" and slow.p < compare.ALPHA
    assert slow.ratio == pytest.approx(statistics.median(samples(1.2e-3, seed=2)) / statistics.median(base))
    assert compare.judge(base, samples(0.8e-3, seed=3)).label == "FAST"
    same = compare.judge(base, samples(1e-3, seed=4))
    assert same.label == "SAME" and same.p > compare.ALPHA
    # significant but below the practical threshold: a 1 % shift with 0.1 % noise
    tiny = compare.judge(samples(1e-3, 0.001, seed=5), samples(1.01e-3, 0.001, seed=6))
    assert tiny.label == "SAME" and tiny.p < compare.ALPHA
    few = compare.judge(samples(1e-3, n=5, seed=7), samples(2e-3, n=5, seed=8))
    assert few.label == "SLOW" and few.p is None and few.note == ""  # too few for the U test: the threshold decides


@pytest.mark.parametrize("seed", [21, 22, 23])
@pytest.mark.parametrize("factor, label", [(1.01, "SAME"), (1 / 1.01, "SAME"), (1.03, "SLOW"), (1 / 1.03, "FAST")])
def test_a_significant_change_counts_only_beyond_the_practical_threshold_on_both_sides(seed, factor, label):
    # 0.1 % noise: even a 1 % shift is highly significant; only the 2 % threshold keeps it SAME
    verdict = compare.judge(samples(1e-3, 0.001, seed=seed), samples(1e-3 * factor, 0.001, seed=seed + 100))
    assert verdict.p < compare.ALPHA and verdict.label == label


@pytest.mark.parametrize("n_base, n_other", [(3, 3), (5, 30), (30, 5), (40, compare.MIN_SAMPLES - 1)])
def test_too_few_samples_for_the_u_test_leave_the_verdict_to_the_threshold(n_base, n_other):
    # the host's defaults take 3 samples: such runs are judged, with no "too few samples" note
    base, other = samples(1e-3, n=n_base, seed=31), samples(1.5e-3, n=n_other, seed=32)
    assert compare.judge(base, other, 0.3).label == "SLOW"
    verdict = compare.judge(base, other, 0.6)
    assert verdict.label == "SAME" and verdict.p is None and verdict.note == "" and verdict.threshold == 0.6


def test_unequal_sample_counts_are_judged_once_each_side_has_enough():
    verdict = compare.judge(samples(1e-3, n=compare.MIN_SAMPLES, seed=33), samples(1.5e-3, n=40, seed=34))
    assert verdict.label == "SLOW" and verdict.p < compare.ALPHA


def _shift_with_p_between(base, low, high, faster):
    """`base` scaled by the smallest factor (above 1, or below 1 when `faster`) whose U test against
    `base` gives low < p < high, found by search; None when no factor does."""
    for step in range(1, 400):
        factor = 1 + step * 0.0005
        other = [x / factor if faster else x * factor for x in samples(1e-3, 0.05, seed=42)]
        if low < compare.mann_whitney_p(base, other) < high:
            return other
    return None


@pytest.mark.parametrize("faster", [False, True])
def test_a_p_value_between_0_01_and_0_05_is_not_significant(faster):
    base = samples(1e-3, 0.05, seed=41)
    other = _shift_with_p_between(base, 0.01, 0.05, faster)
    assert other is not None
    verdict = compare.judge(base, other)
    assert 0.01 < verdict.p < 0.05
    assert abs(math.log(verdict.ratio)) > math.log(1 + compare.PRACTICAL)  # a change big enough to matter...
    assert verdict.label == "SAME"  # ...but not significant at ALPHA = 0.01


def _two_runs(tmp_path, slow_factor=1.2, env_b=None):
    """Base: a1 a2 a3 (family attn), d1 (family deform), only_a. Other: a1 x slow_factor, a2 same,
    a3 x 0.7, d1 same, only_b, and no only_a."""
    ids = {n: f"{fam}/s[{n}]/float32/k" for n, fam in
           (("a1", "attn"), ("a2", "attn"), ("a3", "attn"), ("d1", "deform"), ("only_a", "attn"), ("only_b", "attn"))}
    base = [case(ids[n], samples(1e-3, seed=i)) for i, n in enumerate(("a1", "a2", "a3", "d1", "only_a"))]
    factors = {"a1": slow_factor, "a2": 1.0, "a3": 0.7, "d1": 1.0, "only_b": 1.0}
    other = [case(ids[n], samples(1e-3 * f, seed=10 + i)) for i, (n, f) in enumerate(factors.items())]
    a = save_run(tmp_path / "a", environment("NVIDIA H100"), base)
    b = save_run(tmp_path / "b", env_b or environment("NVIDIA A100"), other)
    return a, b, ids


def test_compare_matches_cases_by_id_with_verdicts_geomean_and_missing_cases(tmp_path):
    a, b, ids = _two_runs(tmp_path)
    runs = compare.load_runs([a, b])
    result = compare.compare(runs)
    rows = {r.id: r for r in result.rows}
    assert set(rows) == {ids["a1"], ids["a2"], ids["a3"], ids["d1"]}
    assert [rows[ids[n]].cells[1].verdict.label for n in ("a1", "a2", "a3", "d1")] == ["SLOW", "SAME", "FAST", "SAME"]
    assert dict(result.partial) == {ids["only_a"]: (1,), ids["only_b"]: (2,)}

    def ratio(n):
        return runs[1].cases[ids[n]].timing["median_s"] / runs[0].cases[ids[n]].timing["median_s"]

    summary = {s.family: s for s in result.families}
    expected_attn = math.exp(statistics.mean(math.log(ratio(n)) for n in ("a1", "a2", "a3")))
    assert summary["attn"].means[0].ratio == pytest.approx(expected_attn)
    assert summary["attn"].counts[0] == {"n": 3, "SLOW": 1, "FAST": 1}
    assert summary["deform"].means[0].ratio == pytest.approx(ratio("d1"))
    expected_all = math.exp(statistics.mean(math.log(ratio(n)) for n in ("a1", "a2", "a3", "d1")))
    assert summary["all"].means[0].ratio == pytest.approx(expected_all)


def test_a_failed_case_gets_no_verdict(tmp_path):
    cid = "attn/s[x]/float32/k"
    a = save_run(tmp_path, environment(), [case(cid, samples(1e-3))])
    b = save_run(tmp_path, environment(), [case(cid, [], status="failed")])
    cell = compare.compare(compare.load_runs([a, b])).rows[0].cells[1]
    assert cell.verdict.label == "n/a" and "failed" in cell.verdict.note and cell.median_s is None


def test_cli_compare_prints_the_table_and_gates_ci(tmp_path, capsys):
    a, b, ids = _two_runs(tmp_path, slow_factor=1.2)
    assert cli.main(["compare", str(a), str(b)]) == cli.EXIT_OK
    text = _said(capsys)
    assert "SLOW" in text and "FAST" in text and "only in #1" in text and ids["only_b"] in text
    assert cli.main(["compare", str(a), str(b), "--fail-above", "5"]) == cli.EXIT_FAILED
    assert f"regression: {ids['a1']}" in _said(capsys)
    assert cli.main(["compare", str(a), str(b), "--fail-above", "30"]) == cli.EXIT_OK
    assert cli.main(["compare", str(a), str(b), "--fail-above", "5", "-k", "not a1"]) == cli.EXIT_OK


def test_same_device_with_other_clocks_is_warned_and_host_runs_are_labelled(tmp_path, capsys):
    env_b = environment("NVIDIA H100", sm_clock_mhz=1755)
    a, b, _ = _two_runs(tmp_path, env_b=env_b)
    runs = compare.load_runs([a, b])
    (warning,) = compare.compare(runs).warnings
    assert "sm_clock_mhz (1980 vs 1755)" in warning and "#1 and #2" in warning
    host = save_run(tmp_path / "h", environment("AMD EPYC", backend="host"), list(runs[0].cases.values()))
    assert cli.main(["compare", str(host), str(a)]) == cli.EXIT_OK
    assert "CPU-emulation" in _said(capsys)


def test_folders_give_the_newest_run_per_device_or_all_runs(tmp_path):
    cid = "attn/s[x]/float32/k"
    root = tmp_path / "results"
    old = save_run(root, environment("NVIDIA H100"), [case(cid, samples(1e-3))], created="2024-01-01T00:00:00+00:00")
    new = save_run(root, environment("NVIDIA H100"), [case(cid, samples(1e-3))], created="2024-02-01T00:00:00+00:00")
    a100 = save_run(root, environment("NVIDIA A100"), [case(cid, samples(1e-3))], created="2023-01-01T00:00:00+00:00")
    assert sorted(r.path for r in compare.load_runs([root])) == sorted([new, a100])
    assert [r.path for r in compare.load_runs([root], all_runs=True)] == [a100, old, new]
    assert [r.path for r in compare.load_runs([new.parent])] == [new]


def _corrupt(path):
    path.write_text('{"schema": "rawkernel-suite/result/1", "environment": {')


def _truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _other_schema(path):
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "schema": "rawkernel-suite/result/99"}))


def _foreign_case(path):
    doc = json.loads(path.read_text())
    doc["cases"][0]["speed"] = "fast"
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("spoil, words", [
    (lambda p: p.unlink(), "no such result file"),
    (_corrupt, "not valid JSON"),
    (_truncated, "not valid JSON"),
    (_other_schema, "schema 'rawkernel-suite/result/99'"),
    (_foreign_case, "case 0 does not match the result schema"),
])
def test_bad_result_files_exit_2_naming_the_file(tmp_path, capsys, spoil, words):
    a, b, _ = _two_runs(tmp_path)
    spoil(b)
    assert cli.main(["compare", str(a), str(b)]) == cli.EXIT_USAGE
    err = _said(capsys, "err")
    assert words in err and b.name in err and err.count("error:") == 1


def test_no_case_in_common_and_empty_folder_and_one_file_exit_2(tmp_path, capsys):
    a = save_run(tmp_path / "a", environment(), [case("attn/s[x]/float32/k", samples(1e-3))])
    b = save_run(tmp_path / "b", environment(), [case("attn/s[y]/float32/k", samples(1e-3))])
    assert cli.main(["compare", str(a), str(b)]) == cli.EXIT_USAGE
    assert "no case in common" in _said(capsys, "err")
    (tmp_path / "empty").mkdir()
    assert cli.main(["compare", str(a), str(tmp_path / "empty")]) == cli.EXIT_USAGE
    assert "holds no result file" in _said(capsys, "err")
    with pytest.raises(InputError, match="at least two"):
        compare.compare(compare.load_runs([a]))


def test_loading_never_modifies_result_files(tmp_path):
    a, b, _ = _two_runs(tmp_path)
    before = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in (a, b)}
    cli.main(["compare", str(a), str(b), "--fail-above", "1"])
    assert {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in (a, b)} == before
    assert sorted(p.name for p in a.parent.iterdir()) == [a.name]


def test_runs_timed_with_other_protocols_are_warned(tmp_path, capsys):
    env_a, env_b, env_c = (environment(name) for name in ("NVIDIA H100", "NVIDIA H200", "NVIDIA A100"))
    env_a["timing"] = {"timer": "cold", "launches": 1, "target_noise": 0.005}
    env_b["timing"] = dict(env_a["timing"])
    env_c["timing"] = {"timer": "hot", "launches": 10, "target_noise": 0.005}
    cid = "attn/s[x]/float32/k"
    paths = [save_run(tmp_path / str(i), env, [case(cid, samples(1e-3))]) for i, env in enumerate((env_a, env_b, env_c))]
    warnings = compare.compare(compare.load_runs(paths)).warnings
    assert warnings == ("#1 and #3 were timed differently: launches (1 vs 10), timer (cold vs hot)",)
    assert cli.main(["compare", *map(str, paths)]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if "timing.timer" in line)
    if "│" in lines[at]:  # the table fits the console
        assert [cell.strip() for cell in lines[at].split("│")[2:5]] == ["cold", "cold", "hot"]
    else:  # stacked: the fact, then its value per run
        assert lines[at + 1].split() == ["#1:", "cold", "·", "#2:", "cold", "·", "#3:", "hot"]
