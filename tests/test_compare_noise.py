"""`suite compare` is honest about run-to-run noise: identical code gives no SLOW/FAST and no
significant geomean, on real host runs and on a GPU-like model; a change is called where it clears
the noise floor, and only there; the floor can be measured and saved; sources are compared."""

import itertools

import pytest

from suite import cli, compare, noise_floor
from suite.errors import InputError
from synthetic_results import HOST_REPEAT_RUNS, case, environment, host_repeat_runs, samples, save_run
from test_cli import TINY


@pytest.fixture(autouse=True)
def no_saved_floor(tmp_path, monkeypatch):
    """Floors come from the test's own folders or the defaults, never from the checkout's results/."""
    monkeypatch.setattr(noise_floor, "RESULTS_ROOT", tmp_path / "no-results")
    monkeypatch.setenv("COLUMNS", "250")


def _said(capsys, stream="out"):
    return " ".join(getattr(capsys.readouterr(), stream).split())


def _verdicts(comparison):
    return {row.id: row.cells[1].verdict for row in comparison.rows}


def test_every_pair_of_six_real_identical_host_runs_gives_no_verdict_and_no_geomean(tmp_path, capsys):
    # the pairs differ by up to +117 % on one case and +22 % in geomean (tests/data/host_repeat_runs.json)
    paths = host_repeat_runs(tmp_path)
    for a, b in itertools.combinations(paths, 2):
        result = compare.compare(compare.load_runs([a, b]))
        assert {v.label for v in _verdicts(result).values()} == {"SAME"}
        assert not any(m.significant for s in result.families for m in s.means)
    assert cli.main(["compare", str(paths[0]), str(paths[5]), "--fail-above", "5"]) == cli.EXIT_OK
    said = _said(capsys)
    assert "not significant" in said and "no case significantly slower" in said
    assert "too few samples" not in said  # the host's own 3-sample runs are judged like any other


def test_a_change_on_real_host_noise_is_called_only_where_it_clears_the_floor(tmp_path):
    target = "deform/groups[groups=2,offset_groups=3]/float32/deform_im2col"
    quiet = (0, 4)  # the pair of the six that moved least: at most 6.6 %
    for factor, loaded, calibrated in ((3.0, "SLOW", "SLOW"), (2.0, "SAME", "SLOW"), (1.1, "SAME", "SLOW"),
                                       (1.03, "SAME", "SAME")):
        paths = host_repeat_runs(tmp_path / str(factor), scale={(quiet[1], target): factor})
        pair = [paths[quiet[0]], paths[quiet[1]]]
        verdicts = _verdicts(compare.compare(compare.load_runs(pair)))
        assert verdicts[target].label == loaded, factor  # the default floor: a loaded machine, 120 %
        assert {v.label for cid, v in verdicts.items() if cid != target} == {"SAME"}
        floor, _, _ = noise_floor.measure(compare.load_runs([paths[quiet[0]], host_repeat_runs(tmp_path / "q")[4]]))
        verdicts = _verdicts(compare.compare(compare.load_runs(pair), floor=floor))
        assert verdicts[target].label == calibrated, factor
        assert {v.label for cid, v in verdicts.items() if cid != target} == {"SAME"}


def _gpu_runs(tmp_path, factors, n_cases=12, floor_file=None):
    ids = [f"attn/s[n={i}]/float16/k" for i in range(n_cases)]
    base = [case(cid, samples(1e-3, 0.01, n=50, seed=i)) for i, cid in enumerate(ids)]
    other = [case(cid, samples(1e-3 * factors.get(i, 1.0), 0.01, n=50, seed=100 + i)) for i, cid in enumerate(ids)]
    a = save_run(tmp_path / "a", environment("NVIDIA H100"), base)
    b = save_run(tmp_path / "b", environment("NVIDIA H100"), other)
    return a, b, ids


@pytest.mark.parametrize("factor, label", [(2.0, "SLOW"), (1.10, "SLOW"), (1 / 1.10, "FAST"), (1.03, "SAME")])
def test_gpu_model_calls_what_the_default_floor_can_see(tmp_path, factor, label):
    a, b, ids = _gpu_runs(tmp_path, {3: factor})
    result = compare.compare(compare.load_runs([a, b]))
    verdicts = _verdicts(result)
    assert verdicts[ids[3]].label == label and verdicts[ids[3]].threshold == pytest.approx(0.05)
    assert {v.label for cid, v in verdicts.items() if cid != ids[3]} == {"SAME"}


def test_a_saved_floor_beside_the_results_raises_the_bar(tmp_path, capsys):
    a, b, ids = _gpu_runs(tmp_path, {3: 1.10})
    (b.parent / noise_floor.FILE_NAME).write_text(
        '{"schema": "rawkernel-suite/noise-floor/1", "floor": 0.15}')
    assert _verdicts(compare.compare(compare.load_runs([a, b])))[ids[3]].label == "SAME"
    assert cli.main(["compare", str(a), str(b), "--fail-above", "5"]) == cli.EXIT_OK
    said = _said(capsys)
    assert "run-to-run noise floor ±15%" in said and "no case significantly slower" in said
    assert cli.main(["compare", str(a), str(b), "--noise-floor", "5", "--fail-above", "5"]) == cli.EXIT_FAILED
    assert f"regression: {ids[3]}" in _said(capsys)


