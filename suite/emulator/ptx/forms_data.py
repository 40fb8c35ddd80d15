"""Data movement and bit manipulation: mov (with packing, unpacking and special registers), ld/st in
every state space, cvta, cvt, setp/selp, prmt, shf, lop3, bfe/bfi, logic and shifts, fence/membar."""

from __future__ import annotations

import re

from suite.emulator.ptx.instruction import ctype
from suite.emulator.ptx.registry import PtxError, form
from suite.emulator.ptx.spaces import pointer
from suite.emulator.ptx.values import compute_type, read

_TYPE = r"(?:b|u|s|f)(?:8|16|32|64)|pred|bf16|f16x2|bf16x2"


def _bits(t: str) -> int:
    return {"pred": 1, "bf16": 16, "f16x2": 32, "bf16x2": 32}.get(t) or int(re.sub(r"\D", "", t))


@form(rf"mov\.({_TYPE})")
def mov(ins):
    d, a = ins.operand_count(2)
    t = ins.match.group(1)
    c = ctype(t)
    if a.kind == "vector":  # pack: first element in the low bits
        parts = a.vector()
        w = _bits(t) // len(parts)
        e = f"uint{w}_t" if w >= 8 else None
        if e is None or _bits(t) % len(parts):
            raise PtxError(f"'{ins.opcode}' cannot pack {len(parts)} elements")
        value = " | ".join(f"({c}({p.get(e)}) << {w * i})" for i, p in enumerate(parts))
        return d.set(c, value)
    if d.kind == "vector":  # unpack
        parts = d.vector()
        w = _bits(t) // len(parts)
        e = f"uint{w}_t"
        return " ".join(p.set(e, f"{e}({a.get(c)} >> {w * i})") for i, p in enumerate(parts) if p.kind != "sink")
    return d.set(c, a.get(c))


# ---- memory --------------------------------------------------------------------------------------

_LDST = re.compile(
    r"(ld|st)((?:\.(?:weak|volatile|relaxed|acquire|release|mmio|cta|gpu|sys|cluster))*)"
    r"(?:\.(global|shared|local|param|const)(?:::(?:cta|cluster|entry|func))?)?"
    r"((?:\.(?:nc|ca|cg|cs|lu|cv|wb|wt|L1::\w+|L2::\w+))*)"
    r"(?:\.(v2|v4|v8))?\.(\w+)"
)


def _ldst(ins):
    m = _LDST.fullmatch(ins.opcode)
    kind, space, vec, t = m.group(1), m.group(3), m.group(5), m.group(6)
    if ins.opcode.count(".L2::cache_hint") or "cache_hint" in ins.opcode:
        ops = ins.operand_count(3)[:2]  # the cache policy operand is a hint
    else:
        ops = ins.operand_count(2)
    value, addr = (ops[0], ops[1]) if kind == "ld" else (ops[1], ops[0])
    c = ctype(t)
    n = int(vec[1:]) if vec else 1
    elements = value.vector(n) if vec else [value]
    ptr = pointer(ins, space, addr.address())
    lines = [f"char* __suite_p = {ptr};"]
    for i, e in enumerate(elements):
        at = f"reinterpret_cast<{c}*>(__suite_p + {i * _bits(t) // 8})"
        if kind == "ld":
            lines.append(e.set(c, f"*{at}") if e.kind != "sink" else "")
        else:
            lines.append(f"*{at} = {e.get(c)};")
    return "{ " + " ".join(lines) + " }"


form(_LDST.pattern, "ld/st", ("ld", "st"))(_ldst)


@form(r"cvta(?:\.(to))?\.(global|shared|local|const|param)(?:::cta|::cluster)?\.(u32|u64)")
def cvta(ins):
    d, a = ins.operand_count(2)
    to, space, t = ins.match.groups()
    c = ctype(t)
    if space != "shared":  # one address space on the CPU: generic and global/local/const/param agree
        return d.set(c, a.get(c))
    if to:
        return d.set(c, f"{c}(__suite_cvta_generic_to_shared({a.get('uint64_t')}))")
    return d.set(c, f"{c}(__suite_cvta_shared_to_generic({a.get('uint64_t')}))")


