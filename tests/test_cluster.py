"""`suite run --ray` on a two-node Ray cluster of this machine whose nodes carry different
`suite-device:` resources, standing for two device kinds (the host backend runs underneath).

Workers really are separate Ray processes; the faults below are real SIGKILLs of them.
"""

import json
import os
import signal

import pytest

from suite import cases, cli, cluster, runner, timing

pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402  (after the skip: ray is an optional extra)
from test_cli import run as cli_run, tiny  # noqa: E402,F401  (the same four-case sweep as the plain CLI tests)

KINDS = ("kind-a", "kind-b")


@pytest.fixture(scope="module")
def address():
    nodes = Cluster(initialize_head=True,
                    head_node_args={"num_cpus": 1, "resources": {cluster.KIND_RESOURCE + KINDS[0]: 1}})
    nodes.add_node(num_cpus=1, resources={cluster.KIND_RESOURCE + KINDS[1]: 1})
    nodes.wait_for_nodes()
    yield nodes.address
    nodes.shutdown()


def run(capsys, *argv):
    return cli_run(capsys, *map(str, argv))


def saved(folder):
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))]


def by_kind(docs):
    return {d["environment"]["cluster"]["kind"]: d for d in docs}


def summary(case):
    return case["status"], case["validation"]["max_abs_err"], case["validation"]["allowed"]


def test_each_device_gives_one_file_per_kind_like_a_plain_run(address, tiny, tmp_path, capsys):
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--save", tmp_path / "plain.json")
    assert code == 0, out + err
    plain = {c["id"]: summary(c) for c in json.loads((tmp_path / "plain.json").read_text())["cases"]}

    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--ray", address, "--save", f"{tmp_path / 'cluster'}/")
    assert code == 0, out + err
    files = by_kind(saved(tmp_path / "cluster"))
    assert sorted(files) == sorted(KINDS)
    for kind, doc in files.items():
        assert doc["complete"] and doc["environment"]["cluster"]["mode"] == "each-device"
        assert {c["id"]: summary(c) for c in doc["cases"]} == plain
        assert {c["ran_on"]["kind"] for c in doc["cases"]} == {kind}
    assert "cases (median time; change against #1)" in out  # the comparison of the two kinds followed


def test_shard_covers_every_case_exactly_once(address, tiny, tmp_path, capsys):
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--ray", address, "--shard", "--save", f"{tmp_path / 's'}/")
    assert code == 0, out + err
    files = by_kind(saved(tmp_path / "s"))
    ids = [c["id"] for doc in files.values() for c in doc["cases"]]
    assert sorted(ids) == sorted(c.id for c in cases.load_cases([tiny]))
    for kind, doc in files.items():
        assert all(c["ran_on"]["kind"] == kind and c["ran_on"]["node_id"] for c in doc["cases"])


def _kill(where):
    os.kill(where["pid"], signal.SIGKILL)


# Many samples keep each case busy far longer than the driver takes to kill its worker.
SLOW = runner.RunOptions(timing=timing.TimingConfig(warmup=0, min_samples=200, max_samples=200))


def _sweep(address, tiny, on_start):
    cluster.connect(address)
    try:
        return cluster.run(cases.load_cases([tiny]), "host", (), SLOW, "each-device", on_start=on_start)
    finally:
        cluster.disconnect()


def test_a_worker_killed_mid_sweep_has_its_case_retried(address, tiny):
    killed = []

    def kill_once(kind, case, where):
        if kind == KINDS[0] and case.id.endswith("mask=true]/float32/deform_im2col") and not killed:
            killed.append(case.id)
            _kill(where)

    outcome = _sweep(address, tiny, kill_once)
    assert killed and outcome.replaced == 1 and not outcome.interrupted
    for kind in KINDS:
        assert [r.status for r in outcome.kinds[kind].results] == ["passed"] * 4, [r.error for r in outcome.kinds[kind].results]


def test_a_case_that_kills_two_workers_is_an_error_row(address, tiny):
    doomed = cases.load_cases([tiny])[1].id

    def kill_on_doomed(kind, case, where):
        if kind == KINDS[1] and case.id == doomed:
            _kill(where)

    outcome = _sweep(address, tiny, kill_on_doomed)
    assert outcome.replaced == 2
    statuses = {r.id: r.status for r in outcome.kinds[KINDS[1]].results}
    assert statuses.pop(doomed) == "error" and set(statuses.values()) == {"passed"}
    error = next(r.error for r in outcome.kinds[KINDS[1]].results if r.id == doomed)
    assert "2 workers" in error and KINDS[1] in error
    assert [r.status for r in outcome.kinds[KINDS[0]].results] == ["passed"] * 4


def test_ctrl_c_keeps_finished_cases_and_resume_completes_them(address, tiny, tmp_path, capsys, monkeypatch):
    real = cluster.run

    def interrupted_after_three(*args, on_done, **kwargs):
        seen = []

        def count(kind, result):
            on_done(kind, result)
            seen.append(result)
            if len(seen) == 3:
                raise KeyboardInterrupt

        return real(*args, on_done=count, **kwargs)

    monkeypatch.setattr(cluster, "run", interrupted_after_three)
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--ray", address, "--save", f"{tmp_path / 'cut'}/")
    assert code == cli.EXIT_INTERRUPTED, out + err
    cut = sorted((tmp_path / "cut").rglob("*.json"))
    docs = [json.loads(p.read_text()) for p in cut]
    assert len(docs) == 2 and not any(d["complete"] for d in docs)
    assert 3 <= sum(len(d["cases"]) for d in docs) < 8

    monkeypatch.setattr(cluster, "run", real)
    resume = [a for p in cut for a in ("--resume", p)]
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--ray", address, *resume, "--save", f"{tmp_path / 'done'}/")
    assert code == 0, out + err
    files = by_kind(saved(tmp_path / "done"))
    every = sorted(c.id for c in cases.load_cases([tiny]))
    for doc in docs:
        again = files[doc["environment"]["cluster"]["kind"]]
        assert again["complete"] and sorted(c["id"] for c in again["cases"]) == every
        carried = {c["id"]: c for c in again["cases"]}
        assert all(carried[c["id"]] == c for c in doc["cases"])  # kept, not run again


def test_ray_without_the_extra_exits_2_naming_it(tiny, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "ray", None)
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--ray", "local")
    assert code == 2 and "[cluster]" in err and "Traceback" not in err


def test_a_mode_without_ray_exits_2(tiny, capsys):
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--shard")
    assert code == 2 and "--ray" in err


def test_a_save_file_for_two_kinds_or_a_resume_of_no_kind_exits_2_before_running(address, tiny, tmp_path, capsys):
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--ray", address, "--save", tmp_path / "one.json")
    assert code == 2 and "2 device kinds" in err and "give a folder" in err
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--save", tmp_path / "plain.json", "-k", "float32")
    assert code == 0
    code, out, err = run(capsys, "run", tiny, "--backend", "host", "--ray", address, "--resume", tmp_path / "plain.json")
    assert code == 2 and "plain.json" in err and "not in the cluster" in err and "kind-a" in err
    assert not list(tmp_path.rglob("one*.json"))
