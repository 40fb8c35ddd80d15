"""Hopper (sm_90a): mbarrier, TMA and bulk copies, wgmma, setmaxnreg, elect.sync and
prefetch.tensormap, onto the runtime's emulation (include/emu/hopper/hopper_api.h). fence.proxy.async
and fence.mbarrier_init are forms_data's fences."""

from __future__ import annotations

import re

from suite.emulator.ptx.registry import PtxError, form
from suite.emulator.ptx.spaces import pointer

_SPACE = r"(\.shared(?:::cta|::cluster)?)?"
_WGMMA_TYPES = {"f16": "__SUITE_WGMMA_F16", "bf16": "__SUITE_WGMMA_BF16", "f32": "__SUITE_WGMMA_F32"}


def _bar(ins, op, shared: bool = True) -> str:
    """The mbarrier operand as a uint64_t* (a shared-window address, or generic without .shared)."""
    return f"reinterpret_cast<uint64_t*>({pointer(ins, 'shared' if shared else None, op.address())})"


def _in_shared(ins) -> bool:
    return ".shared" in ins.opcode


@form(rf"mbarrier\.init{_SPACE}\.b64", "mbarrier.init", ("mbarrier",))
def mbarrier_init(ins):
    bar, count = ins.operand_count(2)
    return f"__suite_mbarrier_init({ins.site}, {_bar(ins, bar, _in_shared(ins))}, {count.get('uint32_t')});"


@form(rf"mbarrier\.inval{_SPACE}\.b64", "mbarrier.inval", ("mbarrier",))
def mbarrier_inval(ins):
    (bar,) = ins.operand_count(1)
    return f"__suite_mbarrier_inval({ins.site}, {_bar(ins, bar, _in_shared(ins))});"


@form(rf"mbarrier\.arrive\.expect_tx(?:\.release)?(?:\.cta)?{_SPACE}\.b64", "mbarrier.arrive.expect_tx",
      ("mbarrier",))
def mbarrier_arrive_expect_tx(ins):
    state, bar, tx = ins.operand_count(3)
    call = f"__suite_mbarrier_arrive_expect_tx({ins.site}, {_bar(ins, bar, _in_shared(ins))}, {tx.get('uint32_t')})"
    return state.set("uint64_t", call)


@form(rf"mbarrier\.arrive(?:\.release)?(?:\.cta)?{_SPACE}\.b64", "mbarrier.arrive", ("mbarrier",))
def mbarrier_arrive(ins):
    state, bar, *count = ins.operand_count(2, 3)
    n = count[0].get("uint32_t") if count else "1u"
    return state.set("uint64_t", f"__suite_mbarrier_arrive({ins.site}, {_bar(ins, bar, _in_shared(ins))}, {n})")


@form(rf"mbarrier\.(expect_tx|complete_tx)(?:\.relaxed)?(?:\.cta)?{_SPACE}\.b64", "mbarrier.expect_tx/complete_tx",
      ("mbarrier",))
def mbarrier_tx(ins):
    bar, tx = ins.operand_count(2)
    return f"__suite_mbarrier_{ins.match.group(1)}({ins.site}, {_bar(ins, bar, _in_shared(ins))}, {tx.get('uint32_t')});"


@form(rf"mbarrier\.(try_wait|test_wait)(\.parity)?(?:\.acquire)?(?:\.cta)?{_SPACE}\.b64", "mbarrier.try_wait",
      ("mbarrier",))
def mbarrier_wait(ins):
    done, bar, phase, *_hint = ins.operand_count(3, 4)
    kind, parity = ins.match.group(1), ins.match.group(2)
    arg = phase.get("uint32_t") if parity else phase.get("uint64_t")
    call = f"__suite_mbarrier_{kind}{'_parity' if parity else ''}({ins.site}, {_bar(ins, bar, _in_shared(ins))}, {arg})"
    return done.set("bool", f"{call} != 0")


def _coords(ins, tensor):
    coords = tensor.elements
    rank = int(ins.match.group(1))
    if len(coords) != rank:
        raise PtxError(f"'{ins.opcode}': a {rank}d copy takes {rank} coordinates, got {len(coords)}")
    return rank, "{" + ", ".join(c.get("int32_t") for c in coords) + "}"


@form(r"cp\.async\.bulk\.tensor\.([1-5])d\.shared::cluster\.global(?:\.tile)?\.mbarrier::complete_tx::bytes"
      r"(\.multicast::cluster)?(?:\.L2::cache_hint)?", "cp.async.bulk.tensor (load)", ("cp",))
