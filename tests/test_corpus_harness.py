"""benchmarks/corpus: the slicer that drops host code around public kernels, the failure causes,
and the harness end to end on the public kernel files kept in tests/kernels/corpus (credited there
and in the README), with the same drivers the full runs use. Nothing is fetched."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "corpus"
KEPT = Path(__file__).parent / "kernels" / "corpus"
sys.path.insert(0, str(CORPUS))

from causes import cause  # noqa: E402
from slicing import SliceError, device_code  # noqa: E402

MIXED = """#include <cuda_runtime.h>
#include <cublas_v2.h>
#include "helper.h"
#define N 4
cublasHandle_t handle;
__device__ float twice(float x) { return 2 * x; }
struct Pair { float a, b; };
template <class T> __global__ void scale(T* x) { x[threadIdx.x] = twice(x[threadIdx.x]); }
template <class T> void launch(T* x) { scale<T><<<1, N>>>(x); }
template void launch<float>(float*);
int main() { int big = 1'000; return big; }
__global__ void last(int* p) { *p = N; }
"""


def test_slicer_keeps_device_code_drops_host_code_and_keeps_line_numbers(tmp_path):
    (tmp_path / "helper.h").write_text("#pragma once\nvoid host_only() { printf(\"{\"); }\n__device__ int h() { return 1; }\n")
    (tmp_path / "mixed.cu").write_text(MIXED)
    code = device_code(tmp_path / "mixed.cu")
    assert "twice" in code and "struct Pair" in code and "__global__ void scale" in code
    for host in ("cuda_runtime.h", "cublas", "<<<", "launch<float>", "main", "host_only"):
        assert host not in code, host
    assert "__device__ int h()" in code  # the local header, inlined and sliced
    # every kept line sits at its original line number (after the #line that resumes mixed.cu)
    resumed = code.split(f'#line 4 "{tmp_path / "mixed.cu"}"\n', 1)[1]
    assert resumed.splitlines()[12 - 4] == "__global__ void last(int* p) { *p = N; }"


def test_slicer_reports_unbalanced_braces(tmp_path):
    (tmp_path / "bad.cu").write_text("__global__ void k() {\n")
    with pytest.raises(SliceError, match=r"bad.cu: unbalanced braces \(1 left open"):
        device_code(tmp_path / "bad.cu")


@pytest.mark.parametrize("message,category", [
    ("x.cu:3:11: error: 'cooperative_groups' is not a namespace-name", "cooperative_groups missing"),
    ("cuda/pipeline: No such file or directory", "libcu++ missing"),
    ("Error: no such instruction: `mma.sync.aligned.m16n8k16.row.col'", "inline PTX"),
    ("error: '__cvta_generic_to_shared' was not declared in this scope", "__cvta_*/cuda_pipeline missing"),
    ("error: '__match_any_sync' was not declared in this scope", "intrinsic __match_any_sync missing"),
    ("barrier divergence: this thread reached __syncthreads at a.cu:1", "barrier counting"),
    ("lib.so: undefined symbol: __exp2f", "intrinsic __exp2f missing (load time)"),
])
def test_causes(message, category):
    assert cause(message) == category


def test_undefined_extern_shared_array_is_not_called_an_intrinsic():
    assert cause("undefined symbol: smem", "extern __shared__ half smem[][40];") == (
        "extern __shared__ array gets no storage (load time)")


def run_harness(*args):
    return subprocess.run([sys.executable, str(CORPUS / "run.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_kept_public_kernels_run_and_match(tmp_path):
    sources = [f"--source={name}={KEPT / name}" for name in ("cuda-samples", "flash-attention-minimal")]
    only = ["-k", "vectorAdd", "-k", "cudaTensorCoreGemm", "-k", "flash"]
    proc = run_harness(*sources, *only, "--json", str(tmp_path / "out.json"), "--markdown", str(tmp_path / "t.md"),
                       "--note", "test run")
    outcomes = json.loads((tmp_path / "out.json").read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(o["kernel"] for o in outcomes) == ["forward_kernel", "simple_wmma_gemm", "vectorAdd"]
    assert all(o["ok"] for o in outcomes)
    table = (tmp_path / "t.md").read_text()
    assert "| cuda-samples | 2 | 2 | 0 |" in table and table.startswith("test run")


def test_a_wrong_reference_is_reported_as_a_failure(tmp_path):
    driver = (CORPUS / "drivers" / "samples_vectorAdd.py").read_text().replace("a + b, rtol=0", "a - b, rtol=0")
    (tmp_path / "broken_vector_add.py").write_text(driver)
    proc = run_harness(f"--source=cuda-samples={KEPT / 'cuda-samples'}", "--drivers", str(tmp_path))
    assert proc.returncode == 1
    assert "wrong result" in proc.stdout and "values differ" in proc.stdout


@pytest.mark.parametrize("args,message", [
    ([], "give at least one --source"),
    (["--source", "cuda-samples"], "expected NAME=DIR"),
    (["--source", "cuda-samples=/no/such/dir"], "is not a directory"),
    (["--source", f"nobody={KEPT}"], "no driver reads it"),
])
def test_bad_arguments_exit_2_with_a_message(args, message):
    proc = run_harness(*args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
