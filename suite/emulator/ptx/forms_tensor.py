"""Tensor cores and async copies: mma.sync (m16n8k8/k16/k32 for f16, bf16, tf32, s8/u8, e4m3/e5m2),
ldmatrix/stmatrix x1/x2/x4 (.trans), movmatrix, cp.async .ca/.cg with src-size or ignore-src,
commit_group, wait_group, wait_all."""

from __future__ import annotations

from suite.emulator.ptx.registry import PtxError, form
from suite.emulator.ptx.spaces import pointer

_ELEM = {"f16": "__SUITE_F16", "bf16": "__SUITE_BF16", "tf32": "__SUITE_TF32", "s8": "__SUITE_S8",
         "u8": "__SUITE_U8", "e4m3": "__SUITE_E4M3", "e5m2": "__SUITE_E5M2", "f32": "__SUITE_F32",
         "s32": "__SUITE_S32"}
_BITS = {"f16": 16, "bf16": 16, "tf32": 32, "s8": 8, "u8": 8, "e4m3": 8, "e5m2": 8}
# (shape, input type group) -> K; the shapes PTX defines for mma.sync with these inputs.
_SHAPES = {("m16n8k16", 16): 16, ("m16n8k8", 16): 8, ("m16n8k8", 32): 8, ("m16n8k4", 32): 4,
           ("m16n8k32", 8): 32, ("m16n8k16", 8): 16}


@form(r"mma\.sync\.aligned\.(m16n8k\d+)\.row\.col(\.satfinite)?\.(f32|f16|s32)\.(\w+)\.(\w+)\.(f32|f16|s32)",
      "mma.sync", ("mma",))
def mma(ins):
    shape, sat, dt, at, bt, ct = ins.match.groups()
    if at not in _BITS or bt not in _BITS or _BITS[at] != _BITS[bt] or (shape, _BITS[at]) not in _SHAPES:
        raise PtxError(f"'{ins.opcode}': this shape and input types are not an mma.sync form the emulation has")
    integer = at in ("s8", "u8")
    allowed = {"s32"} if integer else {"f32"} if at in ("bf16", "tf32") else {"f32", "f16"}
    if dt not in allowed or ct not in allowed:
        raise PtxError(f"'{ins.opcode}': the accumulator types do not fit the input types")
    k = _SHAPES[(shape, _BITS[at])]
    d, a, b, c = ins.operand_count(4)
    na, nb = k * _BITS[at] // 64, k * _BITS[at] // 128
    nc = 2 if ct == "f16" else 4
    nd = 2 if dt == "f16" else 4
    regs = lambda op, n: ", ".join(x.get("uint32_t") for x in op.vector(n))  # noqa: E731
    code = [f"uint32_t __suite_a[{na}] = {{{regs(a, na)}}};", f"uint32_t __suite_b[{nb}] = {{{regs(b, nb)}}};",
            f"uint32_t __suite_c[{nc}] = {{{regs(c, nc)}}};", f"uint32_t __suite_d[{nd}];",
            f"__suite_ptx_mma<{k}, {_ELEM[at]}, {_ELEM[bt]}, {_ELEM[ct]}, {_ELEM[dt]}, {str(bool(sat)).lower()}>"
            f"({ins.site}, __suite_d, __suite_a, __suite_b, __suite_c);"]
    code += [x.set("uint32_t", f"__suite_d[{i}]") for i, x in enumerate(d.vector(nd))]
    return "{ " + " ".join(code) + " }"


def _matrix_count(ins) -> int:
    return int((ins.match.group(1) or ins.match.group(2))[1])


# The ISA writes .m8n8.x4; public kernels often .x4.m8n8, which ptxas accepts too.
_MATRIX = r"(?:\.m8n8\.(x[124])|\.(x[124])\.m8n8)(\.trans)?\.shared(?:::cta)?\.b16"