def tensor_load(ins):
    if ins.match.group(2):
        raise PtxError(f"'{ins.opcode}': multicast to a cluster is not emulated")
    dst, tensor, bar, *_hint = ins.operand_count(3, 4)
    if not tensor.elements:
        raise PtxError(f"'{ins.opcode}': the second operand must be [tensorMap, {{coordinates}}]")
    rank, coords = _coords(ins, tensor)
    return (f"{{ const int32_t __suite_c[{rank}] = {coords}; __suite_tensor_load({ins.site}, "
            f"{pointer(ins, 'shared', dst.address())}, {pointer(ins, None, tensor.address())}, {rank}, __suite_c, "
            f"{_bar(ins, bar)}); }}")


@form(r"cp\.async\.bulk\.tensor\.([1-5])d\.global\.shared::cta(?:\.tile)?\.bulk_group(?:\.L2::cache_hint)?",
      "cp.async.bulk.tensor (store)", ("cp",))
def tensor_store(ins):
    tensor, src, *_hint = ins.operand_count(2, 3)
    if not tensor.elements:
        raise PtxError(f"'{ins.opcode}': the first operand must be [tensorMap, {{coordinates}}]")
    rank, coords = _coords(ins, tensor)
    return (f"{{ const int32_t __suite_c[{rank}] = {coords}; __suite_tensor_store({ins.site}, "
            f"{pointer(ins, None, tensor.address())}, {rank}, __suite_c, {pointer(ins, 'shared', src.address())}); }}")


@form(r"cp\.async\.bulk\.shared::cluster\.global\.mbarrier::complete_tx::bytes(?:\.L2::cache_hint)?",
      "cp.async.bulk (load)", ("cp",))
def bulk_load(ins):
    dst, src, size, bar, *_hint = ins.operand_count(4, 5)
    return (f"__suite_bulk_load({ins.site}, {pointer(ins, 'shared', dst.address())}, "
            f"{pointer(ins, None, src.address())}, {size.get('uint32_t')}, {_bar(ins, bar)});")


@form(r"cp\.async\.bulk\.global\.shared::cta\.bulk_group(?:\.L2::cache_hint)?", "cp.async.bulk (store)", ("cp",))
def bulk_store(ins):
    dst, src, size, *_hint = ins.operand_count(3, 4)
    return (f"__suite_bulk_store({ins.site}, {pointer(ins, None, dst.address())}, "
            f"{pointer(ins, 'shared', src.address())}, {size.get('uint32_t')});")


@form(r"cp\.async\.bulk\.commit_group", "cp.async.bulk.commit_group", ("cp",))
def bulk_commit(ins):
    ins.operand_count(0)
    return f"__suite_bulk_commit_group({ins.site});"


@form(r"cp\.async\.bulk\.wait_group(?:\.read)?", "cp.async.bulk.wait_group", ("cp",))
def bulk_wait(ins):
    (n,) = ins.operand_count(1)
    if n.immediate is None:
        raise PtxError(f"'{ins.opcode}': the group count must be an immediate")
    return f"__suite_bulk_wait_group({ins.site}, {n.immediate});"


@form(r"prefetch(?:\.param|\.const|\.global)?\.tensormap", "prefetch.tensormap", ("prefetch",))
def prefetch_tensormap(ins):
    (map_,) = ins.operand_count(1)
    return f"__suite_prefetch_tensormap({ins.site}, {pointer(ins, None, map_.address())});"


@form(r"wgmma\.fence\.sync\.aligned", "wgmma.fence", ("wgmma",))
def wgmma_fence(ins):
    ins.operand_count(0)
    return f"__suite_wgmma_fence({ins.site});"


@form(r"wgmma\.commit_group\.sync\.aligned", "wgmma.commit_group", ("wgmma",))
def wgmma_commit(ins):
    ins.operand_count(0)
    return f"__suite_wgmma_commit_group({ins.site});"


@form(r"wgmma\.wait_group\.sync\.aligned", "wgmma.wait_group", ("wgmma",))
def wgmma_wait(ins):
    (n,) = ins.operand_count(1)
    if n.immediate is None:
        raise PtxError(f"'{ins.opcode}': the group count must be an immediate")
    return f"__suite_wgmma_wait_group({ins.site}, {n.immediate});"


def _register_address(ins, op) -> str:
    """The user's variable behind an asm output operand: results land there at the wait_group,
    after this statement has ended (the translator binds output i as __suite_o<i>, a copy of the
    reference __suite_ref<i>)."""
    m = re.fullmatch(r"__suite_o(\d+)", op.expr or "")
    if not m or not op.lvalue:
        raise PtxError(f"'{ins.opcode}': accumulator '{op.text}' must be an output operand of the asm statement "
                       "(\"+f\" or \"+r\"): its value arrives at the wgmma.wait_group")
    return f"&__suite_ref{m.group(1)}"


