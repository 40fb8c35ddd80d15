"""Kernel families from other packages (entry point group rawkernel_suite.families): found, listed,
run, checked, and refused with a clear message when broken. The plugin here is "installed" the way
pip would leave it: a dist-info folder with an entry_points.txt on sys.path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_install import forget_plugins, install
from suite import cli, kernels

CASES = """\
family: saxpy
kernels: [saxpy]
sweeps:
  - name: axpy
    tier: smoke
    params: {{n: 1000}}
    sweep: {{fault: [{faults}]}}
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "saxpy = plugin_saxpy_family")
    yield tmp_path
    forget_plugins()


def _case_file(folder, faults: str):
    path = folder / "saxpy.yaml"
    path.write_text(CASES.format(faults=faults))
    return path


def test_a_plugin_family_runs_lists_and_checks_like_the_suites_own(plugin, capsys):
    assert "saxpy" in kernels.family_names() and kernels.get_family("saxpy").name == "saxpy"
    assert cli.main(["run", str(_case_file(plugin, "false")), "--backend", "host"]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    assert cli.main(["list"]) == 0
    assert "saxpy: a*x + y" in capsys.readouterr().out
    (instantiation,) = kernels.get_family("saxpy").instantiations()
    assert instantiation.name_expression == "saxpy"


def test_a_faulting_plugin_kernel_fails_its_case_only_on_the_host(plugin, capsys):
    code = cli.main(["run", str(_case_file(plugin, "false, true")), "--backend", "host"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1 and "1 passed, 1 failed" in out and "saxpy" in out


@pytest.mark.parametrize("entry, words", [
    ("deform = plugin_saxpy_family", "which is a family of the suite itself; rename it"),
    ("saxpy = no_such_module_here", "no_such_module_here (entry point group rawkernel_suite.families) could not be loaded"),
    ("saxpy = suite.kernels.deform", "FAMILY must be a suite.kernels.family.Family whose name is 'saxpy'"),
])
def test_a_broken_plugin_is_named_and_exits_2(tmp_path, monkeypatch, capsys, entry, words):
    install(tmp_path, monkeypatch, entry)
    try:
        code = cli.main(["run", str(_case_file(tmp_path, "false")), "--backend", "host"])
    finally:
        forget_plugins()
    assert code == 2 and words in " ".join(capsys.readouterr().err.split())


FAULTY_SWEEP = """\
family: saxpy
sweeps:
  - name: before
    tier: smoke
    params: {n: 1000}
  - name: faulty
    tier: smoke
    params: {n: 1000, fault: true}
  - name: after
    tier: smoke
    params: {}
    sweep: {n: [500, 1500]}
"""

# In a child process: the fault ruins the CUDA context of the process it happens in.
SWEEP_SCRIPT = """\
import json, sys
from suite import runner
from suite.backends import get_backend
from suite.cases import load_cases
outcome = runner.run_cases(load_cases([sys.argv[1]]), get_backend("cupy"), runner.RunOptions(baselines=False))
print(json.dumps({"statuses": [r.status for r in outcome.results], "errors": [r.error for r in outcome.results],
                  "fresh_processes": outcome.fresh_processes}))
"""


@pytest.mark.gpu
def test_a_cuda_fault_costs_its_case_only_and_the_sweep_goes_on_in_a_fresh_process(plugin):
    """What the host backend can only imitate: an illegal address kills the CUDA context."""
    path = plugin / "faulty.yaml"
    path.write_text(FAULTY_SWEEP)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plugin), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", SWEEP_SCRIPT, str(path)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["statuses"] == ["passed", "error", "passed", "passed"], outcome["errors"]
    assert "saxpy" in outcome["errors"][1] and outcome["fresh_processes"] == 1
