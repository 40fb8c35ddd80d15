"""Which lane variables are live at the end of each region (read later before being written), so
that a region copies back only those from its registers into their lane arrays. Everything else
stays as the kernel wrote it: g++ sees the same dataflow in a region as in the fiber build, and
fuses the same products into FMAs (-ffp-contract=fast), which keeps the bits equal.

Classic backward liveness over the plan's structured control: a region kills what it defines before
any use at its top level and generates its other uses; a shuffle uses its value (and its target for
`x op= SHFL`) and defines its target for `x = SHFL`; a loop is iterated to its fixpoint. Variables
are ids (the rewrite's Var ids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .plan import Control, Region, Shuffle


@dataclass(frozen=True)
class Effect:
    """What an item does to lane variables: reads before any write (`uses`), certain writes (`defs`)."""

    uses: frozenset[int]
    defs: frozenset[int]


_LOOPS = ("for_statement", "while_statement", "do_statement")


def live_after_regions(plan: list, effect: Callable[[object], Effect]) -> dict[int, frozenset[int]]:
    """Region number -> the lane variables live when it ends (a superset: never too few)."""
    live_after: dict[int, frozenset[int]] = {}

    def sequence(items: list, after: frozenset[int]) -> frozenset[int]:
        live = after
        for item in reversed(items):
            if isinstance(item, Region):
                live_after[item.number] = live
            if isinstance(item, (Region, Shuffle)):
                e = effect(item)
                live = (live - e.defs) | e.uses
            elif isinstance(item, Control):
                live = control(item, live)
        return live

    def control(item: Control, after: frozenset[int]) -> frozenset[int]:
        if item.node.type in _LOOPS:
            # the body may run again after itself, or not at all: iterate to the fixpoint
            live = after
            while True:
                grown = after | sequence(item.parts[0], live)
                if grown == live:
                    return live
                live = grown
        if item.node.type == "if_statement":
            branches = [sequence(part, after) for part in item.parts]
            return frozenset().union(*branches, after if len(item.parts) == 1 else frozenset())
        return sequence(item.parts[0], after)  # a block

    sequence(plan, frozenset())
    return live_after
