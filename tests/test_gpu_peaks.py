"""Peak measurement: the arithmetic on the CPU with a stand-in backend, the real thing on a GPU."""

from types import SimpleNamespace

import pytest
import torch

from suite import timing
from suite.peaks import measure_peaks

FAST = timing.TimingConfig(warmup=1, min_samples=3, max_samples=5, target_noise=0.5, budget_s=0.5)


def test_peaks_count_bytes_read_and_written_and_matmul_flops():
    cpu = SimpleNamespace(name="cpu-stand-in", device=torch.device("cpu"), timer=timing.WallTimer)
    p = measure_peaks(cpu, ["float32", "bfloat16", "float32"], copy_bytes=1 << 22, matmul_size=64, config=FAST)
    assert p["copy"]["bytes_moved"] == 2 * (1 << 22)
    assert p["copy_gbps"] == pytest.approx(p["copy"]["bytes_moved"] / p["copy"]["median_s"] / 1e9)
    assert sorted(p["matmul_tflops"]) == ["bfloat16", "float32"]
    for name, tflops in p["matmul_tflops"].items():
        assert tflops == pytest.approx(2 * 64**3 / p["matmul"]["median_s"][name] / 1e12)
    assert torch.get_float32_matmul_precision() == "highest"


def test_float32_matmul_precision_is_restored():
    cpu = SimpleNamespace(name="cpu-stand-in", device=torch.device("cpu"), timer=timing.WallTimer)
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        measure_peaks(cpu, ["float32"], copy_bytes=1 << 16, matmul_size=16, config=FAST)
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(before)


@pytest.mark.gpu
def test_gpu_peaks_are_plausible():
    from suite.backends import get_backend

    backend = get_backend("cupy")
    p = measure_peaks(backend, ["float32", "float16", "bfloat16"])
    # any GPU this suite targets: 0.1 to 20 TB/s, fp32 1 to 200 TFLOP/s, tensor cores above fp32
    assert 100 < p["copy_gbps"] < 20_000
    assert 1 < p["matmul_tflops"]["float32"] < 200
    assert p["matmul_tflops"]["float16"] > 2 * p["matmul_tflops"]["float32"]
    assert p["matmul_tflops"]["bfloat16"] > 2 * p["matmul_tflops"]["float32"]
