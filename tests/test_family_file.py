"""A family defined in a Python file beside its case file: no package, no install. Found, run,
listed, and refused with a message naming both files when broken."""

import textwrap

import pytest

from suite import REPO_ROOT, cases, cli
from user_folder import new_folder


def run(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def test_a_family_file_beside_the_case_file_runs_with_no_file_given(tmp_path, monkeypatch, capsys):
    folder = new_folder(tmp_path)
    monkeypatch.chdir(folder)
    code, out, _ = run(capsys, "run", "--backend", "host", "-k", "cols=33")
    assert code == 0 and "3 passed, 0 failed" in out.splitlines()
    (case,) = cases.select(cases.load_cases(cases.case_files_for(folder)), "cols=33 and float32")
    assert case.family == "rowsoft" and case.family_file == folder / "rowsoft_family.py"


def test_the_working_directorys_case_files_are_the_default(tmp_path):
    folder = new_folder(tmp_path)
    (folder / "ci.yaml").write_text("jobs: {}\n")  # YAML that names no family is no case file
    assert cases.case_files_for(folder) == [folder / "rowsoft.yaml"]
    (folder / "cases").mkdir()
    (folder / "rowsoft.yaml").rename(folder / "cases" / "rowsoft.yaml")
    assert cases.case_files_for(folder) == [folder / "cases" / "rowsoft.yaml"]
    assert cases.case_files_for(tmp_path / "empty") == cases.default_case_files()
    assert cases.case_files_for(REPO_ROOT) == cases.default_case_files()  # the suite's checkout: as before


def test_list_shows_the_users_family_and_case_files(tmp_path, monkeypatch, capsys):
    folder = new_folder(tmp_path)
    monkeypatch.chdir(folder)
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "rowsoft (from rowsoft_family.py)" in out and "cases rowsoft.yaml: 12 smoke" in out
    assert "deform" in out  # the suite's own still listed


def test_an_explicit_family_file_is_relative_to_the_case_file(tmp_path, capsys):
    folder = new_folder(tmp_path)
    (folder / "families").mkdir()
    (folder / "rowsoft_family.py").rename(folder / "families" / "mine.py")
    text = (folder / "rowsoft.yaml").read_text().replace("family: rowsoft\n", "family: rowsoft\nfamily_file: families/mine.py\n")
    (folder / "rowsoft.yaml").write_text(text)
    # the family file found the kernel beside itself before; say where it is now
    (folder / "families" / "mine.py").write_text((folder / "families" / "mine.py").read_text().replace(
        'Path(__file__).with_name("rowsoft.cu")', 'Path(__file__).parent.parent / "rowsoft.cu"'))
    code, out, _ = run(capsys, "run", str(folder / "rowsoft.yaml"), "--backend", "host", "-k", "cols=1]")
    assert code == 0 and "3 passed, 0 failed" in out.splitlines()


CASE_FILE = """\
family: broken
sweeps:
  - name: one
    tier: smoke
    params: {}
"""


@pytest.mark.parametrize("family_text, words", [
    (None, "unknown family 'broken'; expected one of: attention, deform, modules; or define it in broken_family.py"),
    ("import torch\n\nraise ImportError('no module named triton')\n",
     "broken_family.py (line 3) could not be loaded: ImportError: no module named triton"),
    ("def helper():\n    return 1 / 0\n\n\nhelper()\n", "broken_family.py (line 2) could not be loaded: ZeroDivisionError"),
    ("x = (\n", "broken_family.py (line 1) could not be loaded: SyntaxError"),
    ("FAMILY = 3\n", "must define FAMILY = an instance of a suite.kernels.family.Family subclass; found int"),
    ("from suite.kernels.family import Family\nclass F(Family):\n    name = 'other'\nFAMILY = F()\n",
     "FAMILY.name is 'other', but the case file names family 'broken'"),
])
def test_a_broken_family_file_names_the_case_file_and_the_family_file_and_exits_2(tmp_path, capsys, family_text, words):
    case_file = tmp_path / "broken.yaml"
    case_file.write_text(CASE_FILE)
    if family_text is not None:
        (tmp_path / "broken_family.py").write_text(family_text)
    code, out, err = run(capsys, "run", str(case_file), "--backend", "host")
    assert code == 2, err
    assert f"{case_file}:1 at 'family'" in err and words in err and "Traceback" not in err + out


def test_a_missing_explicit_family_file_is_named(tmp_path, capsys):
    case_file = tmp_path / "broken.yaml"
    case_file.write_text("family_file: nowhere.py\n" + CASE_FILE)
    code, _, err = run(capsys, "run", str(case_file))
    assert code == 2 and f"{case_file}:1 at 'family_file': family file {tmp_path / 'nowhere.py'} does not exist" in err


def test_a_family_file_may_not_shadow_a_built_in_family(tmp_path, capsys):
    case_file = tmp_path / "deform.yaml"
    case_file.write_text(CASE_FILE.replace("broken", "deform"))
    (tmp_path / "deform_family.py").write_text("FAMILY = None\n")
    code, _, err = run(capsys, "run", str(case_file))
    assert code == 2 and "family 'deform' is defined both by" in err and "rename your family" in err


def test_two_folders_may_each_have_a_family_file_of_the_same_name(tmp_path):
    from suite.kernels import get_family

    (one,), (two,) = (cases.select(cases.load_cases([new_folder(tmp_path / d) / "rowsoft.yaml"]), "cols=1] and float32")
                      for d in ("a", "b"))
    assert one.family_file != two.family_file
    assert get_family("rowsoft", one.family_file) is not get_family("rowsoft", two.family_file)


def test_a_fresh_process_loads_the_family_file_again(tmp_path):
    """After a CUDA fault the sweep goes on in a spawned process, which has no registry state: the
    case carries its family file."""
    from suite import fresh_process, runner
    from suite.backends import get_backend

    folder = new_folder(tmp_path)
    todo = cases.select(cases.load_cases([folder / "rowsoft.yaml"]), "cols=33]/float16")
    results, interrupted, started = fresh_process.run_rest(
        todo, get_backend("host", checks=()), runner.RunOptions(baselines=False), None, None, None, first=0, total=1)
    assert started == 1 and not interrupted
    assert [r.status for r in results] == ["passed"] and results[0].family_origin["file"].endswith("rowsoft_family.py")
