"""`suite run --backend host --ray local`: Ray started on this machine by the run itself."""

import json

import pytest

from suite import cases, cli

pytest.importorskip("ray")
from test_cli import tiny  # noqa: E402,F401  (the four-case sweep of the plain CLI tests)


def test_a_local_shard_runs_every_case_once_on_this_machines_cores(tiny, tmp_path, capsys):
    code = cli.main(["run", str(tiny), "--backend", "host", "--ray", "local", "--shard", "--save", f"{tmp_path}/out/"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    [saved] = (tmp_path / "out").rglob("*.json")
    doc = json.loads(saved.read_text())
    env = doc["environment"]
    assert doc["complete"] and env["cluster"]["mode"] == "shard" and env["cluster"]["workers"] >= 1
    assert env["device"]["threads"] == 1  # one emulation thread per worker: the workers fill the cores
    assert sorted(c["id"] for c in doc["cases"]) == sorted(c.id for c in cases.load_cases([tiny]))
    assert all(c["status"] == "passed" and c["ran_on"]["kind"] == env["cluster"]["kind"] for c in doc["cases"])