@form(r"isspacep\.(global|shared|local|const|param)(?:::cta)?")
def isspacep(ins):
    p, a = ins.operand_count(2)
    space = ins.match.group(1)
    ptr = f"reinterpret_cast<const void*>(uintptr_t({a.get('uint64_t')}))"
    test = {"shared": f"__isShared({ptr})", "global": f"__isGlobal({ptr})", "local": f"__isLocal({ptr})"}
    return p.set("bool", test.get(space, "false"))


# ---- comparisons and selection -------------------------------------------------------------------

_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "lo": "<", "ls": "<=", "hi": ">",
        "hs": ">="}


def compare(op: str, a: str, b: str, floating: bool) -> str:
    if op in _CMP:
        cmp = f"({a} {_CMP[op]} {b})"
        # ne on floats is ordered in PTX: false when either is NaN
        return f"({cmp} && !__suite_ptx_unordered({a}, {b}))" if floating and op == "ne" else cmp
    if op in ("equ", "neu", "ltu", "leu", "gtu", "geu"):
        base = op[:-1]
        return f"(({a} {_CMP[base]} {b}) || __suite_ptx_unordered({a}, {b}))"
    if op == "num":
        return f"!__suite_ptx_unordered({a}, {b})"
    if op == "nan":
        return f"__suite_ptx_unordered({a}, {b})"
    raise PtxError(f"comparison '.{op}' is not a PTX comparison")


_BOOL = {"and": "&&", "or": "||", "xor": "!="}


@form(r"setp\.(\w+?)(?:\.(and|or|xor))?(?:\.ftz)?\.(b16|b32|b64|u16|u32|u64|s16|s32|s64|f32|f64|f16|bf16)")
def setp(ins):
    op, bop, t = ins.match.groups()
    dest, a, b, *rest = ins.operand_count(4 if bop else 3)
    ct = compute_type(t)
    cond = compare(op, f"{ct}({read(a, t)})", f"{ct}({read(b, t)})", t.startswith(("f", "bf")))
    outs = dest.vector(2) if dest.kind == "vector" else [dest]
    code = [f"const bool __suite_t = {cond};"]
    c = rest[0].get("bool") if bop else None
    code.append(outs[0].set("bool", f"(__suite_t {_BOOL[bop]} {c})" if bop else "__suite_t"))
    if len(outs) == 2:
        code.append(outs[1].set("bool", f"(!__suite_t {_BOOL[bop]} {c})" if bop else "!__suite_t"))
    return "{ " + " ".join(code) + " }"


@form(rf"selp\.({_TYPE})")
def selp(ins):
    d, a, b, p = ins.operand_count(4)
    c = ctype(ins.match.group(1))
    return d.set(c, f"({p.get('bool')} ? {a.get(c)} : {b.get(c)})")


# ---- bit manipulation ----------------------------------------------------------------------------

@form(r"prmt\.b32(?:\.(f4e|b4e|rc8|ecl|ecr|rc16))?")
def prmt(ins):
    d, a, b, c = ins.operand_count(4)
    mode = ins.match.group(1) or ""
    return d.set("uint32_t", f'__suite_ptx_prmt({a.get("uint32_t")}, {b.get("uint32_t")}, {c.get("uint32_t")}, '
                 f'"{mode}")')


@form(r"shf\.(l|r)\.(wrap|clamp)\.b32")
def shf(ins):
    d, a, b, c = ins.operand_count(4)
    left, wrap = ins.match.group(1) == "l", ins.match.group(2) == "wrap"
    return d.set("uint32_t", f"__suite_ptx_shf({a.get('uint32_t')}, {b.get('uint32_t')}, {c.get('uint32_t')}, "
                 f"{str(left).lower()}, {str(wrap).lower()})")


