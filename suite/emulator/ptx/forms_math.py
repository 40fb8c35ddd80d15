"""Arithmetic: add/sub/mul/fma/mad/div/min/max/neg/abs on floats (rounding modes, .ftz, .sat, packed
f16x2/bf16x2) and integers (.lo/.hi/.wide, .sat), and the special functions (.approx and .rn)."""

from __future__ import annotations

from suite.emulator.ptx.instruction import ctype
from suite.emulator.ptx.registry import PtxError, form

_MODE = {None: "__SUITE_RN", "rn": "__SUITE_RN", "rz": "__SUITE_RZ", "rm": "__SUITE_RM", "rp": "__SUITE_RP",
         "approx": "__SUITE_RN", "full": "__SUITE_RN"}
_INT = r"u16|u32|u64|s16|s32|s64"
_HALF = r"f16|f16x2|bf16|bf16x2"


def _float_result(d, t: str, value: str, ftz: bool, sat: bool) -> str:
    v = f"__suite_ptx_ftz({value})" if ftz else value
    v = f"__suite_ptx_satf({v})" if sat else v
    return d.set(ctype(t), v)


def _args(ops, t, ftz):
    c = ctype(t)
    return [f"__suite_ptx_ftz({o.get(c)})" if ftz else o.get(c) for o in ops]


_OPS3 = {"add": "x + y", "sub": "x - y", "mul": "x * y", "fma": "x * y + z", "mad": "x * y + z"}


def _half_op(ins, t: str, expr: str, sat: bool = False, relu: bool = False) -> str:
    """A 16-bit float (pair) instruction whose result is `expr` of x, y, z in double, rounded once."""
    d, *srcs = ins.operands
    bf = "true" if t.startswith("bf") else "false"
    body = expr
    if sat:
        body = f"__suite_ptx_satf<double>({body})"
    if relu:
        body = f"[](double v) {{ return v < 0 ? 0.0 : v; }}({body})"
    fn = f"[](double x, double y, double z) {{ (void)x; (void)y; (void)z; return {body}; }}"
    if t.endswith("x2"):
        a = [s.get("uint32_t") for s in srcs] + ["0u"] * (3 - len(srcs))
        return d.set("uint32_t", f"__suite_ptx_x2<{bf}>({', '.join(a)}, {fn})")
    a = [s.get("uint16_t") for s in srcs] + ["uint16_t(0)"] * (3 - len(srcs))
    return d.set("uint16_t", f"__suite_ptx_x1<{bf}>({', '.join(a)}, {fn})")


@form(rf"(add|sub|mul)(?:\.(rn))?(\.ftz)?(\.sat)?\.({_HALF})", "add/sub/mul f16/bf16", ("add", "sub", "mul"))
def half_arith(ins):
    ins.operand_count(3)
    op, _, _, sat, t = ins.match.groups()
    return _half_op(ins, t, _OPS3[op], sat=bool(sat))


@form(rf"fma\.rn(\.ftz)?(\.sat)?(\.relu)?(?:\.oob)?\.({_HALF})", "fma f16/bf16", ("fma",))
def half_fma(ins):
    ins.operand_count(4)
    _, sat, relu, t = ins.match.groups()
    return _half_op(ins, t, "x * y + z", sat=bool(sat), relu=bool(relu))


@form(rf"(min|max)(\.ftz)?(\.NaN)?(?:\.xorsign\.abs)?\.({_HALF})", "min/max f16/bf16", ("min", "max"))
def half_minmax(ins):
    ins.operand_count(3)
    op, _, nan, t = ins.match.groups()
    if "xorsign" in ins.opcode:
        raise PtxError(f"'{ins.opcode}': .xorsign.abs is not emulated")
    return _half_op(ins, t, f"__suite_ptx_{op}<double>(x, y, {str(bool(nan)).lower()})")


