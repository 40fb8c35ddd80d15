"""The checking modes of the host backend (HostBackend(checks=...), `suite run --check ...`,
suite.host.RawKernel(..., checks=...), SUITE_HOST_CHECKS=...).

A checked launch runs the module's instrumented build (build.CHECKED_FLAGS), where every
load and store of kernel code calls the runtime (suite/emulator/runtime/checks.cpp) with its
address, size and code address. This module tells the runtime what the launch may touch (each
array argument, the module's static and extern __shared__ arrays; the runtime adds dynamic
shared memory, the thread's stack and the emulation's own memory), reads the findings back and
turns them into one KernelFault naming kernel, block, thread, source line and address.

- memcheck: an access outside all of that, or misaligned, stops the launch before it happens.
- racecheck: a happens-before check of every byte of shared and argument memory (see checks.cpp);
  the launch runs on one worker, with its threads in a seeded random order.
- initcheck: shared memory read before any thread of its block wrote it; and, for every output
  (an argument the kernel wrote to), the elements that no store or atomic wrote.
- synccheck: barrier and warp-collective misuse, which every launch checks (block.cpp).
"""

from __future__ import annotations

import ctypes

import numpy as np

from suite.emulator import abi, build, lines as host_lines
from suite.emulator.args import PackedArgs
from suite.errors import KernelFault

FLAGS = {"memcheck": abi.MEMCHECK, "racecheck": abi.RACECHECK, "initcheck": abi.INITCHECK, "synccheck": 0}
MAX_FINDINGS = 10  # distinct findings reported per launch; the rest are counted
RACE_SCHEDULE = (abi.RANDOM, 20240917)
_ACCESS = {abi.LOAD: "read", abi.STORE: "write", abi.ATOMIC: "atomic"}
_SPACE = {abi.GLOBAL: "__global__", abi.SHARED: "__shared__", abi.LOCAL: "local", abi.OTHER_SPACE: "memory"}
_HAZARD = {(abi.STORE, abi.LOAD): "read-after-write", (abi.LOAD, abi.STORE): "write-after-read",
           (abi.STORE, abi.STORE): "write-after-write"}  # fmt: skip


# g++ guards the (empty) initialisation of a function-scope array of a class type (__half) with a
# thread-local flag: no memory of the kernel's, so its accesses pass unchecked.
GUARD_VARIABLE = "guard variable for "


def shared_arrays(module) -> list[tuple[str, int, int, bool]]:
    """(name, offset in the TLS segment, bytes, extern?) of a checked module's __shared__ arrays."""
    symbols = abi.tls_symbols(module.path)
    window = next((s.value for s in symbols if s.name == build.EXTERN_SHARED_WINDOW), None)
    arrays = []
    for sym in symbols:
        if (abi.emulation_tls(sym.name) or sym.name == build.EXTERN_SHARED_WINDOW or sym.size == 0
                or sym.name.startswith(GUARD_VARIABLE)):
            continue
        arrays.append((sym.name, sym.value, sym.size, sym.value == window))  # every extern array is the window
    return arrays


def guard_variables(module) -> list[tuple[int, int]]:
    """(offset in the TLS segment, bytes) of the C++ guard variables of a checked module."""
    return [(s.value, s.size) for s in abi.tls_symbols(module.path) if s.name.startswith(GUARD_VARIABLE)]