def _immediate(ins, op, allowed, what) -> int:
    if op.immediate not in allowed:
        raise PtxError(f"'{ins.opcode}': {what} must be one of {', '.join(map(str, allowed))}, got '{op.text}'")
    return op.immediate


@form(r"wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k16\.(f32|f16)\.(f16|bf16)\.(f16|bf16)", "wgmma.mma_async",
      ("wgmma",))
def wgmma_mma(ins):
    n, dt, at, bt = int(ins.match.group(1)), *ins.match.groups()[1:]
    if at != bt or (dt == "f16" and at != "f16"):
        raise PtxError(f"'{ins.opcode}': the emulation takes f16 or bf16 inputs (both the same) with f32 "
                       "accumulators, or f16 with f16")
    ops = ins.operand_count(7, 8)
    rs = len(ops) == 7
    d, a, b, scale_d, scale_a, scale_b, *tnsp = ops
    regs = n // 2 if dt == "f32" else n // 4
    outs = d.vector(regs)
    ctype = "float" if dt == "f32" else "uint32_t"
    code = ["__suite_wgmma_op __suite_w{};", f"__suite_w.n = {n};", f"__suite_w.type_ab = {_WGMMA_TYPES[at]};",
            f"__suite_w.type_d = {_WGMMA_TYPES[dt]};"]
    code += [f"__suite_w.d[{i}] = {_register_address(ins, x)};" for i, x in enumerate(outs)]
    if rs:
        code += ["__suite_w.rs = 1;"] + [f"__suite_w.a_values[{i}] = {x.get('uint32_t')};"
                                          for i, x in enumerate(a.vector(4))]
    else:
        code.append(f"__suite_w.desc_a = {a.get('uint64_t')};")
    code += [f"__suite_w.desc_b = {b.get('uint64_t')};", f"__suite_w.scale_d = {scale_d.get('bool')} ? 1 : 0;",
             f"__suite_w.scale_a = {_immediate(ins, scale_a, (1, -1), 'imm-scale-a')};",
             f"__suite_w.scale_b = {_immediate(ins, scale_b, (1, -1), 'imm-scale-b')};"]
    if rs:
        code.append(f"__suite_w.tnsp_b = {_immediate(ins, tnsp[0], (0, 1), 'imm-trans-b')};")
    else:
        code += [f"__suite_w.tnsp_a = {_immediate(ins, tnsp[0], (0, 1), 'imm-trans-a')};",
                 f"__suite_w.tnsp_b = {_immediate(ins, tnsp[1], (0, 1), 'imm-trans-b')};"]
    code += ["__suite_w.window = reinterpret_cast<const char*>(__suite_ptx_window_base());",
             "__suite_w.window_bytes = __suite_ptx_window().size;",
             f"__suite_wgmma_mma_async({ins.site}, &__suite_w);"]
    # The statement's outputs are copied back to the variables when it ends: copy the poison back.
    code += [x.set(ctype, f"*static_cast<const {ctype}*>(__suite_w.d[{i}])") for i, x in enumerate(outs)]
    return "{ " + " ".join(code) + " }"


@form(r"setmaxnreg\.(inc|dec)\.sync\.aligned\.u32", "setmaxnreg", ("setmaxnreg",))
def setmaxnreg(ins):
    (count,) = ins.operand_count(1)
    return f"__suite_setmaxnreg({ins.site}, {int(ins.match.group(1) == 'inc')}, {count.get('uint32_t')});"


@form(r"elect\.sync", "elect.sync", ("elect",))
def elect_sync(ins):
    dests, mask = ins.operand_count(2)
    lane, predicate = dests.vector(2)
    return (f"{{ const uint32_t __suite_m = {mask.get('uint32_t')}; "
            f"const bool __suite_e = __suite_elect_sync({ins.site}, __suite_m); "
            f"{predicate.set('bool', '__suite_e')} {lane.set('uint32_t', 'uint32_t(__builtin_ctz(__suite_m))')} }}")


@form(r"cp\.async\.mbarrier\.arrive(\.noinc)?(\.shared(?:::cta)?)?\.b64", "cp.async.mbarrier.arrive", ("cp",))
def cp_async_mbarrier_arrive(ins):
    """The arrive happens when the thread's earlier cp.async copies land; the emulation lands them
    now. Without .noinc the instruction first adds the arrival it makes (no net change of the count)."""
    (bar,) = ins.operand_count(1)
    code = "suite_host_cp_async_commit(); suite_host_cp_async_wait(0);"
    if ins.match.group(1):
        code += f" __suite_mbarrier_arrive({ins.site}, {_bar(ins, bar, bool(ins.match.group(2)))}, 1u);"
    return "{ " + code + " }"