@form(rf"(neg|abs)(\.ftz)?\.({_HALF})", "neg/abs f16/bf16", ("neg", "abs"))
def half_sign(ins):
    d, a = ins.operand_count(2)
    op, _, t = ins.match.groups()
    c = "uint32_t" if t.endswith("x2") else "uint16_t"
    mask = "0x80008000u" if t.endswith("x2") else "0x8000u"
    return d.set(c, f"{c}({a.get(c)} ^ {mask})" if op == "neg" else f"{c}({a.get(c)} & ~{mask})")


@form(r"(add|sub|mul)(?:\.(rn|rz|rm|rp))?(\.ftz)?(\.sat)?\.(f32|f64)", "add/sub/mul f32/f64", ("add", "sub", "mul"))
def float_arith(ins):
    d, a, b = ins.operand_count(3)
    op, mode, ftz, sat, t = ins.match.groups()
    x, y = _args([a, b], t, ftz)
    return _float_result(d, t, f"__suite_ptx_{op}({x}, {y}, {_MODE[mode]})", bool(ftz), bool(sat))


@form(r"(fma|mad)\.(rn|rz|rm|rp)(\.ftz)?(\.sat)?\.(f32|f64)", "fma/mad f32/f64", ("fma", "mad"))
def float_fma(ins):
    d, a, b, c = ins.operand_count(4)
    _, mode, ftz, sat, t = ins.match.groups()
    x, y, z = _args([a, b, c], t, ftz)
    return _float_result(d, t, f"__suite_ptx_fma({x}, {y}, {z}, {_MODE[mode]})", bool(ftz), bool(sat))


@form(r"div\.(approx|full|rn|rz|rm|rp)(\.ftz)?\.(f32|f64)", "div f32/f64", ("div",))
def float_div(ins):
    d, a, b = ins.operand_count(3)
    mode, ftz, t = ins.match.groups()
    x, y = _args([a, b], t, ftz)
    return _float_result(d, t, f"__suite_ptx_div({x}, {y}, {_MODE[mode]})", bool(ftz), False)


@form(r"(min|max)(\.ftz)?(\.NaN)?\.(f32|f64)", "min/max f32/f64", ("min", "max"))
def float_minmax(ins):
    d, a, b = ins.operand_count(3)
    op, ftz, nan, t = ins.match.groups()
    x, y = _args([a, b], t, ftz)
    return _float_result(d, t, f"__suite_ptx_{op}({x}, {y}, {str(bool(nan)).lower()})", bool(ftz), False)


@form(r"(neg|abs)(\.ftz)?\.(f32|f64)", "neg/abs f32/f64", ("neg", "abs"))
def float_sign(ins):
    d, a = ins.operand_count(2)
    op, ftz, t = ins.match.groups()
    (x,) = _args([a], t, ftz)
    return _float_result(d, t, f"-{x}" if op == "neg" else f"std::fabs({x})", bool(ftz), False)


# ---- special functions: the CPU's correctly or faithfully rounded libm is within every .approx bound

_SFU = {"ex2": "std::exp2({x})", "lg2": "std::log2({x})", "sin": "std::sin({x})", "cos": "std::cos({x})",
        "tanh": "std::tanh({x})", "rsqrt": "(1 / std::sqrt({x}))"}


@form(r"(ex2|lg2|sin|cos|tanh|rsqrt)\.approx(\.ftz)?\.(f32|f64)", "ex2/lg2/sin/cos/tanh/rsqrt .approx",
      ("ex2", "lg2", "sin", "cos", "tanh", "rsqrt"))
def sfu(ins):
    d, a = ins.operand_count(2)
    op, ftz, t = ins.match.groups()
    (x,) = _args([a], t, ftz)
    return "__suite_ptx_mark_sfu(); " + _float_result(
        d, t, f"{ctype(t)}({_SFU[op].format(x=x)})", bool(ftz), False)


@form(rf"(ex2|tanh)\.approx(?:\.ftz)?\.({_HALF})", "ex2/tanh .approx f16/bf16", ("ex2", "tanh"))
def sfu_half(ins):
    ins.operand_count(2)
    op, t = ins.match.groups()
    return "__suite_ptx_mark_sfu(); " + _half_op(ins, t, _SFU[op].format(x="x"))


