"""PTX text of one asm statement -> C++ statements through the registry: `{ }` scopes, `.reg`
declarations, `@p` guards and instructions separated by `;` or newlines, operands parsed into
registers, immediates, vectors `{a, b}` and addresses `[base+offset]`."""

from __future__ import annotations

import re

from suite.emulator.ptx.instruction import Instruction, Operand, ctype
from suite.emulator.ptx.registry import PtxError, lookup

# Special registers -> C++ (include/emu/ptx/sreg.h).
_SREGS = {
    "%laneid": "__suite_ptx_sreg_laneid()", "%warpid": "__suite_ptx_sreg_warpid()",
    "%smid": "__suite_ptx_sreg_smid()", "%nsmid": "__suite_ptx_sreg_nsmid()",
    "%clock": "__suite_ptx_sreg_clock()", "%clock64": "__suite_ptx_sreg_clock64()",
    "%globaltimer": "__suite_ptx_sreg_globaltimer()",
    "%lanemask_eq": "__suite_ptx_sreg_lanemask(0)", "%lanemask_lt": "__suite_ptx_sreg_lanemask(1)",
    "%lanemask_le": "__suite_ptx_sreg_lanemask(2)", "%lanemask_gt": "__suite_ptx_sreg_lanemask(3)",
    "%lanemask_ge": "__suite_ptx_sreg_lanemask(4)",
}
for _i, _axis in enumerate("xyz"):
    for _name, _field in (("tid", "thread_idx"), ("ctaid", "block_idx"), ("ntid", "block_dim"), ("nctaid", "grid_dim")):
        _SREGS[f"%{_name}.{_axis}"] = f"__suite_ptx_sreg(&suite_host_thread::{_field}, {_i})"

_NAME = r"%?[A-Za-z_$][\w$]*"
_INT = re.compile(r"^(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)[uU]?$")
_F32 = re.compile(r"^0[fF]([0-9a-fA-F]{8})$")
_F64 = re.compile(r"^0[dD]([0-9a-fA-F]{16})$")
_DECIMAL = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")


def strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S)


def split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def statements(text: str) -> list[str]:
    """Instructions, '.reg ...' declarations and the braces of scopes, in order. A '{' opens a scope
    where a statement starts; inside an instruction it opens a vector operand."""
    out, cur, depth = [], [], 0
    for ch in strip_comments(text):
        pending = "".join(cur).strip()
        if ch == "{" and pending:
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch in ";\n{}" and not (ch == "\n" and depth):
            if pending:
                out.append(pending)
            cur = []
            if ch in "{}":
                out.append(ch)
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


class Scope:
    """The registers in scope: PTX names -> C++ lvalues (declared .reg, or bound asm operands)."""

    def __init__(self, bound: dict[str, str]):
        self.frames = [{name: (cxx, None) for name, cxx in bound.items()}]

    def lookup(self, name: str) -> tuple[str, str | None] | None:
        """(C++ lvalue, declared PTX type or None for a bound operand)."""
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        return None

    def declare(self, name: str, ptx_type: str) -> str:
        cxx = "__suite_r_" + re.sub(r"[^\w]", lambda m: "_p" if m.group() == "%" else "_d", name)
        self.frames[-1][name] = (cxx, ptx_type)
        return cxx


def parse_value(text: str, scope: Scope) -> Operand:
    t = text.strip()
    if t == "_":
        return Operand(t, "sink")
    negated = t.startswith("!")
    if negated:
        t = t[1:].strip()
    if (found := scope.lookup(t)) is not None:
        return Operand(text, "value", found[0], lvalue=True, negated=negated, ptx_type=found[1])
    if t in _SREGS:
        return Operand(text, "value", _SREGS[t])
    if m := _INT.match(t):
        value = int(m.group(2), 0) if not re.fullmatch(r"0[0-7]+", m.group(2)) else int(m.group(2), 8)
        value = -value if m.group(1) else value
        return Operand(text, "value", f"int64_t({value}ll)" if value >= -(2**63) and value < 2**63 else
                       f"uint64_t({value}ull)", immediate=value)
    if m := _F32.match(t):
        return Operand(text, "value", f"__suite_ptx_f32(0x{m.group(1)}u)")
    if m := _F64.match(t):
        return Operand(text, "value", f"__suite_ptx_f64(0x{m.group(1)}ull)")
    if _DECIMAL.match(t):
        return Operand(text, "value", f"double({float(t)!r})")
    if re.fullmatch(_NAME, t):
        raise PtxError(f"operand '{t}' is not a declared register, an asm operand or a special register")
    raise PtxError(f"operand '{text}' is not understood")


