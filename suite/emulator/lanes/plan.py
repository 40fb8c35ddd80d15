"""The plan of a rewritten kernel: what its body becomes, item by item, before any text is written.
A sequence of the body (or of a block-uniform control statement) is a list of these items."""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from .cuda_text import BLOCK_VOTES

LANE = "[__suite_lane]"  # indexes a lane array at the lane a region loop is at


@dataclass
class Region:
    """Statements run as one loop over the block's lanes (SUITE_LANES_FOR)."""

    number: int
    statements: list = field(default_factory=list)  # statement nodes, and Votes (their predicates)


@dataclass
class Shuffle:
    """`x = SHFL(...)`, `x op= SHFL(...)` or `T x = SHFL(...)`: a __shfl*_sync with the full mask, a
    32-thread tile's shfl*, or cg::reduce over such a tile. Runs between regions over lane arrays."""

    statement: Node
    call: Node
    number: int  # names its result array
    # `x op= SHFL(...)` as a whole statement: applied to every lane right after the shuffle (all
    # lanes are live there), with no region loop; None: the statement starts the next region
    update: str | None
    name: str  # as the kernel calls it, for fault messages
    mode: str  # Shfl's Idx, Up, Down or Xor; or Reduce (cg::reduce)
    value: Node  # the local variable whose lanes are shuffled
    lane: Node | None  # srcLane, delta or laneMask (None for Reduce)
    width: Node | None
    op: str | None  # cg::reduce's functor
    tile: bool  # a tile's: a partial warp is a smaller tile, not a fault


@dataclass
class Vote:
    """A warp vote (__ballot_sync, __any_sync, __all_sync) or a block vote (__syncthreads_count,
    _and, _or): each lane's predicate is stored at the end of the region before it, the vote runs
    over them between regions, and the statement reads the result in the next region."""

    statement: Node
    call: Node
    number: int
    name: str

    def result(self) -> str:
        if self.name in BLOCK_VOTES:
            return f"__suite_vote_{self.number}"  # the same for the whole block: one variable
        return f"{'' if self.name == '__ballot_sync' else 'int'}(__suite_vote_{self.number}{LANE})"


@dataclass
class Control:
    node: Node  # for / while / do / if / compound statement
    parts: list[list]  # the plans of its bodies (if: then, else)


@dataclass
class Uniform:
    node: Node  # a declaration of block-uniform constants or of __shared__ memory: once per block
