"""A launch's counts, in total and per source line (worst first), as a GPU profiler reports them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from suite.profile import accesses as acc


@dataclass
class LineCounts:
    """One instruction class (space, kind, op) at one source line, summed over the launch."""

    line: str  # "kernel.cu:40 > helper.cuh:12": the kernel-side frames of the access, caller first
    space: str  # global | shared | -
    kind: str  # load | store | atomic
    op: str  # "" for a plain access, else ldmatrix, cp.async, mma, sfu
    requests: int = 0  # warp-level instructions
    threads: int = 0  # thread-level executions
    bytes: int = 0
    wavefronts: int = 0
    ideal_wavefronts: int = 0
    sectors: int = 0
    ideal_sectors: int = 0

    @property
    def excess(self) -> int:
        """Wavefronts or sectors beyond the ideal: bank conflicts, or uncoalesced sectors."""
        return self.wavefronts - self.ideal_wavefronts + self.sectors - self.ideal_sectors

    def per_request(self, what: str) -> float:
        return getattr(self, what) / self.requests if self.requests else 0.0

    def instruction(self) -> str:
        if self.op in ("mma", "sfu"):
            return self.op
        return f"{self.space} {self.op or self.kind}" + (f" ({self.kind})" if self.op == "cp.async" else "")

    def as_dict(self) -> dict:
        return asdict(self) | {"excess": self.excess}


@dataclass
class LaunchProfile:
    kernel: str
    grid: tuple
    block: tuple
    shared_mem: int
    lines: list[LineCounts] = field(default_factory=list)  # worst first
    unique_bytes_loaded: int = 0
    unique_bytes_stored: int = 0

    def total(self, space: str | None = None, kind: str | None = None, op: str | None = None) -> LineCounts:
        t = LineCounts("all", space or "*", kind or "*", op or "*")
        for line in self.lines:
            if (space in (None, line.space)) and (kind in (None, line.kind)) and (op in (None, line.op)):
                for k in _SUMMED:
                    setattr(t, k, getattr(t, k) + getattr(line, k))
        return t

    @property
    def bank_conflicts(self) -> int:
        """Nsight Compute's l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum."""
        s = self.total(space="shared")
        return s.wavefronts - s.ideal_wavefronts

    @property
    def mma(self) -> int:
        return self.total(op="mma").requests

    @property
    def sfu(self) -> int:
        return self.total(op="sfu").threads

    def as_dict(self) -> dict:
        shared, loads, stores = self.total(space="shared"), self.total("global", "load"), self.total("global", "store")
        return {
            "kernel": self.kernel, "grid": list(self.grid), "block": list(self.block), "shared_mem": self.shared_mem,
            "shared": {"requests": shared.requests, "wavefronts": shared.wavefronts,
                       "ideal_wavefronts": shared.ideal_wavefronts, "bank_conflicts": self.bank_conflicts},
            "global_load": {"requests": loads.requests, "sectors": loads.sectors, "ideal_sectors": loads.ideal_sectors,
                            "bytes": loads.bytes, "unique_bytes": self.unique_bytes_loaded},
            "global_store": {"requests": stores.requests, "sectors": stores.sectors,
                             "ideal_sectors": stores.ideal_sectors, "bytes": stores.bytes,
                             "unique_bytes": self.unique_bytes_stored},
            "mma": self.mma, "sfu": self.sfu,
            "lines": [line.as_dict() for line in self.lines],
        }


_SUMMED = ("requests", "threads", "bytes", "wavefronts", "ideal_wavefronts", "sectors", "ideal_sectors")


def summarize(kernel: str, grid, block, shared_mem: int, rows: np.ndarray, unique_loaded: int, unique_stored: int,
              line_of) -> LaunchProfile:
    """A launch's profile from its counted rows (ROW_DTYPE); line_of(pc) -> source line label. Rows of
    code addresses on the same line add up."""
    merged: dict[tuple, LineCounts] = {}
    for r in rows:
        key = (line_of(int(r["pc"])), acc.SPACE_NAMES[int(r["space"])], acc.KIND_NAMES[int(r["kind"])],
               acc.OP_NAMES[int(r["op"])])
        line = merged.setdefault(key, LineCounts(*key))
        for k in _SUMMED:
            setattr(line, k, getattr(line, k) + int(r[k]))
    lines = sorted(merged.values(), key=lambda r: (-r.excess, -r.requests, r.line))
    return LaunchProfile(kernel, tuple(grid), tuple(block), int(shared_mem), lines, unique_loaded, unique_stored)
