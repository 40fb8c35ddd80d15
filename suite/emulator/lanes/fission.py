"""Kernels with barriers as lane loops: finds the `__global__` definitions of a source whose bodies
wait for other threads (__syncthreads, __syncwarp, warp shuffles), rewrites each it can
(rewrite.py) into a function `__suite_lanes_<kernel>` that runs one block, and says why for each
it cannot. Pure text to text; the build appends `code` after the user's source."""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter
import tree_sitter_cpp
from tree_sitter import Node

from suite.emulator import diagnostics

from .cuda_text import REWRITE_TRIGGER, SYNC_CALL, blank_comments, blank_cuda_words, is_marked
from .refusal import Refused, line_of
from .render import KernelText
from .rewrite import KernelRewrite
from .scopes import declared_name, declarators

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_cpp.language()))


@dataclass(frozen=True)
class Fission:
    code: str  # C++ to append after the user's source (may be ""), with #line directives
    lane_functions: dict[str, str]  # kernel name as written in the source (unqualified) -> generated function name
    refused: dict[str, str]  # kernel name -> one-line reason it keeps fibers


def fission(source_text: str, path: str) -> Fission:
    source = source_text.encode()
    parsed = blank_cuda_words(source)
    root = _PARSER.parse(parsed).root_node
    blanked = blank_comments(parsed, root)  # same offsets, same tree
    constants = _file_constants(root, blanked)
    functions = list(_function_definitions(root))
    pure = _pure_functions(functions, blanked)
    waiting = {_name(f, blanked) for f in functions if not _is_kernel(f, source) and _names(f, blanked, SYNC_CALL)}
    kernels = [f for f in functions if _is_kernel(f, source) and _names(f, blanked, REWRITE_TRIGGER)]
    names = [_name(k, blanked) for k in kernels]
    pieces, lane_functions, refused = [], {}, {}
    for kernel, name in zip(kernels, names):
        try:
            if names.count(name) > 1:
                raise Refused(f"`{name}` is overloaded")
            if name is None or not re.fullmatch(r"\w+", name):
                raise Refused(f"line {line_of(kernel)}: `{name}` is defined outside its namespace or is an explicit "
                              "specialization")  # fmt: skip
            body = blanked[kernel.child_by_field_name("body").start_byte:kernel.end_byte].decode()
            for helper in waiting:
                if helper and re.search(rf"\b{re.escape(helper)}\s*\(", body):
                    raise Refused(f"it calls `{helper}`, which waits for other threads")
            known = {**constants, **_template_constants(kernel, blanked)}
            pieces.append(_lane_function(kernel, name, source, blanked, path, known, pure))
            lane_functions[name] = f"__suite_lanes_{name}"
        except Refused as reason:
            # "line 12: why" -> "kernel.cu:12: why", as compilers name a place
            refused[name] = re.sub(r"^line (\d+): ", lambda m: f"{diagnostics.relative(path)}:{m.group(1)}: ", str(reason))
        except Exception as error:  # a bug of the rewrite must not stop the build: the kernel keeps fibers
            refused[name] = f"the lane rewrite failed on it ({type(error).__name__}: {error}); please report it"
    code = ""
    if pieces:
        code = "\n" + "\n".join(pieces) + "\n"
    return Fission(code, lane_functions, refused)


_NAME_EXPRESSION = re.compile(r"^\s*((?:::)?\s*(?:\w+\s*::\s*)*)(\w+)(\s*<.*)?$", re.S)


def kernel_name(name_expression: str) -> str | None:
    """The kernel a name expression names, as its definition spells it: `ops::k<float, 4>` -> `k`."""
    match = _NAME_EXPRESSION.match(name_expression)
    return match.group(2) if match else None


def lane_expression(name_expression: str, lane_functions: dict[str, str]) -> str | None:
    """The lane function of a kernel name expression, for the launcher: `ops::k<float, 4>` ->
    `ops::__suite_lanes_k<float, 4>`; None when that kernel was not rewritten."""
    match = _NAME_EXPRESSION.match(name_expression)
    if match is None or match.group(2) not in lane_functions:
        return None
    return f"{match.group(1)}{lane_functions[match.group(2)]}{match.group(3) or ''}"


def _function_definitions(root: Node):
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            yield node
        else:
            stack.extend(reversed(node.children))


def _is_kernel(function: Node, source: bytes) -> bool:
    return is_marked(function, source, "__global__")


def _names(function: Node, text: bytes, pattern: re.Pattern) -> bool:
    body = function.child_by_field_name("body")
    return body is not None and pattern.search(text[body.start_byte:body.end_byte].decode()) is not None


