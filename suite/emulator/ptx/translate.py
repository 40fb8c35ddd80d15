"""Preprocessed C++ in, the same C++ out with every PTX asm statement replaced by C++ that binds its
operands by their constraints and calls the emulation (include/emu/ptx/) for each instruction. The
replacement keeps the statement's line count, so g++'s later diagnostics keep the user's lines."""

from __future__ import annotations

import re

from suite.emulator import diagnostics
from suite.emulator.ptx import cpp_asm
from suite.emulator.ptx.ptx_text import translate_ptx
from suite.emulator.ptx.registry import PtxError

# asm constraint letter -> the C++ type its operand is held in while the PTX runs.
_CONSTRAINT_TYPES = {"r": "uint32_t", "l": "uint64_t", "h": "uint16_t", "f": "float", "d": "double",
                     "c": "uint8_t"}


class TranslationError(Exception):
    """Every statement that could not be translated, as `file:line: error: message` lines."""


def _cstring(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _substitute(template: str, names: dict[str, str], literals: dict[int, str], count: int) -> str:
    """%N and %[name] -> the bound operands' C++ names (or an "n" operand's integer literal, so that
    instructions needing an immediate get one); %% -> % (GNU extended asm)."""

    def replace(m: re.Match) -> str:
        if m.group() == "%%":
            return "%"
        key = m.group(1) if m.group(1) is not None else names.get(m.group(2))
        if key is None or int(key) >= count:
            raise PtxError(f"'{m.group()}' names no operand of this asm statement")
        return literals.get(int(key), f"__suite_o{key}")

    return re.sub(r"%%|%(\d+)|%\[(\w+)\]", replace, template)


def _is_ptx(st: cpp_asm.AsmStatement) -> bool:
    """Empty templates (compiler barriers) and asm labels (symbol names) are left to g++."""
    text = st.template.strip()
    return bool(text) and not st.system and not (st.sections == 0 and re.fullmatch(r"[\w.$@]+", text))


def _statement(st: cpp_asm.AsmStatement) -> str:
    site = f"suite_host_site{{{_cstring(st.file)}, {st.line}}}"
    before, after, bound, names, literals = [], [], {}, {}, {}
    operands = st.outputs + st.inputs
    for i, op in enumerate(operands):
        letters = op.constraint.lstrip("=+&")
        if op.name:
            names[op.name] = str(i)
        var = f"__suite_o{i}"
        bound[var] = var
        if letters in ("n", "i", "in"):
            if re.fullmatch(r"-?\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", op.expr):
                literals[i] = re.sub(r"[uUlL]+$|\s", "", op.expr)
            before.append(f"const int64_t {var} = int64_t({op.expr});")
            continue
        kind = letters.replace("&", "")[:1]
        if kind not in _CONSTRAINT_TYPES or len(set(letters.replace("&", ""))) != 1:
            raise PtxError(f"asm operand constraint '{op.constraint}' is not emulated "
                           "(expected r, l, h, f, d or n, with = or + for outputs)")
        c = _CONSTRAINT_TYPES[kind]
        if i < len(st.outputs):
            ref = f"__suite_ref{i}"
            # An output starts as the variable's value: an instruction a guard skips leaves it unchanged.
            before.append(f"auto& {ref} = ({op.expr}); {c} {var} = __suite_ptx_get<{c}>({ref});")
            after.append(f"__suite_ptx_put<{c}>({ref}, {var});")
        else:
            before.append(f"const {c} {var} = __suite_ptx_get<{c}>(({op.expr}));")
    ptx = _substitute(st.template, names, literals, len(operands)) if st.sections else st.template
    body = translate_ptx(ptx, bound, "__suite_site")
    return " ".join(["{", f"const suite_host_site __suite_site = {site}; (void)__suite_site;", *before, body,
                     *after, "}"])


def translate(text: str) -> str:
    """`text` (g++ -E output) with its PTX asm statements replaced. Raises TranslationError naming
    every statement that uses PTX the emulation does not have."""
    out, errors, pos = [], [], 0
    for st in cpp_asm.find_statements(text):
        if not _is_ptx(st):
            continue
        try:
            code = _statement(st)
        except PtxError as exc:
            errors.append(f"{diagnostics.relative(st.file)}:{st.line}: error: {exc}")
            continue
        out += [text[pos:st.start], code, "\n" * text.count("\n", st.start, st.end)]
        pos = st.end
    if errors:
        raise TranslationError("\n".join(errors))
    out.append(text[pos:])
    return "".join(out)