@form(r"(rcp|sqrt)\.(approx|rn|rz|rm|rp)(\.ftz)?\.(f32|f64)", "rcp/sqrt", ("rcp", "sqrt"))
def rcp_sqrt(ins):
    d, a = ins.operand_count(2)
    op, mode, ftz, t = ins.match.groups()
    (x,) = _args([a], t, ftz)
    return _float_result(d, t, f"__suite_ptx_{op}({x}, {_MODE[mode]})", bool(ftz), False)


# ---- integers -------------------------------------------------------------------------------------

@form(rf"(add|sub)(\.sat)?\.({_INT})", "add/sub integer", ("add", "sub"))
def int_addsub(ins):
    d, a, b = ins.operand_count(3)
    op, sat, t = ins.match.groups()
    c = ctype(t)
    sym = "+" if op == "add" else "-"
    if sat:
        if t != "s32":
            raise PtxError(f"'{ins.opcode}': .sat applies to .s32 only")
        return d.set(c, f"__suite_ptx_sat32(int64_t({a.get(c)}) {sym} int64_t({b.get(c)}))")
    return d.set(c, f"{c}(std::make_unsigned_t<{c}>({a.get(c)}) {sym} std::make_unsigned_t<{c}>({b.get(c)}))")


_WIDE = {"u16": "u32", "s16": "s32", "u32": "u64", "s32": "s64"}


def _mul(ins, a, b, part: str, t: str) -> tuple[str, str]:
    """(C++ type of the result, the product's .lo/.hi/.wide part)."""
    c = ctype(t)
    if part == "wide":
        w = ctype(_WIDE.get(t) or "")
        return w, f"{w}({w}({a.get(c)}) * {w}({b.get(c)}))"
    if part == "hi":
        return c, f"__suite_ptx_mulhi<{c}>({a.get(c)}, {b.get(c)})"
    u = f"std::make_unsigned_t<{c}>"
    return c, f"{c}({u}({a.get(c)}) * {u}({b.get(c)}))"


@form(rf"mul\.(lo|hi|wide)\.({_INT})", "mul integer", ("mul",))
def int_mul(ins):
    d, a, b = ins.operand_count(3)
    part, t = ins.match.groups()
    c, product = _mul(ins, a, b, part, t)
    return d.set(c, product)


@form(rf"mad\.(lo|hi|wide)\.({_INT})", "mad integer", ("mad",))
def int_mad(ins):
    d, a, b, e = ins.operand_count(4)
    part, t = ins.match.groups()
    c, product = _mul(ins, a, b, part, t)
    u = f"std::make_unsigned_t<{c}>"
    return d.set(c, f"{c}({u}({product}) + {u}({e.get(c)}))")


@form(rf"(div|rem)\.({_INT})", "div/rem integer", ("div", "rem"))
def int_divrem(ins):
    d, a, b = ins.operand_count(3)
    op, t = ins.match.groups()
    c = ctype(t)
    sym = "/" if op == "div" else "%"
    # Division by zero is unspecified in PTX (never a trap): all ones stand in.
    return d.set(c, f"({b.get(c)} == 0 ? {c}(-1) : {c}({a.get(c)} {sym} {b.get(c)}))")


@form(rf"(min|max)\.({_INT})", "min/max integer", ("min", "max"))
def int_minmax(ins):
    d, a, b = ins.operand_count(3)
    op, t = ins.match.groups()
    c = ctype(t)
    return d.set(c, f"__suite_ptx_{op}<{c}>({a.get(c)}, {b.get(c)}, false)")


@form(r"(neg|abs)\.(s16|s32|s64)", "neg/abs integer", ("neg", "abs"))
def int_sign(ins):
    d, a = ins.operand_count(2)
    op, t = ins.match.groups()
    c = ctype(t)
    u = f"std::make_unsigned_t<{c}>"
    neg = f"{c}({u}(0) - {u}({a.get(c)}))"
    return d.set(c, neg if op == "neg" else f"({a.get(c)} < 0 ? {neg} : {a.get(c)})")
