"""`suite run --backend host --ray local`: Ray started on this machine by the run itself."""

import json

import pytest

from suite import cases, cli

pytest.importorskip("ray")

TINY = """\
family: deform
kernels: [deform_im2col]
dtypes: [float32, bfloat16]
sweeps:
  - name: tiny
    tier: smoke
    params: {batch: 1, in_channels: 2, height: 5, width: 4, kernel: 3, padding: 1}
    sweep: {mask: [false, true], offset_groups: [1, 2]}
"""


def test_a_local_shard_runs_every_case_once_on_this_machines_cores(tmp_path, capsys):
    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(TINY)
    code = cli.main(["run", str(sweep), "--backend", "host", "--ray", "local", "--shard", "--save", f"{tmp_path}/out/"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    [saved] = (tmp_path / "out").rglob("*.json")
    doc = json.loads(saved.read_text())
    env = doc["environment"]
    assert doc["complete"] and env["cluster"]["mode"] == "shard" and env["cluster"]["workers"] >= 1
    assert env["device"]["threads"] == 1  # one emulation thread per worker: the workers fill the cores
    assert sorted(c["id"] for c in doc["cases"]) == sorted(c.id for c in cases.load_cases([sweep]))
    assert all(c["status"] == "passed" and c["ran_on"]["kind"] == env["cluster"]["kind"] for c in doc["cases"])