class CheckedLaunch:
    """The ranges, shadows and findings of one checked launch, in C memory the runtime reads."""

    def __init__(self, kernel, packed: PackedArgs, shared_mem: int):
        checks = kernel.backend.checks
        self.kernel, self.buffers, self.shared_mem = kernel, [b for b in packed.buffers if b.high > b.low], shared_mem
        self.arrays = shared_arrays(kernel.module)
        self.written = {}
        ranges = []
        for b in self.buffers:
            written = None
            if "initcheck" in checks:
                self.written[b.index] = written = (ctypes.c_uint8 * (b.high - b.low))()
            ranges.append(abi.CheckRange(b.start, b.end, abi.ARGUMENT, b.index, ctypes.addressof(written) if written else None))
        for i, (_name, offset, size, extern) in enumerate(self.arrays):
            ranges.append(abi.CheckRange(offset, offset + size, abi.EXTERN_SHARED if extern else abi.STATIC_SHARED, i, None))
        for offset, size in guard_variables(kernel.module):
            ranges.append(abi.CheckRange(offset, offset + size, abi.UNCHECKED_TLS, -1, None))
        anchor = next((s.value for s in abi.tls_symbols(kernel.module.path) if s.name == abi.TLS_ANCHOR), 0)
        self._ranges = (abi.CheckRange * max(len(ranges), 1))(*ranges)
        self._findings = (abi.Finding * MAX_FINDINGS)()
        flags = 0
        for name in checks:
            flags |= FLAGS[name]
        self.struct = abi.Checks(flags, self._ranges, len(ranges), anchor, None, None, self._findings, MAX_FINDINGS, 0, 0)

    def run(self, argv, grid, block, cooperative: bool = False) -> None:
        race = "racecheck" in self.kernel.backend.checks
        schedule, seed = RACE_SCHEDULE if race else (abi.FORWARD, 0)
        try:
            self.kernel.run(argv, self.buffers, grid, block, self.shared_mem, schedule, seed,
                            workers=1 if race else None, checks=self.struct, cooperative=cooperative)  # fmt: skip
        except KernelFault:
            if self.struct.finding_count:
                raise KernelFault(self.report()) from None
            raise
        if self.struct.finding_count:
            raise KernelFault(self.report())

    # ---- findings -> words ----------------------------------------------------------------------

    def _line(self, pc: int) -> str:
        return host_lines.source_line(self.kernel.module.path, pc)

    def _where(self, f: abi.Finding) -> str:
        if f.range_kind == abi.ARGUMENT and f.range >= 0:
            from suite.backends.host_backend import near_buffer

            return near_buffer(f.address, self.buffers)
        if f.range_kind == abi.DYNAMIC_SHARED:
            return f", dynamic shared memory (shared_mem={self.shared_mem} bytes) at byte offset {f.offset}"
        if f.range_kind in (abi.STATIC_SHARED, abi.EXTERN_SHARED) and 0 <= f.range < len(self.arrays):
            name, _, size, extern = self.arrays[f.range]
            if extern:
                size = self.shared_mem
            what = f"extern __shared__ {name} (shared_mem={size} bytes)" if extern else f"__shared__ {name} ({size} bytes)"
            if extern and size == 0:
                what += ": the kernel uses dynamic shared memory and was launched with shared_mem=0"
            return f", {what} at byte offset {f.offset}"
        return " (not near any array of the launch)"

    def _text(self, f: abi.Finding) -> str:
        access, space = _ACCESS[f.access], _SPACE[f.space]
        if f.kind == abi.OUT_OF_BOUNDS and f.range_kind == abi.ARGUMENT and f.range < 0:
            return (f"memcheck: invalid {space} {access} of {f.size} bytes at 0x{f.address:x}: a wild pointer, the "
                    f"address is in no allocation ({self._line(f.pc)})")  # fmt: skip
        if f.kind == abi.OUT_OF_BOUNDS:
            return f"memcheck: invalid {space} {access} of {f.size} bytes at 0x{f.address:x}{self._where(f)} ({self._line(f.pc)})"
        if f.kind == abi.MISALIGNED:
            return (f"memcheck: misaligned {space} {access} of {f.size} bytes at 0x{f.address:x} (not a multiple of "
                    f"{f.size}){self._where(f)} ({self._line(f.pc)})")  # fmt: skip
        if f.kind == abi.RACE:
            other = "thread ({}, {}, {})".format(*f.other_thread) + " of block ({}, {}, {})".format(*f.other_block)
            unordered = ("blocks are never ordered (only atomics may share data between them)"
                         if tuple(f.block) != tuple(f.other_block) else
                         "no __syncthreads, nor a __syncwarp/warp collective of both lanes, lies between them")  # fmt: skip
            return (f"racecheck: {_HAZARD[(f.other_access, f.access)]} hazard on {space} memory at 0x{f.address:x}"
                    f"{self._where(f)}: {access} of {f.size} bytes at {self._line(f.pc)}, after the "
                    f"{_ACCESS[f.other_access]} by {other} at {self._line(f.other_pc)}; {unordered}")  # fmt: skip
        if f.kind == abi.ASYNC_READ:
            return (f"racecheck: read of {f.size} bytes at 0x{f.address:x} ({self._line(f.pc)}) before the "
                    f"cp.async.wait_group that covers the cp.async writing it ({self._line(f.other_pc)})")  # fmt: skip
        return (f"initcheck: {space} read of {f.size} bytes{self._where(f)} that no thread of the block wrote before "
                f"({self._line(f.pc)})")  # fmt: skip

    def report(self) -> str:
        c = self.struct
        lines = []
        for f in self._findings[: min(c.finding_count, MAX_FINDINGS)]:
            who = "block ({}, {}, {}), thread ({}, {}, {})".format(*f.block, *f.thread)
            lines.append(f"kernel {self.kernel.name}, {who}: {self._text(f)}")
        if c.finding_count > MAX_FINDINGS:
            lines.append(f"... and {c.finding_count - MAX_FINDINGS} more distinct finding(s)")
        if c.occurrences > len(lines):
            lines.append(f"({c.occurrences} occurrences in all)")
        return "\n".join(lines)

    def unwritten_outputs(self) -> None:
        """initcheck: an argument the kernel wrote to is an output; its elements nothing wrote are errors.
        Arguments the kernel declares as accumulators (HostKernel.accumulators: atomics adding into a
        zeroed buffer, as a scatter does) own no element and are not judged."""
        for b in (b for b in self.buffers if b.index not in self.kernel.accumulators):
            written = np.frombuffer(self.written[b.index], np.uint8)
            if not written.any():
                continue
            element0 = written[-b.low :]  # element 0 lies -low bytes into the range
            per_byte = np.lib.stride_tricks.as_strided(element0, (*b.shape, b.itemsize), (*b.strides, 1), writeable=False)
            unwritten = np.argwhere(~per_byte.any(axis=-1))
            if len(unwritten):
                first = tuple(int(i) for i in unwritten[0])
                raise KernelFault(
                    f"initcheck: kernel {self.kernel.name} never wrote {len(unwritten)} of {int(np.prod(b.shape))} elements "
                    f"of argument {b.index} ({b.dtype}{list(b.shape)}), an output it writes elsewhere; first at index "
                    f"{first if len(first) != 1 else first[0]}"
                )


def checked_launch(kernel, packed: PackedArgs, grid, block, shared_mem: int, cooperative: bool = False) -> None:
    launch = CheckedLaunch(kernel, packed, shared_mem)
    launch.run(packed.argv, grid, block, cooperative)
    if "initcheck" in kernel.backend.checks:
        launch.unwritten_outputs()

