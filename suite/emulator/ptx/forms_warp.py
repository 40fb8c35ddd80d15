"""Warps, blocks and atomics: shfl.sync, vote.sync, match.sync, redux.sync, activemask,
bar/barrier (.sync, .arrive, .red) with named barriers and thread counts, atom and red."""

from __future__ import annotations

from suite.emulator.ptx.registry import PtxError, form
from suite.emulator.ptx.spaces import pointer

_SHFL = {"up": 1, "down": 2, "bfly": 3, "idx": 0}


@form(r"shfl\.sync\.(up|down|bfly|idx)\.b32", "shfl.sync", ("shfl",))
def shfl(ins):
    d, a, b, c, mask = ins.operand_count(5)
    outs = d.vector(2) if d.kind == "vector" else [d]
    code = [f"bool __suite_p; const uint32_t __suite_v = __suite_ptx_shfl({ins.site}, {_SHFL[ins.match.group(1)]}, "
            f"{a.get('uint32_t')}, {b.get('uint32_t')}, {c.get('uint32_t')}, {mask.get('uint32_t')}, &__suite_p);",
            outs[0].set("uint32_t", "__suite_v")]
    if len(outs) == 2:
        code.append(outs[1].set("bool", "__suite_p"))
    return "{ " + " ".join(code) + " }"


@form(r"vote\.sync\.(all|any|uni|ballot)\.(pred|b32)", "vote.sync", ("vote",))
def vote(ins):
    d, p, mask = ins.operand_count(3)
    mode = ins.match.group(1)
    ballot = f"::suite_host::ballot({ins.site}, \"vote.sync\", {mask.get('uint32_t')}, {p.get('bool')})"
    if mode == "ballot":
        return d.set("uint32_t", ballot)
    test = {"all": f"== {mask.get('uint32_t')}", "any": "!= 0u",
            "uni": f"== 0u || __suite_b == {mask.get('uint32_t')}"}[mode]
    return f"{{ const uint32_t __suite_b = {ballot}; {d.set('bool', f'(__suite_b {test})')} }}"


@form(r"match\.sync\.(any|all)\.(b32|b64)", "match.sync", ("match",))
def match(ins):
    d, a, mask = ins.operand_count(3)
    mode, t = ins.match.groups()
    outs = d.vector(2) if d.kind == "vector" else [d]
    c = "uint32_t" if t == "b32" else "uint64_t"
    code = [f"bool __suite_p; const uint32_t __suite_m = __suite_ptx_match<{c}>({ins.site}, "
            f"{str(mode == 'all').lower()}, {a.get(c)}, {mask.get('uint32_t')}, &__suite_p);",
            outs[0].set("uint32_t", "__suite_m")]
    if len(outs) == 2:
        code.append(outs[1].set("bool", "__suite_p"))
    return "{ " + " ".join(code) + " }"


_REDUX = {"add": "Add", "min": "Min", "max": "Max", "and": "And", "or": "Or", "xor": "Xor"}


@form(r"redux\.sync\.(add|min|max|and|or|xor)\.(u32|s32|b32)", "redux.sync", ("redux",))
def redux(ins):
    d, a, mask = ins.operand_count(3)
    op, t = ins.match.groups()
    c = "int32_t" if t == "s32" else "uint32_t"
    return d.set(c, f"::suite_host::reduce<::suite_host::{_REDUX[op]}>({ins.site}, \"redux.sync\", "
                    f"{mask.get('uint32_t')}, {a.get(c)})")


@form(r"activemask\.b32", "activemask", ("activemask",))
def activemask(ins):
    (d,) = ins.operand_count(1)
    return d.set("uint32_t", f"suite_host_activemask({ins.site})")


@form(r"(bar|barrier)(?:\.cta)?(\.sync|\.arrive)?(?:\.aligned)?", "bar/barrier", ("bar", "barrier"))
def bar(ins):
    ops = ins.operand_count(1, 2)
    arrive = ins.match.group(2) == ".arrive"
    count = ops[1].get("uint32_t") if len(ops) == 2 else "0u"
    if arrive and len(ops) != 2:
        raise PtxError(f"'{ins.opcode}' needs a thread count")
    fn = "__suite_ptx_bar_arrive" if arrive else "__suite_ptx_bar_sync"
    return f"{fn}({ins.site}, {ops[0].get('uint32_t')}, {count});"


@form(r"(bar|barrier)(?:\.cta)?\.red\.(popc|and|or)(?:\.aligned)?\.(u32|pred)", "bar.red", ("bar", "barrier"))
def bar_red(ins):
    ops = ins.operand_count(3, 4)
    d, barrier, rest = ops[0], ops[1], ops[2:]
    count, p = (rest[0].get("uint32_t"), rest[1]) if len(rest) == 2 else ("0u", rest[0])
    op = {"popc": 0, "and": 1, "or": 2}[ins.match.group(2)]
    c = "uint32_t" if ins.match.group(3) == "u32" else "bool"
    return d.set(c, f"__suite_ptx_bar_red({ins.site}, {barrier.get('uint32_t')}, {count}, {op}, {p.get('bool')})")


# ---- atomics: CUDA's atomic functions (device_atomics.h), which the checks already see -------------

_ATOM_TYPES = {"b32": "unsigned", "u32": "unsigned", "s32": "int", "b64": "unsigned long long",
               "u64": "unsigned long long", "s64": "long long", "f32": "float", "f64": "double",
               "f16": "__half", "bf16": "__nv_bfloat16", "f16x2": "__half2", "bf16x2": "__nv_bfloat162"}
_ATOM_FN = {"add": "atomicAdd", "and": "atomicAnd", "or": "atomicOr", "xor": "atomicXor", "exch": "atomicExch",
            "min": "atomicMin", "max": "atomicMax", "inc": "atomicInc", "dec": "atomicDec", "cas": "atomicCAS"}


@form(r"(atom|red)((?:\.(?:relaxed|acquire|release|acq_rel|cta|gpu|sys|cluster))*)"
      r"(?:\.(global|shared)(?:::cta|::cluster)?)?\.(add|and|or|xor|exch|min|max|inc|dec|cas)(?:\.noftz)?"
      r"\.(b32|u32|s32|b64|u64|s64|f32|f64|f16|bf16|f16x2|bf16x2)", "atom/red", ("atom", "red"))
def atom(ins):
    kind, _, space, op, t = ins.match.groups()
    c = _ATOM_TYPES[t]
    if (kind == "red") == (op == "cas"):
        if op == "cas":
            raise PtxError(f"'{ins.opcode}': red has no .cas")
    ops = ins.operand_count(4 if op == "cas" else 3) if kind == "atom" else ins.operand_count(2)
    d, addr, args = (ops[0], ops[1], ops[2:]) if kind == "atom" else (None, ops[0], ops[1:])
    ptr = f"reinterpret_cast<{c}*>({pointer(ins, space, addr.address())})"
    call = f"{_ATOM_FN[op]}({ptr}, {', '.join(a.get(c) for a in args)})"
    return d.set(c, call) if d is not None else f"(void){call};"


@form(r"trap", "trap", ("trap",))
def trap(ins):
    ins.operand_count(0)
    return f'suite_host_trap({ins.site}, "trap (inline PTX)");'


@form(r"nanosleep\.u32", "nanosleep", ("nanosleep",))
def nanosleep(ins):
    ins.operand_count(1)
    return f"suite_host_yield({ins.site});"  # the other threads of the block run meanwhile
