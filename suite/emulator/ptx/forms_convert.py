"""cvt: integers and floats of every width with the rounding modifiers (.rn .rz .rm .rp for floats,
.rni .rzi .rmi .rpi for integral results), .ftz, .sat, .satfinite and .relu, and the packed forms:
f16x2/bf16x2 from two f32, fp8 pairs (e4m3x2/e5m2x2) from two f32 or an f16x2 and back, tf32."""

from __future__ import annotations

from suite.emulator.ptx.instruction import ctype
from suite.emulator.ptx.registry import PtxError, form

_FRND = {"rn": "__SUITE_RN", "rz": "__SUITE_RZ", "rm": "__SUITE_RM", "rp": "__SUITE_RP"}
_IRND = {"rni": "__SUITE_RN", "rzi": "__SUITE_RZ", "rmi": "__SUITE_RM", "rpi": "__SUITE_RP"}
_MODS = {"rn", "rz", "rm", "rp", "rna", "rni", "rzi", "rmi", "rpi", "ftz", "sat", "satfinite", "relu"}
_INTS = {"u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"}
_FP8 = {"e4m3x2": "e4m3", "e5m2x2": "e5m2"}


def _source_value(op, t: str) -> str:
    """The exact source value as long double (or an integer type for integer sources)."""
    if t == "f16":
        return f"(long double)__suite_ptx_h2f({op.get('uint16_t')})"
    if t == "bf16":
        return f"(long double)__suite_ptx_bf2f({op.get('uint16_t')})"
    if t in ("f32", "f64"):
        return f"(long double){op.get(ctype(t))}"
    return op.get(ctype(t))


def _finish(value: str, mods: set, floating_dest: bool) -> str:
    if "ftz" in mods:
        value = f"__suite_ptx_ftz({value})"
    if "sat" in mods and floating_dest:
        value = f"__suite_ptx_satf({value})"
    return value


@form(r"cvt((?:\.\w+)*)", "cvt", ("cvt",))
def cvt(ins):
    parts = ins.parts[1:]
    mods = {p for p in parts if p in _MODS}
    types = [p for p in parts if p not in _MODS]
    if len(types) != 2:
        raise PtxError(f"'{ins.opcode}': expected cvt[.modifiers].dtype.atype")
    dt, at = types
    frnd = next((_FRND[m] for m in mods if m in _FRND), "__SUITE_RN")
    irnd = next((_IRND[m] for m in mods if m in _IRND), None)
    if dt in ("f16x2", "bf16x2") and at == "f32":  # d = {cvt(a) high, cvt(b) low}
        d, a, b = ins.operand_count(3)
        bf = "true" if dt == "bf16x2" else "false"
        sat = "true" if "satfinite" in mods else "false"

        def half(x):
            v = x.get("float")
            v = f"({v} < 0.0f ? 0.0f : {v})" if "relu" in mods else v
            return f"uint32_t(__suite_ptx_to_half<{bf}>(double({v}), {frnd}, {sat}))"

        return d.set("uint32_t", f"({half(a)} << 16 | {half(b)})")
    if dt in _FP8:
        enc = f"__suite_ptx_f_to_{_FP8[dt]}"
        relu = (lambda v: f"std::fmax(0.0, {v})") if "relu" in mods else (lambda v: v)
        if at == "f32":
            d, a, b = ins.operand_count(3)
            hi, lo = relu(f"double({a.get('float')})"), relu(f"double({b.get('float')})")
            return d.set("uint16_t", f"uint16_t({enc}({hi}) << 8 | {enc}({lo}))")
        if at in ("f16x2", "bf16x2"):
            d, a = ins.operand_count(2)
            dec = "__suite_ptx_bf2f" if at == "bf16x2" else "__suite_ptx_h2f"
            v = a.get("uint32_t")
            lo, hi = f"double({dec}(uint16_t({v})))", f"double({dec}(uint16_t({v} >> 16)))"
            return d.set("uint16_t", f"uint16_t({enc}({relu(hi)}) << 8 | {enc}({relu(lo)}))")
        raise PtxError(f"'{ins.opcode}': fp8 pairs are converted from f32 or f16x2")
    if at in _FP8:
        if dt != "f16x2":
            raise PtxError(f"'{ins.opcode}': fp8 pairs convert to f16x2")
        d, a = ins.operand_count(2)
        dec = f"__suite_ptx_{_FP8[at]}_to_f"
        v = a.get("uint16_t")
        return d.set("uint32_t", f"(uint32_t(__suite_ptx_f2h({dec}(uint8_t({v} >> 8)))) << 16 | "
                     f"__suite_ptx_f2h({dec}(uint8_t({v}))))")
    d, a = ins.operand_count(2)
    if dt == "tf32":
        if at != "f32":
            raise PtxError(f"'{ins.opcode}': tf32 is converted from f32")
        return d.set("uint32_t", f"__suite_ptx_f2tf32_rna({a.get('float')})")
    src = _source_value(a, at)
    if dt in _INTS:
        dc = ctype(dt)
        if at in _INTS:
            return d.set(dc, f"__suite_ptx_i2i<{dc}>({src}, {str('sat' in mods).lower()})")
        if irnd is None:
            raise PtxError(f"'{ins.opcode}': a float-to-integer cvt needs .rni, .rzi, .rmi or .rpi")
        return d.set(dc, f"__suite_ptx_f2i<{dc}>({src}, {irnd})")
    if dt in ("f16", "bf16"):
        bf = "true" if dt == "bf16" else "false"
        value = f"double({src})"
        if "sat" in mods:
            value = f"__suite_ptx_satf<double>({value})"
        if "relu" in mods:
            value = f"std::fmax(0.0, {value})"
        return d.set("uint16_t", f"__suite_ptx_to_half<{bf}>({value}, {frnd}, {str('satfinite' in mods).lower()})")
    if dt in ("f32", "f64"):
        dc = ctype(dt)
        if irnd is not None:  # to an integral value in the same float type
            if at != dt:
                raise PtxError(f"'{ins.opcode}': .rni/.rzi/.rmi/.rpi between floats keep the type")
            return d.set(dc, _finish(f"__suite_ptx_round_integral({a.get(dc)}, {irnd})", mods, True))
        return d.set(dc, _finish(f"__suite_ptx_to_float<{dc}>({src}, {frnd})", mods, True))
    raise PtxError(f"'{ins.opcode}': conversion to .{dt} is not emulated")
