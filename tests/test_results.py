"""Result files: atomic, never overwritten, and every malformed file rejected with its name."""

import json
import os
import random
import stat

import pytest

from suite import results, timing
from suite.errors import InputError


class FakeBackend:
    name = "host"

    def describe(self):
        return {"name": "Test CPU", "arch": "sm_80"}


def _doc(n_cases=3):
    rng = random.Random(42)
    env = results.environment(FakeBackend())
    cases = []
    for i in range(n_cases):
        stats = timing.summarize([rng.uniform(1e-3, 2e-3) for _ in range(12)], "noise")
        cases.append(results.CaseResult(id=f"fam/s[i={i}]/float32/k", family="fam", kernel="k", dtype="float32",
                                        params={"i": i}, shape=f"{i}", status="passed", timing=stats.as_dict()))
    return env, results.document(env, cases, complete=True, command="suite run")


def test_environment_fingerprint_has_what_compare_needs():
    env, _ = _doc()
    assert env["device"]["name"] == "Test CPU"
    assert set(env["versions"]) >= {"python", "torch", "suite"}
    assert "commit" in env["git"] and "dirty" in env["git"]
    assert results.device_slug(env) == "host-test-cpu"


def test_save_then_load_round_trips_and_never_overwrites(tmp_path):
    env, doc = _doc()
    path = results.default_path(env, root=tmp_path)
    first = results.save(doc, path)
    second = results.save(doc, path)
    assert first == path and second != first and second.parent == first.parent
    assert results.load(first) == json.loads(json.dumps(doc))
    assert [p.name for p in first.parent.iterdir() if p.name.startswith(".partial")] == []
    before = first.read_bytes()
    results.load(first)
    assert first.read_bytes() == before


@pytest.mark.parametrize("content, words", [
    (None, "no such result file"),
    ('{"schema": "rawkernel-suite/result/1", "cases": [', "not valid JSON"),
    ('[1, 2]', "not a rawkernel-suite result file"),
    ('{"schema": "rawkernel-suite/result/0", "environment": {}, "cases": []}', "schema"),
    ('{"schema": "rawkernel-suite/result/1", "cases": []}', "environment"),
])
def test_bad_result_files_name_the_file(tmp_path, content, words):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=words) as info:
        results.load(path)
    assert str(path) in str(info.value)


def test_a_result_file_claims_a_free_name_then_keeps_replacing_only_its_own(tmp_path):
    env, doc = _doc(3)
    cases = [results.CaseResult(**c) for c in doc["cases"]]
    target = tmp_path / "run.json"
    results.save(doc, target)  # someone else's file already has the name
    others = target.read_bytes()
    live = results.ResultFile(target, env, "suite run --save")
    claimed = live.write([], complete=False)
    assert claimed != target and claimed.parent == tmp_path
    for n in range(1, 4):
        assert live.write(cases[:n], complete=False) == claimed
        now = results.load(claimed)
        assert now["complete"] is False and [c["id"] for c in now["cases"]] == [c.id for c in cases[:n]]
    assert live.write(cases, complete=True, final=True) == claimed and results.load(claimed)["complete"] is True
    assert target.read_bytes() == others
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, claimed.name])  # no temporary left


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_get_the_users_normal_file_mode(tmp_path, umask, mode):
    env, doc = _doc(2)
    old = os.umask(umask)
    try:
        saved = results.save(doc, tmp_path / "one.json")
        live = results.ResultFile(tmp_path / "live.json", env, "suite run --save")
        first = live.write([], complete=False)
        assert stat.S_IMODE(first.stat().st_mode) == mode
        live.write([results.CaseResult(**c) for c in doc["cases"]], complete=True, final=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(saved.stat().st_mode) == mode and stat.S_IMODE(first.stat().st_mode) == mode