@form(rf"ldmatrix\.sync\.aligned{_MATRIX}", "ldmatrix", ("ldmatrix",))
def ldmatrix(ins):
    d, addr = ins.operand_count(2)
    n = _matrix_count(ins)
    outs = d.vector(n)
    trans = str(bool(ins.match.group(3))).lower()
    return ("{ uint32_t __suite_r[4]; "
            f"__suite_ptx_ldmatrix<{n}, {trans}>({ins.site}, __suite_r, {pointer(ins, 'shared', addr.address())}); "
            + " ".join(x.set("uint32_t", f"__suite_r[{i}]") for i, x in enumerate(outs)) + " }")


@form(rf"stmatrix\.sync\.aligned{_MATRIX}", "stmatrix", ("stmatrix",))
def stmatrix(ins):
    addr, s = ins.operand_count(2)
    n = _matrix_count(ins)
    regs = ", ".join(x.get("uint32_t") for x in s.vector(n))
    trans = str(bool(ins.match.group(3))).lower()
    return (f"{{ const uint32_t __suite_r[{n}] = {{{regs}}}; "
            f"__suite_ptx_stmatrix<{n}, {trans}>({ins.site}, {pointer(ins, 'shared', addr.address())}, __suite_r); }}")


@form(r"movmatrix\.sync\.aligned\.m8n8\.trans\.b16", "movmatrix", ("movmatrix",))
def movmatrix(ins):
    d, a = ins.operand_count(2)
    return d.set("uint32_t", f"__suite_ptx_movmatrix({ins.site}, {a.get('uint32_t')})")


@form(r"cp\.async\.(ca|cg)\.shared(?:::cta)?\.global((?:\.L2::\w+)*)", "cp.async", ("cp",))
def cp_async(ins):
    dst, src, size, *rest = ins.operand_count(3, 4, 5)
    if size.immediate is not None and size.immediate not in (4, 8, 16):
        raise PtxError(f"'{ins.opcode}': the copy size must be 4, 8 or 16, got '{size.text}'")
    if ins.match.group(1) == "cg" and size.immediate not in (None, 16):
        raise PtxError(f"'{ins.opcode}': cp.async.cg copies 16 bytes")
    if "cache_hint" in ins.match.group(2):  # the last operand is the cache policy: a hint
        rest = rest[:-1]
    # A template's "n" operand arrives as a constant expression: checked where it runs.
    bytes_ = f"__suite_ptx_cp_size({ins.site}, {size.get('uint32_t')}, {str(ins.match.group(1) == 'cg').lower()})"
    src_bytes = "__suite_n"
    if rest:
        extra = rest[0]
        # A predicate operand is ignore-src (true: zero fill); an integer one is src-size.
        src_bytes = (f"({extra.get('bool')} ? 0u : __suite_n)" if extra.ptx_type == "pred"
                     else f"__suite_ptx_src_size({ins.site}, {extra.get('uint32_t')}, __suite_n)")
    return (f"{{ const unsigned __suite_n = {bytes_}; __suite_ptx_cp_async({ins.site}, "
            f"{pointer(ins, 'shared', dst.address())}, reinterpret_cast<const void*>(uintptr_t({src.address()})), "
            f"__suite_n, {src_bytes}); }}")


@form(r"cp\.async\.commit_group", "cp.async.commit_group", ("cp",))
def cp_commit(ins):
    ins.operand_count(0)
    return "suite_host_cp_async_commit();"


@form(r"cp\.async\.wait_group", "cp.async.wait_group", ("cp",))
def cp_wait_group(ins):
    (n,) = ins.operand_count(1)
    return f"suite_host_cp_async_wait(int({n.get('int64_t')}));"


@form(r"cp\.async\.wait_all", "cp.async.wait_all", ("cp",))
def cp_wait_all(ins):
    ins.operand_count(0)
    return "suite_host_cp_async_commit(); suite_host_cp_async_wait(0);"
