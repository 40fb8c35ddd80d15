"""scripts/gpu_run.sh's time limits, run on the CPU: a fake interpreter stands in for the GPU
machine's (its `-m suite run` is a sweep that sleeps; its pip refuses to install), the rest of the
script runs for real. The script must end within DEADLINE however its steps behave."""

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from suite import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("timeout") is None, reason="needs coreutils' timeout")

FAKE_SWEEP = """\
import json, os, signal, sys, time
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ["FAKE_SWEEP"] == "hung":  # a kernel that never returns: SIGINT changes nothing
    signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    time.sleep(float(os.environ["FAKE_SWEEP_SECONDS"]))
except KeyboardInterrupt:
    sys.exit(130)  # as `suite run` does after saving its finished cases
"""


@pytest.fixture
def fake_python(tmp_path):
    """An interpreter for PYTHON=: pip refuses (an externally managed Python), `-m suite run` is the
    fake sweep, anything else is the real interpreter."""
    (tmp_path / "fake_sweep.py").write_text(FAKE_SWEEP)
    python = tmp_path / "python"
    python.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        case "$1 $2" in
            "-m pip") echo "error: externally-managed-environment" >&2; exit 1 ;;
            "-m suite") shift 2; exec {sys.executable} {tmp_path / "fake_sweep.py"} "$@" ;;
        esac
        exec {sys.executable} "$@"
        """))
    python.chmod(0o755)
    return python


def _gpu_run(tmp_path, fake_python, sweep: str, sweep_seconds: float, deadline: int, *steps):
    env = dict(os.environ, PYTHON=str(fake_python), FAKE_LOG=str(tmp_path / "sweeps.log"), FAKE_SWEEP=sweep,
               FAKE_SWEEP_SECONDS=str(sweep_seconds), DEADLINE=str(deadline), KILL_GRACE="2", MIN_STEP_SECONDS="3")
    started = time.monotonic()
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "gpu_run.sh"), str(tmp_path / "out"), *steps],
                          env=env, capture_output=True, text=True, timeout=deadline + 60)
    return done, time.monotonic() - started


def _limits(log: str) -> dict[str, int]:
    """The limit each step was given, from the `=== NAME (limit N s)` lines."""
    return {line.split()[1]: int(line.split("(limit ")[1].split()[0]) for line in log.splitlines()
            if line.startswith("=== ") and "(limit " in line}


def test_a_hung_sweep_is_killed_and_the_script_ends_before_its_deadline(tmp_path, fake_python):
    done, took = _gpu_run(tmp_path, fake_python, "hung", 1000, 16, "sweep-smoke", "sweep-full")
    assert took < 16, done.stdout
    summary = done.stdout.split("summary")[1]
    assert "sweep-smoke" in summary and "STOPPED" in summary and "exit 137" in summary  # SIGINT ignored: SIGKILL
    assert "sweep-full" in summary and "SKIPPED" in summary  # the hung sweep used the time there was
    assert done.returncode == 137
    # the install was refused, the sweeps ran from the checkout, and the install did not decide the status
    assert "running from the checkout" in done.stdout and "install" in summary and "refused" in summary


def test_each_step_gets_what_is_left_minus_the_margin(tmp_path, fake_python):
    done, took = _gpu_run(tmp_path, fake_python, "finishes", 2, 30, "sweep-smoke", "sweep-full")
    assert done.returncode == 0, done.stdout  # the refused install does not count
    limits = _limits(done.stdout)
    margin = 2 + 5  # KILL_GRACE + 5 s for the summary
    assert limits["install"] <= 30 - margin
    # sweep-full starts at least the smoke sweep's 2 seconds later, with that much less to run
    assert limits["sweep-full"] <= limits["sweep-smoke"] - 2
    sweeps = (tmp_path / "sweeps.log").read_text().splitlines()
    assert len(sweeps) == 2 and all("--save" in s and "--backend" in s for s in sweeps)
    assert took < 30


def test_a_sweep_stopped_at_its_limit_by_sigint_says_it_can_resume(tmp_path, fake_python):
    # 24 s: the steps get what is left after the margin and the install, which a loaded machine
    # stretches (at 14 s the sweep was once skipped with 2 s left).
    done, took = _gpu_run(tmp_path, fake_python, "stoppable", 1000, 24, "sweep-smoke")
    summary = done.stdout.split("summary")[1]
    assert "STOPPED" in summary and "exit 130" in summary and "run this step again to resume" in summary
    assert done.returncode == 130 and took < 24 - 2  # SIGINT was enough: no wait for the SIGKILL
