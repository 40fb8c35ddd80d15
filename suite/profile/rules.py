"""The memory-behaviour rules `suite profile --strict` enforces on the suite's kernels.

Each rule names kernels and an instruction class, located by what it does (and, where a kernel has
several of the class, by the source text of its line, so edits that move lines keep the rule):
- attention_tc: every ldmatrix and every shared-memory store (cp.async's shared side, the output
  staging) conflict-free: wavefronts equal the ideal.
- attention_bwd_dkdv and attention_bwd_dq (SIMT backward): every shared-memory load and store
  conflict-free (the tiles' +1 pitch, P/dS's pitch of 8 mod 16 words, broadcasts).
- deform_conv2d_implicit: every shared-memory access conflict-free (ldmatrix, the cp.async copies
  of the weight, the gather's and the epilogue's stores, the SIMT loads), and the weight copies
  coalesced (global side of cp.async: each warp copies 8 rows x 64 contiguous bytes).
- deform_im2col, deform_conv2d_depthwise and deform_conv2d_implicit: the loads of the learned
  offsets and mask and the stores of the columns / outputs coalesced. A warp covers 32 consecutive work
  items (the implicit GEMM: output positions), whose pixels are contiguous in memory except where
  the pixel index wraps into the next chunk or image (every Ho*Wo items): the warp's accesses form
  `runs` <= 1 + ceil(31 / (Ho*Wo)) contiguous runs. A run costs at most one sector more than its
  bytes need (a start off a sector boundary), and splitting bytes into runs rounds up once more per
  run, so a coalesced request touches at most ideal + 2 * runs - 1 sectors: the slack. A stride
  between lanes exceeds it (fp32 at a stride of 32 elements: 32 sectors against 4 + 3 for large
  images).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from suite import KERNELS_DIR
from suite.references.deform import output_size, pair
from suite.profile.summary import LineCounts

WARP = 32


@lru_cache(maxsize=None)
def lines_matching(file: str, pattern: str) -> frozenset[str]:
    """{"file:N"} for the lines of kernels_cu/`file` whose text matches `pattern`."""
    text = (KERNELS_DIR / file).read_text().splitlines()
    name = file.rsplit("/", 1)[-1]
    return frozenset(f"{name}:{i}" for i, line in enumerate(text, 1) if re.search(pattern, line))


@lru_cache(maxsize=None)
def function_lines(file: str, function: str) -> frozenset[str]:
    """{"file:N"} for the lines of `function` in kernels_cu/`file`: from the line that declares it (its
    name and "(" on a line starting at column 0) to its closing brace at column 0."""
    text = (KERNELS_DIR / file).read_text().splitlines()
    name = file.rsplit("/", 1)[-1]
    start = next(i for i, line in enumerate(text) if not line[:1].isspace() and re.search(rf"\b{function}\(", line))
    end = next(i for i in range(start, len(text)) if text[i] == "}")
    return frozenset(f"{name}:{i}" for i in range(start + 1, end + 2))


def at(file: str, pattern: str) -> Callable[[LineCounts], bool]:
    return lambda row: not lines_matching(file, pattern).isdisjoint(row.line.split(" > "))


def inside(file: str, function: str) -> Callable[[LineCounts], bool]:
    """Rows whose call chain passes through `function`'s body."""
    return lambda row: not function_lines(file, function).isdisjoint(row.line.split(" > "))


def _output_plane(params) -> int | None:
    """Ho*Wo of a deformable case (deform family: `kernel`; modules: `kernel_size`), None if unknown."""
    try:
        k = params.get("kernel", params.get("kernel_size"))
        sizes = []
        for axis, extent in enumerate((params["height"], params["width"])):
            kk, s, p, d = (pair(v)[axis] for v in (k, params.get("stride", 1), params.get("padding", 0),
                                                   params.get("dilation", 1)))
            sizes.append(output_size(extent, kk, s, p, d))
        return sizes[0] * sizes[1]
    except (KeyError, TypeError, ValueError):
        return None


def sector_slack(params) -> int:
    """Sectors per request a coalesced deformable request may exceed its ideal by (see above)."""
    plane = _output_plane(params)
    runs = WARP if not plane else min(WARP, 1 + -(-(WARP - 1) // plane))
    return 2 * runs - 1


@dataclass(frozen=True)
class Rule:
    name: str
    kernels: tuple[str, ...]  # kernel names (a name expression up to its '<')
    applies: Callable[[LineCounts], bool]
    coalesced: bool  # True: global sectors within the slack; False: shared, conflict-free

    def excess(self, row: LineCounts, params) -> int:
        if self.coalesced:
            return max(0, row.sectors - row.ideal_sectors - sector_slack(params) * row.requests)
        return row.wavefronts - row.ideal_wavefronts

    def limit(self, params) -> str:
        return f"sectors/request <= ideal + {sector_slack(params)}" if self.coalesced else "wavefronts = ideal"


DEFORM = ("deform_im2col", "deform_conv2d_depthwise", "deform_conv2d_implicit")
RULES = (
    Rule("attention_tc ldmatrix conflict-free", ("attention_tc",), lambda r: r.op == "ldmatrix", False),
    Rule("attention_tc shared stores conflict-free", ("attention_tc",),
         lambda r: r.space == "shared" and r.kind == "store", False),
    Rule("attention backward (SIMT) shared accesses conflict-free", ("attention_bwd_dkdv", "attention_bwd_dq"),
         lambda r: r.space == "shared", False),
    Rule("deform_conv2d_implicit shared memory conflict-free", ("deform_conv2d_implicit",),
         lambda r: r.space == "shared", False),
    Rule("deform_conv2d_implicit weight copies coalesced", ("deform_conv2d_implicit",),
         lambda r: r.space == "global" and r.op == "cp.async", True),
    # The offsets and mask of a tap are read in tap_point, whichever kernel calls it; g++ attributes
    # the loads to lines of its inlined callees too (even bilinear_point's), or, where it
    # strength-reduces their addresses into for_each_tap's loop, to the loop's own line.
    Rule("deform offset/mask loads coalesced", DEFORM,
         lambda r: r.space == "global" and r.kind == "load"
         and (inside("common/channel_chunks.cuh", "tap_point")(r)
              or at("common/channel_chunks.cuh", r"for \(int tap = 0; tap < taps")(r)),
         True),
    Rule("deform column/output stores coalesced", DEFORM, lambda r: r.space == "global" and r.kind == "store", True),
)


@dataclass(frozen=True)
class Finding:
    rule: Rule
    case_id: str
    params: dict
    kernel: str
    row: LineCounts

    @property
    def excess(self) -> int:
        return self.rule.excess(self.row, self.params)

    @property
    def passed(self) -> bool:
        return self.excess == 0

    def limit(self) -> str:
        return self.rule.limit(self.params)

    def as_dict(self) -> dict:
        return {"rule": self.rule.name, "limit": self.limit(), "case": self.case_id, "kernel": self.kernel,
                "line": self.row.line, "instruction": self.row.instruction(), "requests": self.row.requests,
                "excess": self.excess, "passed": self.passed}


def check(profiles) -> list[Finding]:
    """Every (rule, case, launch, line) the rules apply to, passed or not."""
    found = []
    for profile in profiles:
        for launch in profile.launches:
            name = launch.kernel.split("<")[0].strip()
            for rule in RULES:
                if name in rule.kernels:
                    found += [Finding(rule, profile.case.id, profile.profiled_params, launch.kernel, row)
                              for row in launch.lines if rule.applies(row)]
    return found
