"""The checking modes of the host backend (HostBackend(checks=...), `suite run --check ...`).

- memcheck: every array argument is copied between two inaccessible guard pages, once flush
  against the end guard and once against the start guard, so a read or write one element out of
  bounds faults; the fault names the kernel, the argument and the offset. Results are copied back.
- racecheck: the launch runs again on copies of the inputs with the threads of each block (and the
  blocks) in reverse and in seeded random order; an output that differs means the result depends
  on the schedule: a missing __syncthreads/__syncwarp, or blocks writing the same element.
- initcheck: outputs are the arrays the launch changed; the launch runs again on copies where they
  are poisoned (NaN, or 0xA5 bytes), and elements still poisoned, which the first run left as
  they were, were never written. Arguments the kernel declares as accumulators
  (HostKernel.accumulators: atomics adding into a zeroed buffer) own no element and are not judged.

Arguments that overlap in memory (views of one tensor) are copied together, so aliasing holds.
"""

from __future__ import annotations

import ctypes
import dataclasses
from dataclasses import dataclass

import numpy as np

from suite.backends import host_abi as abi, host_build
from suite.backends.host_args import Buffer, PackedArgs
from suite.errors import KernelFault

RACE_SCHEDULES = ((abi.REVERSE, 0, "threads and blocks in reverse order"), (abi.RANDOM, 20240917, "a random order"))
SLACK_BYTE = 0xCD
POISON = {  # quiet NaNs with a payload, so that a computed NaN is not taken for poison
    (abi.FLOAT, 2): 0x7E6D,
    (abi.BFLOAT16, 2): 0x7FED,
    (abi.FLOAT, 4): 0x7FC0DEAD,
    (abi.FLOAT, 8): 0x7FF8DEADBEEFDEAD,
}


@dataclass
class Region:
    """Bytes [start, end) spanned by one or more (overlapping) array arguments."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


def merge_regions(buffers: list[Buffer]) -> list[Region]:
    regions: list[Region] = []
    for b in sorted((b for b in buffers if b.high > b.low), key=lambda b: b.start):
        if regions and b.start < regions[-1].end:
            regions[-1].end = max(regions[-1].end, b.end)
        else:
            regions.append(Region(b.start, b.end))
    return regions


class Mirror:
    """Copies of the regions in memory of our own: 'plain', or between guard pages flush with the
    'end' or the 'start' guard. Each copy keeps its original's address modulo 16 (vector loads
    that were aligned stay aligned); the few slack bytes this leaves are checked after the launch."""

    def __init__(self, regions: list[Region], contents: list[bytes], placement: str, fibers: str):
        self.regions, self.placement = regions, placement
        self.starts, self._maps, self._keep = [], [], []
        runtime = abi.load_runtime(host_build.runtime_library(fibers))
        self._runtime, page = runtime, runtime.suite_host_page_size()
        for region, data in zip(regions, contents):
            if placement == "plain":
                block = ctypes.create_string_buffer(region.size + 256)
                self._keep.append(block)
                base = ctypes.addressof(block)
                start = base + (region.start - base) % 256
            else:
                mapped = (region.size + 16 + page - 1) // page * page
                base = runtime.suite_host_guarded_map(mapped)
                if not base:
                    raise MemoryError(f"memcheck cannot map {mapped} bytes")
                self._maps.append((base, mapped))
                ctypes.memset(base, SLACK_BYTE, mapped)
                if placement == "end":
                    start = base + mapped - region.size
                    start -= (start - region.start) % 16
                else:
                    start = base + region.start % 16
            ctypes.memmove(start, data, region.size)
            self.starts.append(start)

    def close(self) -> None:
        for base, mapped in self._maps:
            self._runtime.suite_host_guarded_unmap(base, mapped)
        self._maps = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def relocate(self, b: Buffer) -> Buffer:
        if b.high == b.low:  # an empty array: its pointer is never dereferenced
            return b
        i = region_of(b, self.regions)
        return dataclasses.replace(b, address=self.starts[i] + b.address - self.regions[i].start)

    def read(self) -> list[bytes]:
        return [ctypes.string_at(s, r.size) for s, r in zip(self.starts, self.regions)]

    def check_slack(self, kernel: str, buffers: list[Buffer]) -> None:
        """Writes into the bytes between a copy and its guard page, which the guard cannot catch."""
        for i, ((base, mapped), start, region) in enumerate(zip(self._maps, self.starts, self.regions)):
            for lo, hi, where in ((base, start, "before the start"), (start + region.size, base + mapped, "past the end")):
                slack = ctypes.string_at(lo, hi - lo)
                touched = [k for k, byte in enumerate(slack) if byte != SLACK_BYTE]
                if touched:
                    address = lo + touched[0]
                    owner = next(b for b in buffers if b.high > b.low and region_of(b, self.regions) == i)
                    raise KernelFault(
                        f"memcheck: kernel {kernel} wrote {len(touched)} byte(s) {where} of argument {owner.index} "
                        f"({owner.dtype}{list(owner.shape)}), first at byte offset {address - self.relocate(owner).address}"
                    )


def region_of(b: Buffer, regions: list[Region]) -> int:
    return next(i for i, r in enumerate(regions) if r.start <= b.start < r.end)


def _run(kernel, packed: PackedArgs, mirror: Mirror, geometry, schedule=abi.FORWARD, seed=0, workers=None) -> None:
    moved = [mirror.relocate(b) for b in packed.buffers]
    _values, argv = packed.with_addresses({b.index: b.address for b in moved})
    kernel.run(argv, moved, *geometry, schedule=schedule, seed=seed, workers=workers)
    if mirror.placement != "plain":
        mirror.check_slack(kernel.name, packed.buffers)


def _view(b: Buffer, data, region: Region, as_bits: bool = False) -> np.ndarray:
    """The argument's elements in a copy of its region (numbers, or raw bits with as_bits)."""
    if as_bits or b.kind in (abi.BFLOAT16, abi.OTHER):
        dtype = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}.get(b.itemsize, np.dtype(f"V{b.itemsize}"))
    else:
        letter = {abi.FLOAT: "f", abi.SIGNED: "i", abi.UNSIGNED: "u", abi.BOOL: "b"}[b.kind]
        dtype = np.dtype(f"{letter}{b.itemsize}")
    return np.ndarray(b.shape, dtype, buffer=data, offset=b.address - region.start, strides=b.strides)


