"""The text of a rewritten kernel's lane function, from its plan (rewrite.py): lane arrays allocated
once per block, regions as SUITE_LANES_FOR loops whose statements are the kernel's own text (lane
scalars as locals of their names, loaded at the start and stored back when live), shuffles and
votes as calls into lanes_ops.h between regions, uniform control statements around them."""

from __future__ import annotations

from tree_sitter import Node

from .cuda_text import BLOCK_VOTES, VOTES
from .plan import LANE, Control, Region, Shuffle, Uniform, Vote
from .refusal import Refused, line_of
from .rewrite import KernelRewrite
from .scopes import Var, declarators

_LOOPS = {"for_statement", "for_range_loop", "while_statement", "do_statement"}


class KernelText:
    """The body of `__suite_lanes_<kernel>` for a planned kernel."""

    def __init__(self, kernel: KernelRewrite):
        self.kernel = kernel

    def function_body(self) -> str:
        """Parameters the kernel writes copied into lane arrays, then the plan; each lane array is
        allocated (once per block) just before the outermost statement that declares it."""
        lines = []
        for var in self.kernel.scopes.vars:
            if var.parameter and id(var) in self.kernel.lanes:
                lines.append(self._lane_array(self.kernel.lanes[id(var)], var))
                lines.append(f"for (unsigned __suite_i = 0; __suite_i < ::suite_host::lanes::current().size; "
                             f"++__suite_i) {self.kernel.lanes[id(var)]}[__suite_i] = {var.name};")  # fmt: skip
        for vote in self.kernel.votes:  # plain int arrays: the predicate is stored in an earlier item
            lines.append(f"auto __suite_pred_{vote.number} = ::suite_host::lanes::lane_array<int>();")
            if vote.name in VOTES:
                lines.append(f"auto __suite_vote_{vote.number} = ::suite_host::lanes::lane_array<unsigned>();")
        allocated = set()  # a shuffle's statement is in its own item and in the region after it
        for item in self.kernel.plan:
            start, end = _extent(item)
            for var in self.kernel.scopes.vars:
                if var.parameter or id(var) not in self.kernel.lanes or id(var) in allocated:
                    continue
                if start <= var.declarator.start_byte < end:
                    allocated.add(id(var))
                    lines.append(self._lane_array(self.kernel.lanes[id(var)], var))
            for shuffle in self.kernel.shuffles:
                if shuffle.update is None and start <= shuffle.statement.start_byte < end and id(shuffle) not in allocated:
                    allocated.add(id(shuffle))
                    value = self.kernel.scopes.of_use[shuffle.value.id]
                    lines.append(self._lane_array(f"__suite_shfl_{shuffle.number}", value))
            lines.append(self._render_items([item]))
        return "\n".join(lines)

    def _lane_array(self, name: str, var: Var) -> str:
        element, dims = self.kernel.lane_type(var)
        return f"auto {name} = ::suite_host::lanes::lane_array<{element}{dims}>();"

    def _indexed(self, var: Var) -> bool:
        """Whether the region code reads `var` as `array[__suite_lane]` (a lane array, not promoted)."""
        return id(var) in self.kernel.lanes and id(var) not in self.kernel.promoted

    def _region_vars(self, region: Region) -> list[Var]:
        """The promoted variables a region names, in declaration order."""
        entries = self.kernel.entries(region)
        return [v for v in self.kernel.scopes.vars if id(v) in self.kernel.promoted and (
            self.kernel.uses_within(v, entries) or any(n.start_byte <= v.declarator.start_byte < n.end_byte for n in entries))]

    def _writes_in(self, var: Var, region: Region) -> bool:
        entries = self.kernel.entries(region)
        declared = any(n.start_byte <= var.declarator.start_byte < n.end_byte for n in entries)
        return declared or any(n.start_byte <= w.start_byte < n.end_byte for w in var.writes for n in entries)

    def _render_items(self, items: list) -> str:
        out = []
        for item in items:
            if isinstance(item, Region):
                out.append(f"\nSUITE_LANES_FOR({item.number})")
                declared = {id(v) for n in item.statements if isinstance(n, Node) and n.type == "declaration"
                            for v in self.kernel.declared(n)}  # fmt: skip
                for var in self._region_vars(item):
                    if id(var) not in declared:
                        out.append(f"\n{self.kernel.lane_type(var)[0]} {var.name} = {self.kernel.lanes[id(var)]}{LANE};")
                for node in item.statements:
                    if isinstance(node, Vote):
                        predicate = node.call.child_by_field_name("arguments").named_children[-1]
                        out.append(f"{self.kernel.line(predicate)}__suite_pred_{node.number}{LANE} = "
                                   f"({self._render(predicate, item.number)}) != 0;")  # fmt: skip
                    else:
                        out.append(self.kernel.line(node) + self._render(node, item.number))
                for var in self._region_vars(item):
                    if id(var) in self.kernel.live_after[item.number] and self._writes_in(var, item):
                        out.append(f"\n{self.kernel.lanes[id(var)]}{LANE} = {var.name};")
                out.append(f"\nSUITE_LANES_END({item.number})")
            elif isinstance(item, Uniform):
                out.append(self.kernel.line(item.node) + self.kernel.text(item.node))
            elif isinstance(item, Vote) and item.name in BLOCK_VOTES:
                out.append(f"{self.kernel.line(item.statement)}const int __suite_vote_{item.number} = "
                           f"::suite_host::lanes::block_vote({BLOCK_VOTES[item.name]}, __suite_pred_{item.number});")  # fmt: skip
            elif isinstance(item, Vote):
                out.append(f"{self.kernel.line(item.statement)}::suite_host::lanes::vote(SUITE_HOST_SITE, \"{item.name}\", "
                           f"::suite_host::lanes::Vote::{VOTES[item.name]}, __suite_pred_{item.number}, "
                           f"__suite_vote_{item.number});")  # fmt: skip
            elif isinstance(item, Shuffle):
                out.append(self.kernel.line(item.statement) + self._shuffle(item))
            else:
                out.append(self._render_control(item))
        return "".join(out)

    def _shuffle(self, item: Shuffle) -> str:
        """The call into lanes_ops.h that runs a Shuffle over the block's lanes: its results go to the
        shuffle's result array, or for `x op= SHFL(...)` as a statement straight into x's."""
        k = self.kernel
        value = k.lanes[id(k.scopes.of_use[item.value.id])]
        if item.update is None:
            sink = f"[&](unsigned __suite_l, const auto& __suite_r) {{ __suite_shfl_{item.number}[__suite_l] = __suite_r; }}"
        else:
            target = k.lanes[id(k.scopes.of_use[item.statement.named_children[0].child_by_field_name("left").id])]
            sink = f"[&](unsigned __suite_l, const auto& __suite_r) {{ {target}[__suite_l] {item.update} __suite_r; }}"
        if item.mode == "Reduce":
            return f'::suite_host::lanes::tile_reduce(SUITE_HOST_SITE, "{item.name}", {value}, {item.op}, {sink});'
        width = f"int({k.text(item.width)})" if item.width is not None else "32"
        return (f'::suite_host::lanes::shuffle(SUITE_HOST_SITE, "{item.name}", ::suite_host::Shfl::{item.mode}, '
                f"{'true' if item.tile else 'false'}, {value}, unsigned({k.text(item.lane)}), {width}, {sink});")

    def _render_control(self, item: Control) -> str:
        node = item.node
        if node.type == "compound_statement":
            return "\n{" + self._render_items(item.parts[0]) + "\n}"
        if node.type == "do_statement":
            body = node.child_by_field_name("body")
            return (self.kernel.line(node) + "do {" + self._render_items(item.parts[0]) + "\n}" + self.kernel.line(body)
                    + self.kernel.text(node, start=body.end_byte))  # fmt: skip
        if node.type == "if_statement":
            consequence = node.child_by_field_name("consequence")
            head = self.kernel.line(node) + self.kernel.text(node, end=consequence.start_byte)
            text = head + "{" + self._render_items(item.parts[0]) + "\n}"
            if len(item.parts) > 1:
                text += "\nelse {" + self._render_items(item.parts[1]) + "\n}"
            return text
        body = node.child_by_field_name("body")  # for, while
        return self.kernel.line(node) + self.kernel.text(node, end=body.start_byte) + "{" + self._render_items(item.parts[0]) + "\n}"

    def _render(self, node: Node, region: int | None, loops: int = 0, switches: int = 0) -> str:
        """A region statement's text: lane variables indexed, `return;` ends the lane."""
        kind = node.type
        var = self.kernel.scopes.of_use.get(node.id) if kind == "identifier" else None
        if var is not None and id(var) in self.kernel.lanes and id(var) not in self.kernel.promoted:
            return self.kernel.lanes[id(var)] + LANE
        if kind == "return_statement" and region is not None:
            return f"SUITE_LANES_EXIT({region});"
        if kind in ("break_statement", "continue_statement") and region is not None:
            if loops == 0 and (kind == "continue_statement" or switches == 0):
                raise Refused(f"line {line_of(node)}: `{self.kernel.text(node)}` leaves a region for a loop around a barrier")
        if kind == "lambda_expression":
            return self._render_children(node, None, loops, switches)  # its returns and jumps are its own
        if kind == "decltype":
            rendered = self._render_children(node, region, loops, switches)
            if LANE in rendered:  # decltype(x[__suite_lane]) is a reference: not x's type
                raise Refused(f"line {line_of(node)}: `{self.kernel.text(node)}` names a variable that lives across a barrier")
            return rendered
        if node.id in self.kernel.call_results:
            return self.kernel.call_results[node.id]
        if kind == "declaration" and any(self._indexed(v) for v in self.kernel.declared(node)):
            return self._render_lane_declaration(node, region)
        if kind in _LOOPS:
            loops += 1
        if kind == "switch_statement":
            switches += 1
        return self._render_children(node, region, loops, switches)

    def _render_children(self, node: Node, region: int | None, loops: int, switches: int) -> str:
        out, at = [], node.start_byte
        for child in node.children:
            out.append(self.kernel.source[at:child.start_byte].decode())
            out.append(self._render(child, region, loops, switches))
            at = child.end_byte
        out.append(self.kernel.source[at:node.end_byte].decode())
        return "".join(out)

    def _render_lane_declaration(self, node: Node, region: int) -> str:
        prefix = self.kernel.text(node, end=_first_declarator(node).start_byte)
        out = []
        for declarator in declarators(node):
            var = self.kernel.scopes.of_declarator[declarator.id]
            if not self._indexed(var):
                out.append(prefix + self._render(declarator, region) + ";")
                continue
            value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
            if value is None:
                continue
            target = self.kernel.lanes[id(var)] + LANE
            element, dims = self.kernel.lane_type(var)
            rendered = self._render(value, region)
            if dims:
                out.append(f"{{ {element} __suite_init{dims} = {rendered}; "
                           f"__builtin_memcpy({target}, __suite_init, sizeof __suite_init); }}")  # fmt: skip
            elif value.type == "argument_list":
                out.append(f"{target} = {element}{rendered};")
            elif value.type == "initializer_list":
                out.append(f"{target} = {element}{rendered};")
            else:
                out.append(f"{target} = {rendered};")
        return " ".join(out) if out else ";"

def _extent(item) -> tuple[int, int]:
    """The bytes of the source a plan item covers."""
    if isinstance(item, Region):
        first, last = (s.call if isinstance(s, Vote) else s for s in (item.statements[0], item.statements[-1]))
        return first.start_byte, last.end_byte
    node = item.statement if isinstance(item, (Shuffle, Vote)) else item.node
    return node.start_byte, node.end_byte


def _first_declarator(node: Node) -> Node:
    return declarators(node)[0] if declarators(node) else node