def _name(function: Node, text: bytes) -> str | None:
    declarator = function.child_by_field_name("declarator")
    while declarator is not None and declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    if declarator is None:
        return None
    name = declarator.child_by_field_name("declarator")
    return text[name.start_byte:name.end_byte].decode()


_CONSTANT_WORDS = {"sizeof", "alignof", "int", "unsigned", "long", "short", "char", "float", "double", "bool", "true",
                   "false", "blockIdx", "blockDim", "gridDim", "warpSize"}  # fmt: skip


def _pure_functions(functions: list[Node], text: bytes) -> set[str]:
    """Functions of the file a block-uniform expression may call: constexpr ones without pointer or
    reference parameters (what they compute depends on their arguments only)."""
    pure = set()
    for function in functions:
        declarator = function.child_by_field_name("declarator")
        while declarator is not None and declarator.type != "function_declarator":
            declarator = declarator.child_by_field_name("declarator")
        if declarator is None:
            continue
        head = _text(function, text)[: declarator.start_byte - function.start_byte]
        parameters = _text(declarator.child_by_field_name("parameters"), text)
        if re.search(r"\bconstexpr\b", head) and not re.search(r"[*&]", parameters):
            pure.add(_text(declarator.child_by_field_name("declarator"), text))
    return pure


def _file_constants(root: Node, text: bytes) -> dict[str, str]:
    """Names the whole file sees as constants: object-like macros of constant expressions,
    const/constexpr variables at namespace scope, enumerators. Name -> value text."""
    candidates: dict[str, str] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "preproc_def" and node.child_by_field_name("value") is not None:
            value = node.child_by_field_name("value")
            candidates[_text(node.child_by_field_name("name"), text)] = _text(value, text)
        elif node.type == "declaration" and node.parent is not None and node.parent.type in (
                "translation_unit", "declaration_list"):  # fmt: skip
            if any(c.type == "type_qualifier" and _text(c, text) in ("const", "constexpr") for c in node.children):
                for declarator in declarators(node):
                    ident = declared_name(declarator)
                    value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
                    if value is not None and declarator.child_by_field_name("declarator").type == "identifier":
                        candidates[_text(ident, text)] = _text(value, text)
        elif node.type == "enumerator":
            candidates[_text(node.child_by_field_name("name"), text)] = ""
            continue
        if node.type in ("function_definition",):
            continue  # locals are the rewrite's to judge
        stack.extend(node.children)
    # A constant's value names only literals, other constants and the block's builtins (never
    # threadIdx, memory or a call).
    constants: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, value in candidates.items():
            words = re.findall(r"(?<![\w.])[A-Za-z_]\w*", value)
            reads_memory = re.search(r"[\[\]{}\"';]|->", value)
            known = all(w in constants or w in _CONSTANT_WORDS for w in words)
            if name not in constants and known and not reads_memory:
                constants[name] = value.strip()
                changed = True
    return constants


def _template_constants(kernel: Node, text: bytes) -> dict[str, str]:
    template = kernel.parent if kernel.parent is not None and kernel.parent.type == "template_declaration" else None
    if template is None:
        return {}
    names = {}
    for parameter in template.child_by_field_name("parameters").named_children:
        if parameter.type in ("parameter_declaration", "optional_parameter_declaration"):
            ident = declared_name(parameter.child_by_field_name("declarator"))
            if ident is not None:
                names[_text(ident, text)] = ""
    return names


def _text(node: Node, text: bytes) -> str:
    return text[node.start_byte:node.end_byte].decode()


def _lane_function(kernel: Node, name: str, source: bytes, blanked: bytes, path: str, constants: dict[str, str],
                   pure: set[str]) -> str:
    rewrite = KernelRewrite(kernel, source, blanked, path, constants, pure)
    header = ""
    if kernel.parent is not None and kernel.parent.type == "template_declaration":
        header = source[kernel.parent.start_byte:kernel.start_byte].decode()
    declarator = kernel.child_by_field_name("declarator")
    while declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    parameters = _text(declarator.child_by_field_name("parameters"), source)
    opened, closed = [], []
    ancestor = kernel.parent
    while ancestor is not None:
        if ancestor.type == "namespace_definition":
            space = ancestor.child_by_field_name("name")
            opened.insert(0, f"namespace {_text(space, source) if space is not None else ''} {{")
            closed.append("}")
        ancestor = ancestor.parent
    return "\n".join([
        *opened,
        rewrite.line(kernel).strip("\n"),
        f"{header}void __suite_lanes_{name}{parameters} {{",
        KernelText(rewrite).function_body(),
        "}",
        *closed,
    ])