@form(r"lop3\.b32")
def lop3(ins):
    d, a, b, c, lut = ins.operand_count(5)
    return d.set("uint32_t", f"__suite_ptx_lop3({a.get('uint32_t')}, {b.get('uint32_t')}, {c.get('uint32_t')}, "
                 f"{lut.get('uint32_t')})")


@form(r"bfe\.(u32|u64|s32|s64)")
def bfe(ins):
    d, a, b, c = ins.operand_count(4)
    t = ins.match.group(1)
    ct = ctype(t)
    return d.set(ct, f"__suite_ptx_bfe<{ct}>({a.get(ct)}, {b.get('uint32_t')}, {c.get('uint32_t')})")


@form(r"bfi\.(b32|b64)")
def bfi(ins):
    f, a, b, c, d = ins.operand_count(5)
    ct = ctype(ins.match.group(1))
    return f.set(ct, f"__suite_ptx_bfi<{ct}>({a.get(ct)}, {b.get(ct)}, {c.get('uint32_t')}, {d.get('uint32_t')})")


@form(r"(and|or|xor)\.(pred|b16|b32|b64)")
def logic(ins):
    d, a, b = ins.operand_count(3)
    op, t = ins.match.groups()
    c = ctype(t)
    sym = {"and": "&", "or": "|", "xor": "^"}[op]
    return d.set(c, f"{c}({a.get(c)} {sym} {b.get(c)})")


@form(r"not\.(pred|b16|b32|b64)")
def not_(ins):
    d, a = ins.operand_count(2)
    c = ctype(ins.match.group(1))
    return d.set(c, f"{c}(!{a.get(c)})" if c == "bool" else f"{c}(~{a.get(c)})")


@form(r"cnot\.(b16|b32|b64)")
def cnot(ins):
    d, a = ins.operand_count(2)
    c = ctype(ins.match.group(1))
    return d.set(c, f"{c}({a.get(c)} == 0)")


@form(r"(shl|shr)\.(b16|b32|b64|u16|u32|u64|s16|s32|s64)")
def shift(ins):
    d, a, b = ins.operand_count(3)
    op, t = ins.match.groups()
    c = ctype(t)
    return d.set(c, f"__suite_ptx_{op}<{c}>({a.get(c)}, {b.get('uint32_t')})")


@form(r"(popc|clz|brev)\.(b32|b64)")
def bitcount(ins):
    d, a = ins.operand_count(2)
    op, t = ins.match.groups()
    c = ctype(t)
    out = "uint32_t" if op != "brev" else c
    return d.set(out, f"__suite_ptx_{op}<{c}>({a.get(c)})")


@form(r"createpolicy\.(fractional|range)(?:\.L2::\w+)+\.b64", "createpolicy", ("createpolicy",))
def createpolicy(ins):
    # A cache policy only steers the L2: on the CPU every policy is the same (0).
    return ins.operand_count(2, 3)[0].set("uint64_t", "uint64_t(0)")


@form(r"(prefetch|prefetchu)(?:\.(?:global|local|L1|L2|L2::evict_last|L2::evict_normal|tensormap))*"
      r"(?:\.L[12])?", "prefetch", ("prefetch", "prefetchu"))
def prefetch(ins):
    ins.operand_count(1)
    return ""


@form(r"(fence|membar)(?:\.[\w:]+)*", "fence/membar")
def fence(ins):
    # fence.proxy.tensormap::generic names the tensor map it orders ([addr], 128): same full fence.
    ins.operand_count(2 if ins.opcode.startswith("fence.proxy.tensormap") else 0)
    # One block runs on one OS thread and the blocks' memory is coherent: a full fence suffices.
    return "__threadfence();"  # a function: the translated text is compiled preprocessed (no macros)
