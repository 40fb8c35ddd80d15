"""A sweep killed with SIGKILL (a time limit's last resort) keeps every case it finished: the result
file is rewritten atomically after each case, and `--resume` goes on from it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from suite import REPO_ROOT, results

SWEEP = """\
family: deform
kernels: [deform_im2col]
dtypes: [float32]
sweeps:
  - name: six
    tier: smoke
    params: {batch: 1, in_channels: 2, height: 6, width: 5, kernel: 3, padding: 1}
    sweep: {mask: [false, true], offset_groups: [1, 2], stride: [1, 2]}
"""
SLOW = ("--min-samples", "150", "--max-samples", "150")  # each case takes a while, so the kill lands mid-sweep


def _suite(*argv, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "suite", "run", *argv], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def _result_files(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*.json") if not p.name.startswith(".")]  # not a killed write's temporary file


def _cases_in(folder: Path) -> int:
    files = _result_files(folder)
    return len(json.loads(files[0].read_text())["cases"]) if files else 0  # always whole: replaced atomically


def test_a_killed_sweep_keeps_its_finished_cases_and_resumes_from_them(tmp_path):
    sweep = tmp_path / "six.yaml"
    sweep.write_text(SWEEP)
    folder = tmp_path / "out"
    run = _suite(str(sweep), "--backend", "host", *SLOW, "--save", f"{folder}/")
    try:
        deadline = time.monotonic() + 120
        while _cases_in(folder) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.wait()
    assert run.returncode == -signal.SIGKILL, run.stdout.read()
    [killed] = _result_files(folder)
    doc = results.load(killed)
    finished = results.case_results(killed, doc)
    assert doc["complete"] is False and 2 <= len(finished) < 8
    assert all(c.status == "passed" and c.timing["samples_s"] for c in finished.values())

    resumed = _suite(str(sweep), "--backend", "host", *SLOW, "--resume", str(killed))
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    [new] = [p for p in _result_files(folder) if p != killed]
    doc = results.load(new)
    assert doc["complete"] is True and len(doc["cases"]) == 8
    carried = results.case_results(new, doc)
    assert all(carried[i] == finished[i] for i in finished)  # finished cases were kept, not run again
    assert doc["environment"]["resumed_from"] == [str(killed)]
