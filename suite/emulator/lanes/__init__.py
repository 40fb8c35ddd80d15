"""Lane-loop rewrite of kernels with barriers (docs/DESIGN.md, "Lane loops: the rewrite")."""

from .fission import Fission, fission, kernel_name, lane_expression

__all__ = ["Fission", "fission", "kernel_name", "lane_expression"]
