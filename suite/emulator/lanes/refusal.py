"""Why a kernel keeps fibers: raised anywhere in the rewrite, caught per kernel."""

from __future__ import annotations

from tree_sitter import Node


class Refused(Exception):
    """The kernel cannot run as lane loops; the message is the one-line reason users see."""


def line_of(node: Node) -> int:
    return node.start_point[0] + 1
