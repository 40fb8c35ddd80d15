"""The device's practical peaks, measured in the same run as the cases they are compared with.

- Memory bandwidth: a device-to-device copy of a buffer far larger than any L2 cache, counted as
  the bytes read plus the bytes written.
- Compute: a large square matmul per dtype (float32 without TF32, as the fp32 kernels use FMA
  units; float16/bfloat16 on tensor cores with fp32 accumulation).

Both are timed with the backend's own timer and protocol, so a case's percentage of peak compares
like with like. The CLI calls `measure_peaks` once per GPU run and stores the result in the result
file's device section, env["device"]["peaks"]; runner._metrics reads it.
"""

from __future__ import annotations

import torch

from suite import timing

COPY_BYTES = 1 << 30  # per buffer: 20x the largest L2 of current GPUs
MATMUL_SIZE = 8192
PEAK_TIMING = timing.TimingConfig(warmup=3, min_samples=10, max_samples=200, target_noise=0.01, budget_s=1.0)


def _copy(device, copy_bytes: int, timer, config) -> tuple[int, timing.Stats]:
    """Bytes moved (read + written) by one device-to-device copy, and its timing; the buffers are
    freed on return, before the matmuls need the memory."""
    src = torch.ones(copy_bytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    return 2 * src.numel() * src.element_size(), timing.measure(lambda: dst.copy_(src), timer, config)


def measure_peaks(backend, dtypes, *, copy_bytes: int = COPY_BYTES, matmul_size: int = MATMUL_SIZE,
                  config: timing.TimingConfig = PEAK_TIMING) -> dict:
    """{"copy_gbps": GB/s, "matmul_tflops": {dtype: TFLOP/s}} plus how each was measured."""
    timer = backend.timer()
    moved, copy = _copy(backend.device, copy_bytes, timer, config)
    peaks = {
        "copy_gbps": moved / copy.median_s / 1e9,
        "matmul_tflops": {},
        "copy": {"bytes_moved": moved, "median_s": copy.median_s, "noise": copy.noise},
        "matmul": {"m_n_k": [matmul_size] * 3, "median_s": {}},
    }
    n = matmul_size
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # no TF32: the peak of plain fp32 arithmetic
    try:
        for name in sorted(set(dtypes)):
            dtype = getattr(torch, name)
            gen = torch.Generator(device=backend.device).manual_seed(0)
            a = torch.randn(n, n, device=backend.device, generator=gen).to(dtype)
            b = torch.randn(n, n, device=backend.device, generator=gen).to(dtype)
            c = torch.empty(n, n, dtype=dtype, device=backend.device)
            stats = timing.measure(lambda: torch.matmul(a, b, out=c), timer, config)
            peaks["matmul_tflops"][name] = 2 * n**3 / stats.median_s / 1e12
            peaks["matmul"]["median_s"][name] = stats.median_s
    finally:
        torch.set_float32_matmul_precision(precision)
    return peaks
