"""CI runs the documented example (examples/softmax/, docs/YOUR_KERNEL.md) end to end: its sweep,
`suite check` of its kernels only, its pytest file, and its profile."""

import json

from suite import REPO_ROOT, cli
from user_folder import run_pytest

EXAMPLE = REPO_ROOT / "examples" / "softmax"


def test_the_example_sweep_passes_every_dtype(monkeypatch, capsys):
    monkeypatch.chdir(EXAMPLE)  # as its README section says: no file given
    assert cli.main(["run", "--backend", "host"]) == 0
    out = capsys.readouterr().out
    assert "12 passed, 0 failed" in out.splitlines()
    assert all(dtype in out for dtype in ("float32", "float16", "bfloat16"))


def test_suite_check_compiles_the_example_kernels_only(monkeypatch, capsys):
    monkeypatch.chdir(EXAMPLE)
    assert cli.main(["check", "--arch", "sm_80", "--arch", "sm_90", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    names = sorted({(k["name_expression"], k["arch"]) for k in report["kernels"]})
    assert names == sorted((f"softmax<{t}>", arch) for t in ("float", "__half", "__nv_bfloat16")
                           for arch in ("sm_80", "sm_90"))
    assert all(k["passed"] and k["local_bytes"] == 0 for k in report["kernels"])
    assert "[6/6] " in captured.err  # progress, line by line, when stderr is no terminal


def test_the_example_pytest_file_passes_under_all_four_host_checks():
    done = run_pytest(EXAMPLE, env={"SUITE_HOST_CHECKS": "memcheck,racecheck,initcheck,synccheck"})
    assert done.returncode == 0 and "12 passed" in done.stdout, done.stdout + done.stderr


def test_the_example_profiles(monkeypatch, capsys):
    monkeypatch.chdir(EXAMPLE)
    assert cli.main(["profile", "--json", "-k", "cols=1000"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert len(doc["cases"]) == 3 and all(c["error"] is None and c["launches"] for c in doc["cases"])
    assert "[3/3] softmax/rows[cols=1000]/bfloat16/softmax: done" in captured.err