def test_a_broken_floor_file_exits_2_naming_it(tmp_path, capsys):
    a, b, _ = _gpu_runs(tmp_path, {})
    (b.parent / noise_floor.FILE_NAME).write_text('{"floor": "low"}')
    assert cli.main(["compare", str(a), str(b)]) == cli.EXIT_USAGE
    assert noise_floor.FILE_NAME in _said(capsys, "err")


def test_the_geomean_is_significant_only_beyond_the_floor(tmp_path):
    everything = {i: 1.5 for i in range(12)}
    result = compare.compare(compare.load_runs(_gpu_runs(tmp_path / "x", everything)[:2]))
    mean = result.families[-1].means[0]
    assert mean.significant and mean.low > 1.4 and mean.high < 1.6
    assert {v.label for v in _verdicts(result).values()} == {"SLOW"}
    same = compare.compare(compare.load_runs(_gpu_runs(tmp_path / "y", {})[:2])).families[-1].means[0]
    assert not same.significant and same.low < 1 < same.high
    # a 4 % shift of every case is within the 5 % floor: a whole run can move that much
    shifted = compare.compare(compare.load_runs(_gpu_runs(tmp_path / "z", {i: 1.04 for i in range(12)})[:2]))
    assert not shifted.families[-1].means[0].significant


def test_noise_floor_command_measures_and_compare_reads_it(tmp_path, capsys, monkeypatch):
    paths = host_repeat_runs(tmp_path)
    monkeypatch.setattr(noise_floor, "RESULTS_ROOT", tmp_path / "results")
    assert cli.main(["noise-floor", str(paths[0]), str(paths[4])]) == cli.EXIT_OK
    assert "noise floor ±6.7% from 2 runs" in _said(capsys)  # the largest change, 6.61 %, rounded up
    runs = compare.load_runs([paths[0], paths[1]])
    assert noise_floor.for_pair(*runs).rel == 0.067
    assert noise_floor.for_pair(*runs, given=0.2).rel == 0.2
    with pytest.raises(InputError, match="at least two runs"):
        noise_floor.measure(runs[:1])
    gpu = compare.load_runs([_gpu_runs(tmp_path / "g", {})[0]])
    with pytest.raises(InputError, match="different devices"):
        noise_floor.measure([runs[0], gpu[0]])


def test_the_measured_fixture_is_what_the_default_host_floor_says(tmp_path):
    floor, pairs, n = noise_floor.measure(compare.load_runs(host_repeat_runs(tmp_path)))
    assert (pairs, n) == (15, 15 * 19) and floor < noise_floor.DEFAULT_FLOOR["host"] < floor + 0.05
    assert HOST_REPEAT_RUNS.exists()


def _with_sources(cid, sources, factor=1.0):
    c = case(cid, samples(1e-3 * factor, seed=7))
    c.sources = sources
    return c


def test_compare_says_whether_kernel_sources_differ(tmp_path, capsys):
    ids = ["attn/s[a]/float32/k", "attn/s[b]/float32/k", "attn/s[c]/float32/k"]
    a = save_run(tmp_path / "a", environment(), [_with_sources(ids[0], {"k.cu": "11", "common.cuh": "22"}),
                                                 _with_sources(ids[1], {"k.cu": "11"}), case(ids[2], samples(1e-3))])
    b = save_run(tmp_path / "b", environment(), [_with_sources(ids[0], {"k.cu": "99", "common.cuh": "22"}),
                                                 _with_sources(ids[1], {"k.cu": "11"}), case(ids[2], samples(1e-3))])
    rows = {r.id: r.cells[1].sources for r in compare.compare(compare.load_runs([a, b])).rows}
    assert rows[ids[0]] == compare.SourceChange(True, ("k.cu",))
    assert rows[ids[1]] == compare.SourceChange(True, ())
    assert rows[ids[2]] == compare.SourceChange(False)  # an older file: no 'sources' field
    assert cli.main(["compare", str(a), str(b)]) == cli.EXIT_OK
    said = _said(capsys)
    assert "kernel sources of #2 against #1: same for 1 case(s); differ for 1 case(s) (k.cu); not recorded for 1" in said


def test_two_real_host_runs_of_the_same_code_give_no_verdict(tmp_path, capsys):
    cases_file = tmp_path / "tiny.yaml"
    cases_file.write_text(TINY)
    saved = []
    for name in ("first", "second"):
        assert cli.main(["run", str(cases_file), "--backend", "host", "--no-baseline",
                         "--save", str(tmp_path / f"{name}.json")]) == cli.EXIT_OK
        saved.append(str(tmp_path / f"{name}.json"))
    capsys.readouterr()
    verdicts = _verdicts(compare.compare(compare.load_runs(saved)))
    assert {v.label for v in verdicts.values()} == {"SAME"}, {cid: (v.label, v.ratio) for cid, v in verdicts.items()}
    assert cli.main(["compare", *saved, "--fail-above", "5"]) == cli.EXIT_OK
    assert "too few samples" not in _said(capsys)
