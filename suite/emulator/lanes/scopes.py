"""Which declaration each name in a kernel's body refers to, and which variables the body writes:
the facts the rewrite needs to decide what lives in a lane array and what is block-uniform."""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from .refusal import Refused, line_of

_SCOPES = {"compound_statement", "for_statement", "for_range_loop", "if_statement", "while_statement",
           "switch_statement", "do_statement", "lambda_expression", "catch_clause"}  # fmt: skip
_DECLARATOR_WRAPPERS = {"init_declarator", "pointer_declarator", "array_declarator", "reference_declarator",
                        "parenthesized_declarator", "attributed_declarator"}  # fmt: skip


@dataclass(eq=False)
class Var:
    """One declared variable of the kernel (a parameter or a local)."""

    name: str
    declaration: Node  # the declaration (or parameter_declaration) that introduces it
    declarator: Node  # its own declarator within it
    parameter: bool
    uses: list[Node] = field(default_factory=list)  # identifier nodes that name it
    writes: list[Node] = field(default_factory=list)  # nodes that assign it or take its address


def declared_name(declarator: Node) -> Node | None:
    """The identifier a declarator declares (`*p`, `a[8]`, `x = 1`, `&r` ...)."""
    while declarator is not None and declarator.type in _DECLARATOR_WRAPPERS:
        declarator = declarator.child_by_field_name("declarator") or next(
            (c for c in declarator.named_children if c.type != "type_qualifier"), None)
    return declarator if declarator is not None and declarator.type == "identifier" else None


def declarators(declaration: Node) -> list[Node]:
    return declaration.children_by_field_name("declarator")


class Scopes:
    """Resolves every identifier of a function body to its Var (None: not a local or parameter)."""

    def __init__(self, function: Node, text: bytes):
        self.text = text
        self.vars: list[Var] = []
        self.of_use: dict[int, Var] = {}  # identifier node id -> Var
        self.of_declarator: dict[int, Var] = {}  # declarator node id -> Var
        self._stack: list[dict[str, Var]] = [{}]
        declarator = function.child_by_field_name("declarator")
        while declarator.type != "function_declarator":
            declarator = declarator.child_by_field_name("declarator")
        for parameter in declarator.child_by_field_name("parameters").named_children:
            if parameter.type == "parameter_declaration" and parameter.child_by_field_name("declarator"):
                self._declare(parameter, parameter.child_by_field_name("declarator"), parameter=True)
        self._walk(function.child_by_field_name("body"))
        self._find_writes(function.child_by_field_name("body"))

    def name(self, node: Node) -> str:
        return self.text[node.start_byte:node.end_byte].decode()

    def _declare(self, declaration: Node, declarator: Node, parameter: bool = False) -> None:
        ident = declared_name(declarator)
        if ident is None:
            raise Refused(f"line {line_of(declarator)}: cannot read the declarator `{self.name(declarator)}`")
        name = self.name(ident)
        if any(name in scope for scope in self._stack):
            raise Refused(f"line {line_of(ident)}: `{name}` shadows another variable of the kernel")
        var = Var(name, declaration, declarator, parameter)
        self.vars.append(var)
        self._stack[-1][name] = var
        self.of_declarator[declarator.id] = var

    def _lookup(self, node: Node) -> Var | None:
        name = self.name(node)
        for scope in reversed(self._stack):
            if name in scope:
                return scope[name]
        return None

    def _walk(self, node: Node) -> None:
        kind = node.type
        if kind in _SCOPES:
            self._stack.append({})
            if kind == "for_range_loop":
                self._walk(node.child_by_field_name("right"))
                self._declare(node, node.child_by_field_name("declarator"))
                self._walk(node.child_by_field_name("body"))
            else:
                for child in node.children:
                    self._walk(child)
            self._stack.pop()
        elif kind == "declaration":
            if node.child_by_field_name("type") is not None:
                self._walk(node.child_by_field_name("type"))  # decltype(x) names x
            for declarator in declarators(node):
                value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
                if value is not None:
                    self._walk(value)
                for size in _array_sizes(declarator):
                    self._walk(size)
                self._declare(node, declarator)
        elif kind in ("parameter_declaration", "optional_parameter_declaration"):  # a lambda's
            if node.child_by_field_name("declarator") is not None:
                self._declare(node, node.child_by_field_name("declarator"))
        elif kind == "identifier":
            var = self._lookup(node)
            if var is not None:
                var.uses.append(node)
                self.of_use[node.id] = var
        elif kind == "field_expression":
            self._walk(node.child_by_field_name("argument"))
        elif kind not in ("qualified_identifier", "template_function", "type_descriptor", "string_literal",
                          "raw_string_literal", "comment", "primitive_type", "type_identifier", "template_type"):
            for child in node.children:  # names of types, functions and members are never a local
                self._walk(child)

    def _find_writes(self, body: Node) -> None:
        """Assignments, increments, address-of and reference bindings of a named variable."""
        stack = [body]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            target = None
            if node.type == "assignment_expression":
                target = node.child_by_field_name("left")
            elif node.type == "update_expression":
                target = node.child_by_field_name("argument")
            elif node.type == "pointer_expression" and node.child_by_field_name("operator").type == "&":
                target = node.child_by_field_name("argument")
            elif node.type == "init_declarator" and node.child_by_field_name("declarator").type == "reference_declarator":
                target = node.child_by_field_name("value")
            var = self._written(target)
            if var is not None:
                var.writes.append(node)

    def _written(self, target: Node | None) -> Var | None:
        """The variable a write to `target` changes: `a[i]` writes the array a, `s.x` writes s, but
        `p[i]` and `p->x` write what the pointer p points to, not p."""
        while target is not None and target.type in ("parenthesized_expression", "subscript_expression",
                                                     "field_expression"):  # fmt: skip
            if target.type == "subscript_expression" and not self._is_array(target):
                return None
            if target.type == "field_expression" and self.name(target.child_by_field_name("operator")) == "->":
                return None
            target = target.child_by_field_name("argument") or (target.named_children or [None])[0]
        return self.of_use.get(target.id) if target is not None else None

    def _is_array(self, subscript: Node) -> bool:
        base = subscript.child_by_field_name("argument")
        var = self.of_use.get(base.id) if base is not None else None
        if var is None:
            return False
        declarator = var.declarator
        if declarator.type == "init_declarator":
            declarator = declarator.child_by_field_name("declarator")
        return declarator.type == "array_declarator"


def _array_sizes(declarator: Node) -> list[Node]:
    sizes, stack = [], [declarator]
    while stack:
        node = stack.pop()
        if node.type == "array_declarator" and node.child_by_field_name("size") is not None:
            sizes.append(node.child_by_field_name("size"))
        stack.extend(c for c in node.children if c.type in _DECLARATOR_WRAPPERS)
    return sizes
