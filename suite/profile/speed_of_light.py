"""Speed-of-light bounds, predicted: the least time each unit of a named GPU needs for the counted
work, assuming the work spreads evenly over every SM and each unit runs at its peak rate.

A PREDICTION, never a measurement: no timing, no latency, no occupancy, no caches beyond "each
unique byte crosses DRAM once". What it says is which unit binds first and how fast the kernel
could be at most; a GPU run says how close it comes.

Rates (published specifications; see README "suite profile"):
- SMs and memory bandwidth: NVIDIA's A100 (SXM4 80 GB), H100 (SXM5) and H200 (SXM) datasheets.
- Tensor cores: dense FP16/BF16 with FP32 accumulation, 1024 FMA per clock per SM on A100 and 2048
  on H100/H200 (A100 and H100 architecture whitepapers); the clock is the one the datasheet's peak
  implies (A100 312 TFLOPS, H100/H200 989.4 TFLOPS).
- Shared memory: 32 banks x 4 bytes per clock per SM, one 128-byte wavefront per clock.
- Special functions (exp2, log2, rsqrt, sin, cos): 16 results per clock per SM for compute
  capability 8.0 and 9.0 (CUDA C++ Programming Guide, throughput of native arithmetic instructions).
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.errors import InputError

MMA_FLOPS = 2 * 16 * 8 * 16  # one mma.sync m16n8k16


@dataclass(frozen=True)
class Gpu:
    name: str
    sms: int
    clock_ghz: float  # the clock the published tensor peak implies
    mma_flops_per_clock_sm: int
    wavefronts_per_clock_sm: int
    sfu_per_clock_sm: int
    dram_gbps: float

    def unit_seconds(self, mma: int, wavefronts: int, sfu: int, dram_bytes: int) -> dict[str, float]:
        per_second = self.sms * self.clock_ghz * 1e9
        return {
            "tensor": mma * MMA_FLOPS / (self.mma_flops_per_clock_sm * per_second),
            "shared": wavefronts / (self.wavefronts_per_clock_sm * per_second),
            "sfu": sfu / (self.sfu_per_clock_sm * per_second),
            "dram": dram_bytes / (self.dram_gbps * 1e9),
        }


GPUS = {
    "A100": Gpu("NVIDIA A100-SXM4-80GB", 108, 1.41, 2048, 1, 16, 2039.0),
    "H100": Gpu("NVIDIA H100 SXM5", 132, 1.83, 4096, 1, 16, 3350.0),
    "H200": Gpu("NVIDIA H200 SXM", 132, 1.83, 4096, 1, 16, 4800.0),
}


def gpu(name: str) -> Gpu:
    key = name.upper()
    if key not in GPUS:
        raise InputError(f"--gpu {name!r}: expected one of {', '.join(GPUS)}")
    return GPUS[key]


@dataclass(frozen=True)
class Bound:
    """The predicted least time of some counted work on one GPU."""

    gpu: str
    seconds: dict[str, float]  # per unit
    flops: float  # the kernel's FLOP model for the same work
    bytes: float  # its byte model

    @property
    def binding(self) -> str:
        return max(self.seconds, key=self.seconds.get)

    @property
    def least_seconds(self) -> float:
        return self.seconds[self.binding]

    def ceiling(self) -> tuple[float, str]:
        """The throughput the bound implies, in the kernel's own terms: GB/s of its byte model when
        DRAM binds (a memory-bound kernel) or it has no FLOP model, else TFLOP/s."""
        t = self.least_seconds
        if t <= 0:
            return 0.0, ""
        if self.flops and self.binding != "dram":
            return self.flops / t / 1e12, "TFLOP/s"
        return self.bytes / t / 1e9, "GB/s"

    def as_dict(self) -> dict:
        value, unit = self.ceiling()
        return {"prediction": True, "gpu": self.gpu, "unit_seconds": self.seconds, "binding": self.binding,
                "least_seconds": self.least_seconds, "ceiling": value, "ceiling_unit": unit}


def bound(g: Gpu, mma: int, wavefronts: int, sfu: int, dram_bytes: int, flops: float, nbytes: float,
          scale: float = 1.0) -> Bound:
    """The bound of the counted work times `scale`, for a shape whose counts are the profiled ones
    `scale` times over; flops and nbytes are the kernel's models for that shape."""
    seconds = g.unit_seconds(mma, wavefronts, sfu, dram_bytes)
    return Bound(g.name, {k: v * scale for k, v in seconds.items()}, flops, nbytes)
