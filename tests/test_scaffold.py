"""`suite new NAME`: four files that pass at once on the CPU (`suite run`, `pytest`), written from
the softmax example; never over an existing file; bad names refused with exit 2."""

import pytest

from suite import cli, scaffold
from user_folder import run_pytest


def test_new_writes_a_kernel_family_case_file_and_test_that_pass(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["new", "rowsoft"]) == 0
    folder = tmp_path / "rowsoft"
    assert sorted(p.name for p in folder.iterdir()) == ["rowsoft.cu", "rowsoft.yaml", "rowsoft_family.py",
                                                        "test_rowsoft.py"]
    assert "next: cd rowsoft && suite run && pytest" in capsys.readouterr().out
    assert "template <typename T>\n__global__ void rowsoft(" in (folder / "rowsoft.cu").read_text()
    family_text = (folder / "rowsoft_family.py").read_text()
    assert 'name = "rowsoft"' in family_text and "torch.softmax(x, dim=-1)" in family_text  # PyTorch's name kept
    monkeypatch.chdir(folder)
    assert cli.main(["run", "--backend", "host", "--no-baseline"]) == 0
    assert "12 passed, 0 failed" in capsys.readouterr().out.splitlines()
    done = run_pytest(folder)
    assert done.returncode == 0 and "12 passed" in done.stdout, done.stdout + done.stderr


def test_new_never_overwrites(tmp_path, capsys):
    folder = tmp_path / "mine"
    assert cli.main(["new", "rowsoft", "--dir", str(folder)]) == 0
    (folder / "rowsoft.cu").write_text("// my edits\n")
    capsys.readouterr()
    assert cli.main(["new", "rowsoft", "--dir", str(folder)]) == 2
    assert "already exist(s); nothing was written" in capsys.readouterr().err
    assert (folder / "rowsoft.cu").read_text() == "// my edits\n"


@pytest.mark.parametrize("name, words", [
    ("RowSoft", "must be lowercase letters"), ("2d", "must be lowercase letters"), ("class", "must be lowercase"),
    ("row-soft", "must be lowercase letters"), ("deform", "already has a family 'deform'"),
])
def test_new_refuses_a_name_that_cannot_be_a_family(tmp_path, capsys, name, words):
    assert cli.main(["new", name, "--dir", str(tmp_path / "x")]) == 2
    assert words in " ".join(capsys.readouterr().err.split()) and not (tmp_path / "x").exists()


def test_the_scaffold_is_the_example_renamed():
    texts = scaffold.files("rowsoft")
    example = {p.name: p.read_text() for p in scaffold.EXAMPLE.iterdir() if p.suffix in (".cu", ".py", ".yaml")}
    assert len(texts) == len(example) == 4
    assert texts["rowsoft.yaml"] == example["softmax.yaml"].replace("softmax", "rowsoft")
