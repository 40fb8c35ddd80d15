"""One kernel with barriers planned as lane loops (MCUDA's deep fission): its body is cut at every
barrier, shuffle and vote into regions, each to be a loop over the block's threads; the control
statements around them stay ordinary C++ when block-uniform, else the kernel is refused; locals
that live across regions become lane arrays. The whole plan comes before any text (render.py),
since whether a variable is a lane array depends on all its uses."""

from __future__ import annotations

from tree_sitter import Node

from .cuda_text import (BARRIERS, BLOCK_VOTES, GROUP_REDUCE, GROUP_SYNC, OTHER_WAITS, REDUCE_OPS, SHUFFLES, SYNC_CALL,
                        TILE_QUERIES, TILE_SHUFFLES, TILED_PARTITION, VOTES, full_mask, is_marked)
from .liveness import Effect, live_after_regions
from .plan import LANE, Control, Region, Shuffle, Uniform, Vote
from .refusal import Refused, line_of
from .scopes import Scopes, Var, declarators
from .uniform import Uniformity

# Statements that run nothing: a `using namespace`, a type alias, a static_assert.
_COMPILE_TIME = {"using_declaration", "alias_declaration", "type_definition", "static_assert_declaration",
                 "namespace_alias_definition"}  # fmt: skip


class KernelRewrite:
    """The plan of one kernel, and the facts about its variables the text needs. Raises Refused."""

    def __init__(self, function: Node, source: bytes, blanked: bytes, path: str, constants: dict[str, str],
                 pure: set[str]):
        self.function, self.source, self.blanked, self.path = function, source, blanked, path
        body = self.body = function.child_by_field_name("body")
        if function.has_error:
            raise Refused(f"line {line_of(function)}: the C++ grammar could not read the kernel")
        text = self.scanned(body)
        wait = OTHER_WAITS.search(text)
        if wait:
            line = line_of(body) + text[: wait.start()].count("\n")
            raise Refused(f"line {line}: `{wait.group(0)}` waits for other threads in a way lane loops do not model")
        self.scopes = Scopes(function, blanked)
        self.uniform = Uniformity(self.scopes, constants, pure)
        self.regions = 0
        self.shuffles: list[Shuffle] = []
        self.tiles: set[int] = set()  # Var ids of the kernel's 32-thread tiles of the block
        self.collectives: list[Node] = []  # the calls of the shuffles and barriers the rewrite runs
        self.votes: list[Vote] = []
        self.call_results: dict[int, str] = {}  # collective call node id -> what the region reads instead
        self.sequence_level: set[int] = set()  # declarations directly in a cut sequence
        self.zones: list[tuple[int, int, object]] = []  # (start byte, end byte, zone) of region code
        self._refuse_jumps(body)
        self.plan = self._sequence(self._statements(body))
        self._check_tile_uses()
        self.lanes = self._lane_vars()
        # Lane scalars no pointer reaches: a region works on them in plain locals of their own names
        # (the kernel's text unchanged), loaded from their lane arrays and stored back when live.
        self.promoted = {id(v) for v in self.scopes.vars
                         if id(v) in self.lanes and not self.lane_type(v)[1] and not self._address_escapes(v)}
        self.live_after = live_after_regions(self.plan, self._effect)

    # -- source text -----------------------------------------------------------------------------

    def text(self, node: Node, start: int | None = None, end: int | None = None) -> str:
        return self.source[node.start_byte if start is None else start: node.end_byte if end is None else end].decode()

    def line(self, node: Node) -> str:
        quoted = self.path.replace("\\", "\\\\").replace('"', '\\"')
        return f'\n#line {line_of(node)} "{quoted}"\n'

    # -- planning --------------------------------------------------------------------------------

    def _refuse_jumps(self, body: Node) -> None:
        stack = [body]
        while stack:
            node = stack.pop()
            if node.type in ("goto_statement", "labeled_statement"):
                raise Refused(f"line {line_of(node)}: goto and labels are not rewritten")
            if node.type.startswith("preproc"):
                raise Refused(f"line {line_of(node)}: preprocessor conditionals and definitions in the kernel body")
            stack.extend(node.children)

    @staticmethod
    def _statements(node: Node) -> list[Node]:
        if node.type == "compound_statement":
            return [c for c in node.named_children if c.type != "comment"]
        return [node]

    def scanned(self, node: Node) -> str:
        """The node's code as the scans for calls read it: comments and CUDA words blanked."""
        return self.blanked[node.start_byte:node.end_byte].decode()

    def _syncs(self, node: Node) -> bool:
        return SYNC_CALL.search(self.scanned(node)) is not None

    def _sequence(self, nodes: list[Node]) -> list:
        items: list = []
        region: Region | None = None

        def close():
            nonlocal region
            if region is not None and region.statements:
                self._zone_region(region)
                items.append(region)
            region = None

        def add(node: Node):
            nonlocal region
            if region is None:
                self.regions += 1
                region = Region(self.regions)
            region.statements.append(node)

        for node in nodes:
            if node.type in _COMPILE_TIME or node.type == "declaration" and (
                    is_marked(node, self.source, "__shared__") or self._uniform_declaration(node)):  # fmt: skip
                # before the open region: it reads no memory and no per-thread value (static shared
                # memory is one copy per block wherever it is declared), and later regions see it
                items.append(Uniform(node))
            elif node.type == "declaration" and not self._syncs(node):
                if any(c.type == "storage_class_specifier" for c in node.children):
                    raise Refused(f"line {line_of(node)}: a static local in a kernel with barriers")
                self._tile_declaration(node)
                self.sequence_level.add(node.id)
                add(node)
            elif not self._syncs(node):
                add(node)
            elif self._barrier(node):
                close()
            elif (call := self._vote(node)) is not None:
                vote = Vote(node, call, len(self.votes), self.text(call.child_by_field_name("function")))
                self.votes.append(vote)
                add(vote)  # the predicate, in the region before the vote
                predicate = call.child_by_field_name("arguments").named_children[-1]
                self.zones.append((predicate.start_byte, predicate.end_byte, region.number))
                self.call_results[call.id] = vote.result()
                close()
                items.append(vote)
                if node.type == "declaration":
                    self.sequence_level.add(node.id)
                add(node)
            elif (shuffle := self._shuffle(node)) is not None:
                close()
                self.shuffles.append(shuffle)
                self.call_results[shuffle.call.id] = f"__suite_shfl_{shuffle.number}{LANE}"
                items.append(shuffle)
                if node.type == "declaration":
                    self.sequence_level.add(node.id)
                    add(node)
                whole = shuffle.call if shuffle.update is None else node
                self.zones.append((whole.start_byte, whole.end_byte, ("shuffle", shuffle.number)))
            else:
                close()
                items.append(Control(node, self._control(node)))
        close()
        return items

    def _zone_region(self, region: Region) -> None:
        for node in region.statements:
            if not isinstance(node, Vote):  # a vote's predicate was zoned when added
                self.zones.append((node.start_byte, node.end_byte, region.number))

    def _barrier(self, node: Node) -> bool:
        """A barrier as a statement of its own (a cut between regions): `__syncthreads();`,
        `__syncwarp(mask);`, or the block's or a 32-thread tile's `g.sync();` / `cg::sync(g);`."""
        call = node.named_children[0] if node.type == "expression_statement" and node.named_children else None
        if call is None or call.type != "call_expression":
            return False
        function, arguments = call.child_by_field_name("function"), call.child_by_field_name("arguments").named_children
        group_sync = function.type == "field_expression" and self.text(function.child_by_field_name("field")) == "sync"
        if group_sync and not arguments and (self.uniform.block_group(function.child_by_field_name("argument"))
                                             or self._tile(function.child_by_field_name("argument"))):  # fmt: skip
            self.collectives.append(call)  # a tile's sync is a __syncwarp: a block barrier here, stronger
            return True
        if GROUP_SYNC.match(self.text(function)) and len(arguments) == 1 and (
                self.uniform.block_group(arguments[0]) or self._tile(arguments[0])):  # fmt: skip
            self.collectives.append(call)
            return True
        if self.text(function) not in BARRIERS:
            return False
        for argument in arguments:
            reason = self.uniform.why_not(argument)
            if reason:
                raise Refused(f"line {line_of(node)}: the mask of __syncwarp is not block-uniform: {reason}")
        return True

    def _statement_call(self, node: Node) -> Node | None:
        """The call of `x = CALL(...)`, `x op= CALL(...)` or `T x = CALL(...)`."""
        expression = node.named_children[0] if node.type == "expression_statement" and node.named_children else None
        if expression is not None and expression.type == "assignment_expression":
            target, call = expression.child_by_field_name("left"), expression.child_by_field_name("right")
            if target.type != "identifier" or target.id not in self.scopes.of_use:
                return None
        elif node.type == "declaration" and [d.type for d in declarators(node)] == ["init_declarator"]:
            call = declarators(node)[0].child_by_field_name("value")
        else:
            return None
        return call if call is not None and call.type == "call_expression" else None

    def _collective_call(self, node: Node, names) -> Node | None:
        """The call of those statement forms when CALL is in `names`."""
        call = self._statement_call(node)
        return call if self._function(call) in names else None

    def _function(self, call: Node | None) -> str | None:
        """The called name of a call expression (None for anything else)."""
        if call is None or call.type != "call_expression":
            return None
        return self.text(call.child_by_field_name("function"))

    def _vote(self, node: Node) -> Node | None:
        """The vote call of `x = VOTE(...)` (and the other forms), checked: a warp vote with the full
        mask, or a block vote (__syncthreads_count/and/or)."""
        call = self._collective_call(node, {**VOTES, **BLOCK_VOTES})
        if call is None:
            return None
        name = self.text(call.child_by_field_name("function"))
        arguments = call.child_by_field_name("arguments").named_children
        if len(arguments) != (2 if name in VOTES else 1):
            raise Refused(f"line {line_of(node)}: {name} with {len(arguments)} argument(s)")
        if name in VOTES and not self._full_mask(arguments[0]):
            raise Refused(f"line {line_of(node)}: {name} with a mask other than 0xffffffff")
        return call

    def _shuffle(self, node: Node) -> Shuffle | None:
        """`x = SHFL(...)` (and the other statement forms) as a Shuffle, checked; None for other statements."""
        call = self._statement_call(node)
        if call is None:
            return None
        function, arguments = call.child_by_field_name("function"), call.child_by_field_name("arguments").named_children
        name, where = self.text(function), f"line {line_of(node)}"
        width = op = None
        if name in SHUFFLES:
            if len(arguments) not in (3, 4):
                raise Refused(f"{where}: {name} takes 3 or 4 arguments")
            if not self._full_mask(arguments[0]):
                raise Refused(f"{where}: {name} with a mask other than 0xffffffff")
            mode, value, lane, tile = SHUFFLES[name], arguments[1], arguments[2], False
            width = arguments[3] if len(arguments) == 4 else None
        elif function.type == "field_expression" and self.text(function.child_by_field_name("field")) in TILE_SHUFFLES:
            if not self._tile(function.child_by_field_name("argument")):
                return None
            if len(arguments) != 2:
                raise Refused(f"{where}: {name} with {len(arguments)} argument(s)")
            mode, value, lane, tile = TILE_SHUFFLES[self.text(function.child_by_field_name("field"))], *arguments, True
        elif GROUP_REDUCE.match(name):
            if len(arguments) != 3 or not self._tile(arguments[0]) or not self._stateless(arguments[2]):
                raise Refused(f"{where}: {name} over a group other than a 32-thread tile of the block, or with an "
                              "operator other than cg's functors, a function or a lambda that captures nothing")  # fmt: skip
            mode, value, lane, tile, op = "Reduce", arguments[1], None, True, self.text(arguments[2])
        else:
            return None
        for argument in (lane, width):
            reason = self.uniform.why_not(argument) if argument is not None else None
            if reason:
                raise Refused(f"{where}: the lane argument of {name} is not block-uniform: {reason}")
        var = self.scopes.of_use.get(value.id)
        if var is None or var.parameter or self.uniform.is_uniform_var(var):
            raise Refused(f"{where}: {name} of `{self.text(value)}`: lane loops shuffle a per-thread "
                          "local variable only")  # fmt: skip
        update = self.text(node.named_children[0].child_by_field_name("operator")) if node.type != "declaration" else None
        self.collectives.append(call)
        return Shuffle(node, call, len(self.shuffles), update, name, mode, value, lane, width, op, tile)

    def _stateless(self, op: Node) -> bool:
        """Whether cg::reduce's operator is the same in every thread: one of cg's functors, a function
        of the file (a name that is no local), or a lambda that captures nothing."""
        if op.type == "identifier":
            return op.id not in self.scopes.of_use
        if op.type == "lambda_expression":
            captures = op.child_by_field_name("captures")
            return captures is not None and not captures.named_children
        return REDUCE_OPS.match(self.text(op)) is not None

    def _tile(self, node: Node) -> bool:
        """Whether `node` names a 32-thread tile of the block (a local from tiled_partition<32>)."""
        var = self.scopes.of_use.get(node.id) if node.type == "identifier" else None
        return var is not None and id(var) in self.tiles

    def _tile_declaration(self, node: Node) -> None:
        """Records `thread_block_tile<32> t = tiled_partition<32>(block);` (t never written): a tile
        is per warp, so a lane variable, whose shuffles and reductions the rewrite runs."""
        call = self._statement_call(node) if node.type == "declaration" else None
        if call is None or not TILED_PARTITION.match(self.text(call.child_by_field_name("function"))):
            return
        arguments = call.child_by_field_name("arguments").named_children
        if len(arguments) == 1 and self.uniform.block_group(arguments[0]):
            var = self.scopes.of_declarator[declarators(node)[0].id]
            if not var.writes:
                self.tiles.add(id(var))

    def _check_tile_uses(self) -> None:
        """A tile may be asked who a thread is, and take part in the collectives the rewrite runs;
        anything else done with it (another collective, passing it on) keeps fibers."""
        for var in self.scopes.vars:
            if id(var) not in self.tiles:
                continue
            for use in var.uses:
                parent = use.parent
                query = (parent.type == "field_expression" and parent.parent.type == "call_expression"
                         and self.text(parent.child_by_field_name("field")) in TILE_QUERIES)  # fmt: skip
                inside = any(c.start_byte <= use.start_byte < c.end_byte for c in self.collectives)
                if not (query or inside):
                    raise Refused(f"line {line_of(use)}: the tile `{var.name}` is used in a way lane loops do not "
                                  f"model (`{self.text(parent)}`)")  # fmt: skip

    def _full_mask(self, node: Node) -> bool:
        """0xffffffff as a literal, or a file-level constant or macro defined as one."""
        text = self.text(node)
        return full_mask(self.uniform.constants.get(text, "") if node.type == "identifier" else text)

    def _control(self, node: Node) -> list[list]:
        kind = node.type
        where = f"line {line_of(node)}"
        if kind == "compound_statement":
            return [self._sequence(self._statements(node))]
        if kind == "if_statement":
            condition = node.child_by_field_name("condition")
            if any(c.type in ("declaration", "init_statement") for c in condition.named_children):
                raise Refused(f"{where}: an `if` with a declaration around a barrier")
            self._require_uniform(condition, f"{where}: the condition of this `if` around a barrier")
            parts = [self._sequence(self._statements(node.child_by_field_name("consequence")))]
            alternative = node.child_by_field_name("alternative")
            if alternative is not None:
                statement = alternative.named_children[-1] if alternative.type == "else_clause" else alternative
                parts.append(self._sequence(self._statements(statement)))
            return parts
        if kind in ("while_statement", "do_statement"):
            condition = node.child_by_field_name("condition")
            self._require_uniform(condition, f"{where}: the condition of this loop around a barrier")
            return [self._sequence(self._statements(node.child_by_field_name("body")))]
        if kind == "for_statement":
            self._uniform_for_header(node)
            return [self._sequence(self._statements(node.child_by_field_name("body")))]
        found = SYNC_CALL.search(self.scanned(node)).group(0).strip(". (")
        raise Refused(f"{where}: `{found}` inside {_describe(node)}, not as a statement of its own at a "
                      "block-uniform point")  # fmt: skip

    def _require_uniform(self, node: Node | None, what: str) -> None:
        reason = self.uniform.why_not(node) if node is not None else None
        if reason:
            raise Refused(f"{what} is not block-uniform: {reason}")

    def _uniform_for_header(self, node: Node) -> None:
        where = f"line {line_of(node)}: this `for` around a barrier"
        init = node.child_by_field_name("initializer")
        body = node.child_by_field_name("body")
        if init is not None:
            if init.type != "declaration":
                raise Refused(f"{where} does not declare its loop variable")
            for declarator in declarators(init):
                var = self.scopes.of_declarator[declarator.id]
                value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
                if value is None:
                    raise Refused(f"{where}: `{var.name}` has no initial value")
                self._require_uniform(value, f"{where}: the initial value of `{var.name}`")
                if any(body.start_byte <= w.start_byte < body.end_byte for w in var.writes):
                    raise Refused(f"{where}: its body changes `{var.name}`")
                self.uniform.add(var)
        self._require_uniform(node.child_by_field_name("condition"), f"{where}: its condition")
        update = node.child_by_field_name("update")
        if update is not None:
            self._require_uniform_update(update, where)

    def _require_uniform_update(self, node: Node, where: str) -> None:
        if node.type == "comma_expression":
            for part in node.named_children:
                self._require_uniform_update(part, where)
            return
        if node.type == "assignment_expression":
            target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        elif node.type == "update_expression":
            target, value = node.child_by_field_name("argument"), None
        else:
            raise Refused(f"{where}: cannot read its increment `{self.text(node)}`")
        var = self.scopes.of_use.get(target.id)
        if var is None or not self.uniform.is_uniform_var(var):
            raise Refused(f"{where}: its increment changes `{self.text(target)}`, not a block-uniform loop variable")
        self._require_uniform(value, f"{where}: its increment")

    def _uniform_declaration(self, node: Node) -> bool:
        """Whether a declaration only names block-uniform constants (never written, uniform values):
        those stay plain variables, once per block. Records them as uniform."""
        if self._syncs(node) or any(c.type == "storage_class_specifier" for c in node.children):
            return False
        variables = []
        for declarator in declarators(node):
            if declarator.type != "init_declarator" or declarator.child_by_field_name("declarator").type not in (
                    "identifier", "pointer_declarator"):  # fmt: skip
                return False
            var = self.scopes.of_declarator[declarator.id]
            value = declarator.child_by_field_name("value")
            if var.writes or value.type in ("initializer_list", "argument_list") or self.uniform.why_not(value):
                return False
            variables.append(var)
        for var in variables:
            self.uniform.add(var)
            value = var.declarator.child_by_field_name("value")
            if self.uniform.block_group(value):
                self.uniform.block_groups.add(id(var))
        return bool(variables)

    def _check_array_size(self, size: Node, var: Var) -> None:
        """A lane array's size is spelled where the function body starts the statement declaring
        it: it may name only uniform locals declared directly in the body."""
        stack = [size]
        while stack:
            node = stack.pop()
            named = self.scopes.of_use.get(node.id)
            if named is not None and not (self.uniform.is_uniform_var(named) and named.declaration.parent == self.body):
                raise Refused(f"line {line_of(size)}: the size of `{var.name}`, which lives across a barrier, names "
                              f"`{named.name}`, not a constant of the kernel's outermost block")  # fmt: skip
            stack.extend(node.children)

    # -- lane arrays -----------------------------------------------------------------------------

    def _zone(self, node: Node):
        """The region (or shuffle) a use lies in; "uniform" outside regions. Innermost range wins."""
        best = None
        for start, end, zone in self.zones:
            if start <= node.start_byte < end and (best is None or end - start < best[1] - best[0]):
                best = (start, end, zone)
        return "uniform" if best is None else best[2]

    def _lane_vars(self) -> dict[int, str]:
        """Var id -> name of its lane array: locals of cut sequences used in more than one region,
        and parameters the kernel writes (each thread has its own copy)."""
        lanes: dict[int, str] = {}
        for index, var in enumerate(self.scopes.vars):
            if self.uniform.is_uniform_var(var):
                continue
            if var.parameter:
                if var.writes:
                    lanes[id(var)] = f"__suite_p_{var.name}"
                continue
            if var.declaration.id not in self.sequence_level:
                continue
            zones = {self._zone(var.declarator)} | {self._zone(use) for use in var.uses}
            if len(zones) > 1 or self._address_escapes(var):
                lanes[id(var)] = f"__suite_v{index}_{var.name}"
        return lanes

    @staticmethod
    def _address_escapes(var: Var) -> bool:
        """Whether a pointer to the variable may outlive its region (`&x`, a reference to it, an
        array used other than by subscript): then it lives in a lane array, which outlives them all."""
        if any(w.type in ("pointer_expression", "init_declarator") for w in var.writes):
            return True
        declarator = var.declarator
        if declarator.type == "init_declarator":
            declarator = declarator.child_by_field_name("declarator")
        return declarator.type == "array_declarator" and any(
            use.parent.type != "subscript_expression" or use.parent.child_by_field_name("argument") != use
            for use in var.uses)  # fmt: skip

    def lane_type(self, var: Var) -> tuple[str, str]:
        """(element type, array dimensions) of a variable's lane array, spelled for the function's top."""
        declaration = var.declaration
        base = declaration.child_by_field_name("type")
        base_text = " ".join(self.blanked[base.start_byte:base.end_byte].decode().split())
        if "auto" in base_text.split() or "decltype" in base_text:
            raise Refused(f"line {line_of(declaration)}: `{var.name}` lives across a barrier and its type is "
                          f"`{base_text}`; spell the type")  # fmt: skip
        qualifiers = [self.text(c) for c in declaration.children if c.type == "type_qualifier"]
        declarator = var.declarator
        if declarator.type == "init_declarator":
            declarator = declarator.child_by_field_name("declarator")
        levels: list[list[str]] = []  # qualifiers of each pointer level, outermost first
        dims = ""
        while declarator.type != "identifier":
            if declarator.type == "pointer_declarator" and not dims:
                levels.append([self.text(c) for c in declarator.children if c.type == "type_qualifier"])
            elif declarator.type == "array_declarator" and not levels:
                size = declarator.child_by_field_name("size")
                if size is None:
                    raise Refused(f"line {line_of(declaration)}: `{var.name}` has no array size")
                self._check_array_size(size, var)
                dims = f"[{self.text(size)}]" + dims
            else:
                raise Refused(f"line {line_of(declaration)}: `{var.name}` lives across a barrier and its "
                              f"declarator `{self.text(var.declarator)}` is not a plain variable, pointer or array")  # fmt: skip
            declarator = declarator.child_by_field_name("declarator")
        # the variable's own qualifiers go (the lane array is written); those of what it points to stay
        pointers = "".join("*" + "".join(" " + q for q in level) for level in levels[:-1]) + ("*" if levels else "")
        if not levels:
            qualifiers = [q for q in qualifiers if q not in ("const", "constexpr")]
        element = " ".join([*qualifiers, base_text]) + pointers
        return element, dims

    # -- for the text and the liveness ----------------------------------------------------------

    def declared(self, declaration: Node) -> list[Var]:
        return [self.scopes.of_declarator[d.id] for d in declarators(declaration) if d.id in self.scopes.of_declarator]

    def uses_within(self, var: Var, nodes) -> list[Node]:
        """The uses of `var` that the code of `nodes` evaluates: inside one of them, and not in the
        arguments of a collective it contains (those run before, between regions)."""
        replaced = [item.call for item in [*self.shuffles, *self.votes]]

        def evaluated(use: Node, node: Node) -> bool:
            return node.start_byte <= use.start_byte < node.end_byte and not any(
                node.start_byte <= c.start_byte and c.end_byte <= node.end_byte and c.start_byte <= use.start_byte < c.end_byte
                for c in replaced)  # fmt: skip

        return [u for u in var.uses if any(evaluated(u, n) for n in nodes)]

    @staticmethod
    def entries(region: Region) -> list[Node]:
        """The code of a region's entries: its statements, and the predicates of its votes."""
        return [n.call.child_by_field_name("arguments").named_children[-1] if isinstance(n, Vote) else n
                for n in region.statements]  # fmt: skip

    def _effect(self, item) -> Effect:
        """For liveness: the lane variables an item reads before writing them, and those it surely writes."""
        if isinstance(item, Shuffle):
            value = self.scopes.of_use[item.value.id]
            target = None
            if item.update is not None:
                target = self.scopes.of_use[item.statement.named_children[0].child_by_field_name("left").id]
            uses = {id(value)} | ({id(target)} if target is not None and item.update != "=" else set())
            return Effect(frozenset(uses), frozenset({id(target)} if item.update == "=" else ()))
        exposed, defined = set(), set()
        for entry in self.entries(item):
            defs, skip = set(), set()  # what the entry surely writes, and the identifier that writes it
            if entry.type == "declaration":
                defs = {id(v) for v in self.declared(entry)}
            elif entry.type == "expression_statement" and entry.named_children and (
                    entry.named_children[0].type == "assignment_expression"
                    and self.text(entry.named_children[0].child_by_field_name("operator")) == "="):  # fmt: skip
                left = entry.named_children[0].child_by_field_name("left")
                if left.id in self.scopes.of_use:
                    defs, skip = {id(self.scopes.of_use[left.id])}, {left.id}
            for var in self.scopes.vars:
                if id(var) in self.lanes and any(u.id not in skip for u in self.uses_within(var, [entry])):
                    if id(var) not in defined:
                        exposed.add(id(var))
            defined |= defs
        return Effect(frozenset(exposed), frozenset(defined))


def _describe(node: Node) -> str:
    return {"switch_statement": "a switch", "lambda_expression": "a lambda", "declaration": "a declaration",
            "expression_statement": "an expression", "for_range_loop": "a range for",
            "return_statement": "a return statement"}.get(node.type, f"a {node.type.replace('_', ' ')}")  # fmt: skip