def parse_operand(text: str, scope: Scope) -> Operand:
    t = text.strip()
    if "|" in t and not t.startswith(("{", "[")):  # setp's two destinations p|q
        return Operand(t, "vector", elements=[parse_value(x, scope) for x in t.split("|")])
    if t.startswith("{") and t.endswith("}"):
        return Operand(t, "vector", elements=[parse_value(x, scope) for x in split_top(t[1:-1])])
    if t.startswith("[") and t.endswith("]") and len(split_top(t[1:-1])) == 2:  # [tensorMap, {coords}] (TMA)
        map_text, coords = split_top(t[1:-1])
        tensor = parse_operand(f"[{map_text}]", scope)
        tensor.text, tensor.elements = t, parse_operand(coords, scope).vector()
        return tensor
    if t.startswith("[") and t.endswith("]"):
        inner = t[1:-1].replace(" ", "")
        m = re.fullmatch(r"(.+?)(?:([+-])(0[xX][0-9a-fA-F]+|\d+))?", inner)
        base, sign, off = m.group(1), m.group(2), m.group(3)
        offset = (int(off, 0) if off else 0) * (-1 if sign == "-" else 1)
        if _INT.match(base):  # [immediate]
            return Operand(t, "address", f"uint64_t({int(base, 0)}ull)", offset=offset)
        b = parse_value(base, scope)
        if b.kind != "value":
            raise PtxError(f"address '{t}' has no base register")
        return Operand(t, "address", b.expr, offset=offset)
    return parse_value(t, scope)


def _declare(decl: str, scope: Scope) -> str:
    """.reg .b32 a, b<4>; -> C++ declarations (zero-initialised)."""
    m = re.fullmatch(r"\.reg\s+(?:\.v[24]\s+)?\.(\w+)\s+(.+)", decl, flags=re.S)
    if not m:
        raise PtxError(f"declaration '{decl}' is not emulated (only .reg declarations are)")
    t = m.group(1)
    c = ctype(t)
    out = []
    for item in split_top(m.group(2)):
        if mm := re.fullmatch(rf"({_NAME})\s*<\s*(\d+)\s*>", item):
            names = [f"{mm.group(1)}{i}" for i in range(int(mm.group(2)))]
        elif re.fullmatch(_NAME, item):
            names = [item]
        else:
            raise PtxError(f"register name '{item}' in '{decl}' is not understood")
        out += [f"{c} {scope.declare(n, t)} = {c}();" for n in names]
    return " ".join(out)


def translate_ptx(text: str, bound: dict[str, str], site: str) -> str:
    """The C++ statements for PTX `text`, whose operand names in `bound` are C++ lvalues."""
    scope = Scope(bound)
    out = []
    for st in statements(text):
        if st == "{":
            scope.frames.append({})
            out.append("{")
        elif st == "}":
            if len(scope.frames) == 1:
                raise PtxError("unbalanced '}' in the asm text")
            scope.frames.pop()
            out.append("}")
        elif st.startswith(".reg"):
            out.append(_declare(st, scope))
        elif re.fullmatch(rf"{_NAME}\s*:", st) or re.match(rf"{_NAME}\s*:", st):
            raise PtxError(f"label '{st.split(':')[0].strip()}': branches and labels in inline PTX are not emulated")
        elif st.startswith("."):
            raise PtxError(f"directive '{st.split()[0]}' is not emulated in inline PTX")
        else:
            out.append(_instruction(st, scope, site))
    if len(scope.frames) != 1:
        raise PtxError("unbalanced '{' in the asm text")
    return " ".join(out)


def _instruction(st: str, scope: Scope, site: str) -> str:
    guard = None
    if m := re.match(r"@\s*(!?)\s*([^\s]+)\s+", st):
        guard = parse_value(m.group(1) + m.group(2), scope)
        st = st[m.end():]
    opcode, rest = re.match(r"(\S+)\s*(.*)", st, flags=re.S).groups()
    form, match = lookup(opcode)
    operands = [parse_operand(x, scope) for x in split_top(rest)] if rest else []
    code = form.emit(Instruction(opcode, operands, match, site))
    if guard is not None:
        code = f"if ({guard.get('bool')}) {{ {code} }}"
    return code
