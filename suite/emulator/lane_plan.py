"""Which kernels of a module may run as lane loops (docs/DESIGN.md, "Lane loops"), read from the
object file the build compiled: a kernel's lane entry (build.LANE_ENTRY + index) may run only if
nothing it can reach calls a runtime function that waits for another thread (a barrier, a warp
collective, a spin-wait, cp.async's per-thread queue, ...). Plain modules are compiled with
-ffunction-sections, so each function has its own section and its relocations say what it calls
or takes the address of; following them from the entry over-approximates what it can reach (an
address taken counts as a call), so a kernel that waits in a callee, behind a macro or through a
function pointer keeps its fibers."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path

from suite.emulator.lanes import kernel_name

# Runtime functions a lane may call: they look at nobody else. Every other function of the runtime
# library involves other threads or the runtime's per-fiber state (mbarriers, copies, ...).
# (The misaligned-access handler faults, as trap does.)
NON_BLOCKING = frozenset({"suite_host_self", "suite_host_dynamic_smem", "suite_host_trap",
                          "__ubsan_handle_type_mismatch_v1"})

# What the user wrote, for the reason a kernel keeps its fibers.
_CUDA_NAMES = {
    "suite_host_barrier": "__syncthreads",
    "suite_host_syncthreads": "__syncthreads",
    "suite_host_barrier_arrive": "bar.arrive",
    "suite_host_warp_collective": "warp collectives",
    "suite_host_activemask": "__activemask",
    "suite_host_yield": "spin-waits",
    "suite_host_grid_sync": "grid sync",
    "suite_host_cp_async": "cp.async",
    "suite_host_cp_async_commit": "cp.async",
    "suite_host_cp_async_wait": "cp.async",
}
# The Hopper emulation's functions (include/emu/hopper/hopper_api.h), by prefix.
_HOPPER_NAMES = {"__suite_mbarrier": "mbarriers", "__suite_bulk": "bulk copies", "__suite_tensor": "TMA",
                 "__suite_wgmma": "wgmma", "__suite_setmaxnreg": "setmaxnreg", "__suite_prefetch": "TMA",
                 "__suite_fence": "proxy fences"}


def _cuda_name(function: str) -> str:
    return _CUDA_NAMES.get(function) or next(
        (what for prefix, what in _HOPPER_NAMES.items() if function.startswith(prefix)), function)


def _readelf(flag: str, obj: Path) -> str:
    return subprocess.run(["readelf", flag, "-W", str(obj)], capture_output=True, text=True, check=True).stdout


class _Calls:
    """What each function of an object file can reach, read once (three readelf runs) for all of
    its kernels' lane entries."""

    def __init__(self, obj: Path):
        sections = dict(re.findall(r"^\s*\[\s*(\d+)\]\s+(\S+)", _readelf("-S", obj), re.M))
        self.defined, self.undefined = {}, set()
        # (readelf writes sizes from 100000 bytes on in hex: a big kernel's too)
        for ndx, name in re.findall(r"^\s*\d+:\s+[0-9a-f]+\s+\S+\s+\w+\s+\w+\s+\w+\s+(\w+)\s+(\S+)$", _readelf("-s", obj), re.M):
            if ndx == "UND":
                self.undefined.add(name)
            elif ndx.isdigit() and ndx in sections:
                self.defined.setdefault(name, sections[ndx])
        self.edges: dict[str, set[str]] = {}
        current = None
        for line in _readelf("-r", obj).splitlines():
            if m := re.match(r"^Relocation section '\.rela?(\S+?)'", line):
                current = self.edges.setdefault(m.group(1), set())
            elif current is not None and (m := re.match(r"^[0-9a-f]+\s+[0-9a-f]+\s+\S+\s+[0-9a-f]+\s+(\S+)", line)):
                current.add(m.group(1))

    def externals(self, entry: str) -> set[str]:
        """The undefined symbols (functions of other libraries) reachable from function `entry`."""
        start = self.defined.get(entry)
        if start is None:
            return set()
        seen, stack, found = {start}, [start], set()
        while stack:
            for target in self.edges.get(stack.pop(), ()):
                section = target if target in self.edges or target.startswith(".") else self.defined.get(target)
                if section is None:
                    if target in self.undefined:
                        found.add(target)
                    continue
                if section not in seen:
                    seen.add(section)
                    stack.append(section)
        return found


@functools.lru_cache(maxsize=None)
def runtime_functions(runtime: Path) -> frozenset[str]:
    """The functions the host runtime library exports: what a module's undefined symbols may be
    besides the C and C++ libraries' (suite_host_*, the Hopper emulation's __suite_*, ...)."""
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(runtime)], capture_output=True, text=True, check=True).stdout
    return frozenset(re.findall(r"^\s*\d+:\s+[0-9a-f]+\s+\S+\s+FUNC\s+GLOBAL\s+\w+\s+\d+\s+(\S+)$", out, re.M))


def waits(externals, runtime: frozenset[str]) -> list[str]:
    """The runtime functions among `externals` that may involve other threads."""
    return sorted(n for n in externals if n in runtime and n not in NON_BLOCKING)


def constructs(kernel: dict) -> tuple[str, ...]:
    """What a planned kernel waits at, as its source spells it ("__syncthreads", "warp
    collectives", ...); empty: it runs as lane loops."""
    return tuple(dict.fromkeys(_cuda_name(n) for n in kernel["waits"]))


def why_not(kernel: dict) -> str | None:
    """What makes a planned kernel keep fibers: what it waits at and why the rewrite could not
    turn those into lane loops; None: lane loops."""
    waiting = ", ".join(constructs(kernel))
    if not waiting:
        return None
    return f"{waiting} (lane rewrite: {kernel['rewrite']})" if kernel.get("rewrite") else waiting


def plan(obj: Path, names, entry_prefix: str, rewrite, runtime: Path) -> list[dict]:
    """Per kernel name expression: {"name", "waits": the waiting runtime functions its lane entry
    reaches, "rewrite": why the lane rewrite left it alone (None: rewritten, or nothing to rewrite)}."""
    calls, exported = _Calls(obj), runtime_functions(runtime)
    return [{"name": name, "waits": waits(calls.externals(f"{entry_prefix}{i}"), exported),
             "rewrite": rewrite.refused.get(kernel_name(name)) if rewrite is not None else None}
            for i, name in enumerate(names)]


def sidecar(library: Path) -> Path:
    return library.with_suffix(".lanes.json")


def load(library: Path) -> list[dict] | None:
    """The plan saved beside a built library (None: built without one, e.g. a checked build)."""
    try:
        return json.loads(sidecar(library).read_text())
    except (OSError, ValueError):
        return None
