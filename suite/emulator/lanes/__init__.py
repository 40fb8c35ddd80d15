"""Lane-loop rewrite of kernels with barriers (docs/DESIGN.md, "Lane loops: the rewrite")."""

from .fission import Fission, fission, lane_expression

__all__ = ["Fission", "fission", "lane_expression"]
