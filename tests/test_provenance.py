"""What a result came from: each saved case names the hash of every kernel source it built (with
its quoted #includes) and where its family's code came from; an edited kernel changes its hash."""

import hashlib
import json

from suite import KERNELS_DIR, cli, provenance, results
from user_folder import TINY_DEFORM, new_folder



def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_includes_are_followed_beside_the_file_and_in_kernels_cu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc").mkdir()
    (tmp_path / "k.cu").write_text('#include <cuda_fp16.h>\n#include "inc/a.cuh"\n  # include "common/smem.cuh"\n')
    (tmp_path / "inc" / "a.cuh").write_text('#include "b.cuh"\n')  # beside the including file
    (tmp_path / "inc" / "b.cuh").write_text('#include "a.cuh"\n')  # a cycle is hashed once
    found = provenance.source_digests([tmp_path / "k.cu"])
    assert found == {"k.cu": sha(tmp_path / "k.cu"), "inc/a.cuh": sha(tmp_path / "inc" / "a.cuh"),
                     "inc/b.cuh": sha(tmp_path / "inc" / "b.cuh"),
                     "common/smem.cuh": sha(KERNELS_DIR / "common" / "smem.cuh")}
    assert list(found) == sorted(found)


def _saved_case(capsys, folder, *argv) -> dict:
    assert cli.main(["run", *argv, "--backend", "host", "--save", str(folder) + "/"]) == 0
    path = capsys.readouterr().out.split("saved ")[-1].split()[0]
    return json.loads(open(path).read())["cases"][0]


def test_a_suite_kernel_records_its_source_and_includes_and_the_suite_as_origin(tmp_path, capsys):
    case_file = tmp_path / "tiny.yaml"
    case_file.write_text(TINY_DEFORM)
    case = _saved_case(capsys, tmp_path / "out", str(case_file), "--no-baseline")
    assert case["sources"]["deform_im2col.cu"] == sha(KERNELS_DIR / "deform_im2col.cu")
    assert case["sources"]["common/bilinear.cuh"] == sha(KERNELS_DIR / "common" / "bilinear.cuh")
    assert case["family_origin"] == {"name": "deform", "package": "rawkernel-suite", "version": "0.1.0"}


def test_an_edited_kernel_gives_another_hash_and_the_family_file_is_named(tmp_path, monkeypatch, capsys):
    folder = new_folder(tmp_path)
    monkeypatch.chdir(folder)
    before = _saved_case(capsys, tmp_path / "out", "-k", "cols=1] and float32")
    kernel = folder / "rowsoft.cu"
    kernel.write_text(kernel.read_text() + "// tuned\n")
    after = _saved_case(capsys, tmp_path / "out", "-k", "cols=1] and float32")
    assert before["sources"] != after["sources"] and after["sources"] == {"rowsoft.cu": sha(kernel)}
    assert after["family_origin"] == {"name": "rowsoft", "file": "rowsoft_family.py",
                                      "version": "sha256:" + sha(folder / "rowsoft_family.py")}


def test_a_schema_1_file_still_loads_with_no_sources(tmp_path):
    doc = {"schema": "rawkernel-suite/result/1", "environment": {}, "cases": [
        {"id": "f/s/float32/k", "family": "f", "kernel": "k", "dtype": "float32", "params": {}, "shape": "",
         "status": "passed"}]}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    (case,) = results.case_results(path, results.load(path)).values()
    assert case.sources == {} and case.family_origin is None


def test_save_defaults_to_the_results_folder_of_the_working_directory(tmp_path, monkeypatch, capsys):
    folder = new_folder(tmp_path)
    monkeypatch.chdir(folder)
    assert cli.main(["run", "--backend", "host", "-k", "cols=1] and float32", "--save"]) == 0
    saved = capsys.readouterr().out.split("saved ")[-1].split()[0]
    assert (folder / saved).parent.parent == folder / "results" and (folder / saved).is_file()


def test_an_installed_familys_origin_is_its_package_and_version(tmp_path, monkeypatch):
    from plugin_install import forget_plugins, install
    from suite import cases, runner

    install(tmp_path, monkeypatch, "saxpy = plugin_saxpy_family")
    try:
        case_file = tmp_path / "saxpy.yaml"
        case_file.write_text("family: saxpy\nsweeps:\n  - name: one\n    tier: smoke\n    params: {n: 10}\n")
        (case,) = cases.load_cases([case_file])
        assert runner.new_result(case).family_origin == {"name": "saxpy", "package": "test-plugin", "version": "1.0"}
    finally:
        forget_plugins()
