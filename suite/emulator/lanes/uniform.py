"""Block-uniform expressions: the same value in every thread of a block, so that control statements
around barriers may run once per block instead of once per lane. Only what can be shown: literals,
uniform variables, blockIdx/blockDim/gridDim, warpSize, file-level constants, sizeof, casts, pure
arithmetic, a few pure functions and the file's constexpr functions of values. Memory reads and
other calls are not."""

from __future__ import annotations

from tree_sitter import Node

from .cuda_text import BLOCK_GROUP
from .scopes import Scopes, Var

_BLOCK_BUILTINS = {"blockIdx", "blockDim", "gridDim", "warpSize"}
_PURE_FUNCTIONS = {"min", "max", "std::min", "std::max", "abs", "std::abs", "static_cast", "int", "unsigned"}
# What a cooperative-groups thread_block answers the same in every thread.
_BLOCK_GROUP_METHODS = {"size", "num_threads", "group_dim", "dim_threads", "group_index"}
_LITERALS = {"number_literal", "true", "false", "char_literal", "null", "nullptr", "sizeof_expression",
             "alignof_expression", "string_literal"}  # fmt: skip
_TRANSPARENT = {"binary_expression", "unary_expression", "parenthesized_expression", "conditional_expression",
                "comma_expression", "cast_expression", "argument_list", "condition_clause"}  # fmt: skip


class Uniformity:
    """Answers "is this expression block-uniform?" with the reason when it is not."""

    def __init__(self, scopes: Scopes, constants: dict[str, str], pure: set[str]):
        self.scopes = scopes
        # file-level constant names (macros, constexpr, enumerators, template parameters) -> value text
        self.constants = constants
        self.pure = _PURE_FUNCTIONS | pure  # and the file's constexpr functions of values
        self.uniform_vars: set[int] = {id(v) for v in scopes.vars if v.parameter and not v.writes}
        self.block_groups: set[int] = set()  # uniform locals holding this_thread_block()

    def add(self, var: Var) -> None:
        self.uniform_vars.add(id(var))

    def is_uniform_var(self, var: Var) -> bool:
        return id(var) in self.uniform_vars

    def block_group(self, node: Node) -> bool:
        """Whether `node` is the block's cooperative group: a local holding this_thread_block(), or
        the call itself."""
        if node.type == "identifier":
            var = self.scopes.of_use.get(node.id)
            return var is not None and id(var) in self.block_groups
        function = node.child_by_field_name("function") if node.type == "call_expression" else None
        return function is not None and BLOCK_GROUP.match(self.scopes.name(function)) is not None

    def block_group_method(self, function: Node, methods=_BLOCK_GROUP_METHODS) -> bool:
        """Whether a called `function` is `g.method` of the block's group, with method in `methods`."""
        return (function.type == "field_expression" and self.scopes.name(function.child_by_field_name("field")) in methods
                and self.block_group(function.child_by_field_name("argument")))  # fmt: skip

    def why_not(self, node: Node) -> str | None:
        """None when `node` is block-uniform, else what makes it vary (or what cannot be shown)."""
        kind, text = node.type, self.scopes.name(node)
        if kind in _LITERALS or not node.is_named:
            return None
        if kind == "identifier":
            var = self.scopes.of_use.get(node.id)
            if var is not None:
                return None if self.is_uniform_var(var) else f"`{text}` may differ between threads"
            if text in _BLOCK_BUILTINS or text in self.constants:
                return None
            if text == "threadIdx":
                return "it depends on threadIdx"
            return f"`{text}` is not known to be a constant"
        if kind == "field_expression":
            base = node.child_by_field_name("argument")
            if self.scopes.name(node.child_by_field_name("operator")) != ".":
                return f"`{text}` reads memory"
            return self.why_not(base)
        if kind in _TRANSPARENT:
            for child in node.named_children:
                if child.type == "type_descriptor":
                    continue
                reason = self.why_not(child)
                if reason:
                    return reason
            return None
        if kind == "call_expression":
            function = node.child_by_field_name("function")
            if self.block_group_method(function):
                return None
            if function.type == "field_expression" and self.block_group(function.child_by_field_name("argument")):
                return f"`{text}` differs between threads"
            if function.type == "template_function":
                function = function.child_by_field_name("name")
            name = self.scopes.name(function)
            if name.replace(" ", "") not in self.pure and not BLOCK_GROUP.match(name):
                return f"the call `{name}(...)` is not known to be pure"
            return self.why_not(node.child_by_field_name("arguments"))
        if kind == "pointer_expression":
            return f"`{text}` reads memory" if self.scopes.name(node.child_by_field_name("operator")) == "*" else (
                self.why_not(node.child_by_field_name("argument")))
        if kind == "subscript_expression":
            return f"`{text}` reads memory"
        return f"`{text}` cannot be shown to be the same in every thread"