def _numbers(b: Buffer, data, region: Region) -> np.ndarray:
    v = _view(b, data, region)
    if b.kind == abi.BFLOAT16:
        return (v.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return v.astype(np.float64) if b.kind == abi.FLOAT else v


def _differences(b: Buffer, region: Region, expected: bytes, got: bytes):
    x, y = _numbers(b, expected, region), _numbers(b, got, region)
    if b.kind in (abi.FLOAT, abi.BFLOAT16):
        # Floating atomics in another order round differently: allow that, not more.
        eps = {2: 2.0**-8 if b.kind == abi.BFLOAT16 else 2.0**-10, 4: 2.0**-23, 8: 2.0**-52}[b.itemsize]
        finite = np.abs(x[np.isfinite(x)])
        scale = finite.max() if finite.size else 0.0
        same = np.isclose(x, y, rtol=eps**0.5, atol=eps**0.5 * scale) | (np.isnan(x) & np.isnan(y))
    else:
        same = x == y
    return np.argwhere(~same), x, y


def _index(position) -> str:
    return str(tuple(int(i) for i in position)) if len(position) != 1 else str(int(position[0]))


def _racecheck(kernel, packed, regions, snapshot, final, geometry, placement) -> None:
    for schedule, seed, description in RACE_SCHEDULES:
        with Mirror(regions, snapshot, placement, kernel.backend.fibers) as mirror:
            _run(kernel, packed, mirror, geometry, schedule, seed, workers=1)
            other = mirror.read()
        for b in (b for b in packed.buffers if b.high > b.low):
            i = region_of(b, regions)
            bad, x, y = _differences(b, regions[i], final[i], other[i])
            if len(bad):
                first = tuple(bad[0])
                raise KernelFault(
                    f"racecheck: kernel {kernel.name} gives another result with {description}: argument {b.index} "
                    f"({b.dtype}{list(b.shape)}) differs at {len(bad)} of {x.size} elements, first at index "
                    f"{_index(first)} ({x[first]} vs {y[first]}); a missing __syncthreads/__syncwarp, or blocks "
                    "writing the same element, make the result depend on the schedule"
                )


def _initcheck(kernel, packed, regions, snapshot, final, geometry, placement) -> None:
    outputs = []
    for b in (b for b in packed.buffers if b.high > b.low and b.index not in kernel.accumulators):
        i = region_of(b, regions)
        unchanged = _view(b, snapshot[i], regions[i], True) == _view(b, final[i], regions[i], True)
        if not unchanged.all():
            outputs.append((b, i, unchanged))
    if not outputs:
        return
    poisoned = [bytearray(s) for s in snapshot]
    for b, i, _ in outputs:
        view = _view(b, poisoned[i], regions[i], True)
        pattern = POISON.get((b.kind, b.itemsize))
        view[...] = pattern if pattern is not None else np.frombuffer(b"\xa5" * b.itemsize, view.dtype)[0]
    with Mirror(regions, [bytes(p) for p in poisoned], placement, kernel.backend.fibers) as mirror:
        _run(kernel, packed, mirror, geometry)
        after = mirror.read()
    for b, i, unchanged in outputs:
        still = _view(b, after[i], regions[i], True) == _view(b, poisoned[i], regions[i], True)
        unwritten = np.argwhere(still & unchanged)
        if len(unwritten):
            raise KernelFault(
                f"initcheck: kernel {kernel.name} never wrote {len(unwritten)} of {unchanged.size} elements of "
                f"argument {b.index} ({b.dtype}{list(b.shape)}), an output it writes elsewhere; first at index "
                f"{_index(unwritten[0])}"
            )


def checked_launch(kernel, packed: PackedArgs, grid, block, shared_mem: int) -> None:
    checks = kernel.backend.checks
    geometry = (grid, block, shared_mem)
    regions = merge_regions(packed.buffers)
    snapshot = [ctypes.string_at(r.start, r.size) for r in regions]
    placement = "end" if "memcheck" in checks else "plain"
    if "memcheck" in checks:
        with Mirror(regions, snapshot, "end", kernel.backend.fibers) as mirror:
            _run(kernel, packed, mirror, geometry)
            for region, data in zip(regions, mirror.read()):
                ctypes.memmove(region.start, data, region.size)
        with Mirror(regions, snapshot, "start", kernel.backend.fibers) as mirror:  # the end guard cannot see underflows
            _run(kernel, packed, mirror, geometry)
    else:
        kernel.run(packed.argv, packed.buffers, *geometry)
    final = [ctypes.string_at(r.start, r.size) for r in regions]
    if "racecheck" in checks:
        _racecheck(kernel, packed, regions, snapshot, final, geometry, placement)
    if "initcheck" in checks:
        _initcheck(kernel, packed, regions, snapshot, final, geometry, placement)
