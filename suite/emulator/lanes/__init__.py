"""Lane-loop rewrite of kernels with barriers (docs/DESIGN.md, "Lane loops: the rewrite")."""

from .fission import Fission, fission

__all__ = ["Fission", "fission"]
