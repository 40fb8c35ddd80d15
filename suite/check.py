"""`suite check`: compile every kernel instantiation for target GPU architectures without a GPU and
judge what ptxas produced (registers, shared and local memory, occupancy, SASS instructions).

Data only: `check_table` in suite/check_report.py renders a CheckReport; the CLI sets the exit code
from `CheckReport.passed`.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from suite.errors import KernelCompileError
from suite.kernels.family import Instantiation
from suite.nvrtc_compile import compile_cubin
from suite.occupancy import Occupancy, arch_limits, occupancy
from suite.sass import SUMMARY_CLASSES, ResourceUsage, read_machine_code

DEFAULT_ARCHS = ("sm_80", "sm_90")
JSON_SCHEMA = 1

# NVRTC/EDG diagnostics: "/path/file.cu(12): error: ..."; ptxas: "ptxas error   : ..."
_SOURCE_ERROR = re.compile(r"^(.+?)\((\d+)\): (?:catastrophic )?error: (.*)$", re.MULTILINE)
_ANY_ERROR = re.compile(r"error\s*:\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class CompileFailure:
    file: str  # where the first error is; the instantiation's source when the log names no line
    line: int | None
    message: str  # the first error's text
    log: str

    @property
    def location(self) -> str:
        return self.file + (f":{self.line}" if self.line else "")


@dataclass
class KernelCheck:
    """One instantiation compiled for one architecture."""

    instantiation: Instantiation
    arch: str
    failure: CompileFailure | None = None
    lowered_name: str = ""
    usage: ResourceUsage | None = None
    instructions: dict[str, int] = field(default_factory=dict)  # instruction class -> count in SASS
    occupancy: Occupancy | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        inst = self.instantiation
        return {
            "source": str(inst.source), "name_expression": inst.name_expression, "label": inst.label,
            "arch": self.arch, "threads_per_block": inst.threads_per_block, "dynamic_smem": inst.dynamic_smem,
            "passed": self.passed, "problems": list(self.problems),
            "compile_error": self.failure and {"file": self.failure.file, "line": self.failure.line,
                                               "message": self.failure.message, "log": self.failure.log},
            "lowered_name": self.lowered_name,
            "registers": self.usage and self.usage.registers,
            "static_smem": self.usage and self.usage.static_smem,
            "local_bytes": self.usage and self.usage.local,
            "stack_bytes": self.usage and self.usage.stack,
            "occupancy": self.occupancy and {
                "blocks_per_sm": self.occupancy.blocks_per_sm, "warps_per_sm": self.occupancy.warps_per_sm,
                "fraction": self.occupancy.fraction, "limited_by": self.occupancy.limited_by},
            "instructions": dict(self.instructions),
        }


@dataclass
class CheckReport:
    archs: tuple[str, ...]
    kernels: list[KernelCheck]  # instantiation-major, then arch, in the order given

    @property
    def passed(self) -> bool:
        return all(k.passed for k in self.kernels)

    def to_json(self) -> dict:
        return {"schema": JSON_SCHEMA, "archs": list(self.archs), "passed": self.passed,
                "kernels": [k.to_json() for k in self.kernels]}


def compile_failure(inst: Instantiation, log: str) -> CompileFailure:
    """The first error of a compiler log, with its file and line where the log gives them."""
    match = _SOURCE_ERROR.search(log)
    if match:
        return CompileFailure(match.group(1), int(match.group(2)), match.group(3).strip(), log)
    match = _ANY_ERROR.search(log)  # e.g. ptxas refusing the kernel: no line to point at
    first_line = match.group(1) if match else log.strip().partition("\n")[0]
    return CompileFailure(str(inst.source), None, first_line.strip(), log)


def _judge(check: KernelCheck) -> list[str]:
    """The rules: no local memory, shared memory within the arch's limit, the planned occupancy, the
    promised instructions."""
    inst, usage, occ = check.instantiation, check.usage, check.occupancy
    problems = []
    if usage.local or usage.stack:
        problems.append(f"uses local memory ({usage.stack} B stack frame, {usage.local} B local per thread): "
                        "register spills or a dynamically indexed local array")
    if occ.blocks_per_sm == 0:
        if occ.limited_by == "shared memory":
            limit = arch_limits(check.arch).smem_per_block_optin
            problems.append(f"needs {usage.static_smem + inst.dynamic_smem} B of shared memory per block "
                            f"(static {usage.static_smem} + dynamic {inst.dynamic_smem}); {check.arch} allows at most {limit} "
                            "(with the opt-in attribute)")
        else:
            problems.append(f"cannot launch with {inst.threads_per_block} threads per block: "
                            f"0 blocks fit on an SM, limited by {occ.limited_by} ({usage.registers} registers per thread)")
    elif occ.blocks_per_sm < inst.min_blocks_per_sm:
        problems.append(f"{occ.blocks_per_sm} block(s) per SM, limited by {occ.limited_by} ({usage.registers} registers "
                        f"per thread), where its launch rule or performance model counts on {inst.min_blocks_per_sm}")
    if inst.tensor_core and not check.instructions["HMMA"]:
        problems.append("marked tensor_core but the SASS has no HMMA instruction")
    missing = [name for name in inst.expect if not check.instructions[name]]
    if missing:
        problems.append(f"expected instructions missing from the SASS: {', '.join(missing)}")
    return problems


def check_one(inst: Instantiation, arch: str) -> KernelCheck:
    """Compile `inst` for `arch` and judge the result."""
    check = KernelCheck(inst, arch)
    try:
        cubin = compile_cubin(inst.source, inst.name_expression, arch, inst.options)
    except KernelCompileError as exc:
        check.failure = compile_failure(inst, str(exc))
        check.problems.append(f"does not compile for {arch}: {check.failure.location}: {check.failure.message}")
        return check
    code = read_machine_code(cubin.data, cubin.lowered_name)
    check.lowered_name, check.usage = cubin.lowered_name, code.usage
    check.instructions = {name: code.count(name) for name in dict.fromkeys(SUMMARY_CLASSES + inst.expect)}
    # On sm_90 cuobjdump's SHARED includes the 1 KB ptxas reserves inside the kernel's shared section;
    # counting it as static too may understate occupancy by that 1 KB (not yet compared on an H100).
    check.occupancy = occupancy(arch_limits(arch), inst.threads_per_block, code.usage.registers,
                                code.usage.static_smem, inst.dynamic_smem)
    check.problems = _judge(check)
    return check


def check_jobs(instantiations, archs=None) -> tuple[tuple[str, ...], list[tuple[Instantiation, str]]]:
    """(the architectures checked, every (instantiation, arch) to compile): with `archs`, those of
    them each instantiation is meant for; without, its own (`Instantiation.archs`: a tile plan's row
    for sm_86 is checked for sm_86), or DEFAULT_ARCHS when it names none. InputError for an unknown arch."""
    def targets(inst) -> tuple[str, ...]:
        own = inst.archs or DEFAULT_ARCHS
        return own if archs is None else tuple(a for a in archs if inst.archs is None or a in inst.archs)

    jobs = [(inst, arch) for inst in instantiations for arch in targets(inst)]
    checked = tuple(dict.fromkeys(archs or sorted({arch for _, arch in jobs} | set(DEFAULT_ARCHS))))
    for arch in checked:
        arch_limits(arch)  # an unknown arch is bad usage: fail before compiling anything
    return checked, jobs


def run_check(instantiations, archs=None, on_done: Callable[[KernelCheck], None] | None = None) -> CheckReport:
    """Compile every instantiation (in parallel) for the architectures of `check_jobs` and judge each;
    `on_done` sees each KernelCheck as it finishes. Raises InputError for an unknown arch and
    BackendUnavailable when NVRTC or cuobjdump is missing; a kernel that does not compile is a failed
    KernelCheck, not an exception."""
    checked, jobs = check_jobs(instantiations, archs)

    def one(job) -> KernelCheck:
        result = check_one(*job)
        if on_done:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # NVRTC releases the GIL
        kernels = list(pool.map(one, jobs))
    return CheckReport(checked, kernels)
