"""The memory-behaviour rules `suite profile --strict` enforces on the suite's kernels.

Each rule names kernels and an instruction class, located by what it does (and, where a kernel has
several of the class, by the source text of its line, so edits that move lines keep the rule):
- attention_tc: every ldmatrix and every shared-memory store (cp.async's shared side, the output
  staging) conflict-free: wavefronts equal the ideal.
- deform_im2col and deform_conv2d_depthwise: the loads of the learned offsets and the stores of
  the columns / outputs coalesced: sectors per request at most the ideal plus SECTOR_SLACK. A warp
  covers 32 consecutive output pixels, contiguous in memory except where the pixel index wraps into
  the next chunk or image: such a run that does not start on a sector boundary costs one sector more
  than its bytes need, and a warp that straddles a wrap has two runs. Two sectors of slack allow
  exactly that and flag any stride.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from suite import KERNELS_DIR
from suite.profile.summary import LineCounts

SECTOR_SLACK = 2


@lru_cache(maxsize=None)
def lines_matching(file: str, pattern: str) -> frozenset[str]:
    """{"file:N"} for the lines of kernels_cu/`file` whose text matches `pattern`."""
    text = (KERNELS_DIR / file).read_text().splitlines()
    name = file.rsplit("/", 1)[-1]
    return frozenset(f"{name}:{i}" for i, line in enumerate(text, 1) if re.search(pattern, line))


def at(file: str, pattern: str) -> Callable[[LineCounts], bool]:
    return lambda row: not lines_matching(file, pattern).isdisjoint(row.line.split(" > "))


@dataclass(frozen=True)
class Rule:
    name: str
    kernels: tuple[str, ...]  # kernel names (a name expression up to its '<')
    applies: Callable[[LineCounts], bool]
    coalesced: bool  # True: global sectors within the slack; False: shared, conflict-free

    def excess(self, row: LineCounts) -> int:
        if self.coalesced:
            return max(0, row.sectors - row.ideal_sectors - SECTOR_SLACK * row.requests)
        return row.wavefronts - row.ideal_wavefronts

    def limit(self) -> str:
        return f"sectors/request <= ideal + {SECTOR_SLACK}" if self.coalesced else "wavefronts = ideal"


DEFORM = ("deform_im2col", "deform_conv2d_depthwise")
RULES = (
    Rule("attention_tc ldmatrix conflict-free", ("attention_tc",), lambda r: r.op == "ldmatrix", False),
    Rule("attention_tc shared stores conflict-free", ("attention_tc",),
         lambda r: r.space == "shared" and r.kind == "store", False),
    Rule("deform offset loads coalesced", DEFORM,
         lambda r: r.space == "global" and r.kind == "load" and at("common/channel_chunks.cuh", r"load_compute\(offsets")(r),
         True),
    Rule("deform column/output stores coalesced", DEFORM, lambda r: r.space == "global" and r.kind == "store", True),
)


@dataclass(frozen=True)
class Finding:
    rule: Rule
    case_id: str
    kernel: str
    row: LineCounts

    @property
    def passed(self) -> bool:
        return self.rule.excess(self.row) == 0

    def as_dict(self) -> dict:
        return {"rule": self.rule.name, "limit": self.rule.limit(), "case": self.case_id, "kernel": self.kernel,
                "line": self.row.line, "instruction": self.row.instruction(), "requests": self.row.requests,
                "excess": self.rule.excess(self.row), "passed": self.passed}


def check(profiles) -> list[Finding]:
    """Every (rule, case, launch, line) the rules apply to, passed or not."""
    found = []
    for profile in profiles:
        for launch in profile.launches:
            name = launch.kernel.split("<")[0].strip()
            for rule in RULES:
                if name in rule.kernels:
                    found += [Finding(rule, profile.case.id, launch.kernel, row) for row in launch.lines
                              if rule.applies(row)]
    return found
