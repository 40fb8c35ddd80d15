"""Every command takes the user's scope: `suite check` compiles what the selected cases launch, and
long work reports progress line by line when its output is no terminal."""

import json

from suite import REPO_ROOT, cli
from suite.kernels import get_family
from user_folder import TINY_DEFORM

EXAMPLE_CASES = REPO_ROOT / "examples" / "softmax" / "softmax.yaml"


def _scope(*argv):
    args = cli.build_parser().parse_args(["check", *argv])
    return cli._check_scope(args)


def test_check_compiles_only_what_the_selected_cases_launch(capsys):
    assert cli.main(["check", str(EXAMPLE_CASES), "-k", "float32", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(k["name_expression"], k["arch"]) for k in report["kernels"]] == [("softmax<float>", "sm_80"),
                                                                              ("softmax<float>", "sm_90")]


def test_a_family_that_does_not_narrow_its_scope_checks_its_own_instantiations_only(tmp_path):
    case_file = tmp_path / "tiny.yaml"
    case_file.write_text(TINY_DEFORM)
    assert _scope(str(case_file)) == get_family("deform").instantiations()


def test_check_in_the_suites_checkout_with_no_file_checks_everything(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    every = [i for name in ("attention", "deform", "modules") for i in get_family(name).instantiations()]
    assert _scope() == every


def test_check_with_no_match_is_bad_usage(capsys):
    assert cli.main(["check", str(EXAMPLE_CASES), "-k", "float64"]) == 2
    assert "no case to check" in capsys.readouterr().err


def test_a_piped_run_reports_each_finished_case_on_stderr(capsys):
    assert cli.main(["run", str(EXAMPLE_CASES), "--backend", "host", "-k", "cols=33", "--no-baseline"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert lines == [f"[{i}/3] softmax/rows[cols=33]/{dtype}/softmax: PASS"
                     for i, dtype in enumerate(("float32", "float16", "bfloat16"), 1)]


def test_a_layer_case_checks_the_kernels_of_its_layer():
    layer_cases = REPO_ROOT / "cases" / "modules.yaml"
    assert _scope(str(layer_cases), "-k", "deform_conv2d_layer") == get_family("deform").instantiations()
    assert set(_scope(str(layer_cases))) == set(get_family("deform").instantiations() + get_family("attention").instantiations())


def test_check_says_so_when_the_cases_launch_nothing_it_knows(tmp_path, monkeypatch, capsys):
    from user_folder import new_folder

    folder = new_folder(tmp_path)
    monkeypatch.chdir(folder)
    family = get_family("rowsoft", folder / "rowsoft_family.py")
    monkeypatch.setattr(family, "instantiations", lambda: [])
    assert cli.main(["check"]) == 2
    assert "nothing to check: the selected cases' families (rowsoft) name no kernel instantiation" in " ".join(
        capsys.readouterr().err.split())
