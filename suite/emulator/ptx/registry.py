"""The table from PTX mnemonics to C++ emitters (see this package's docstring for how to add a form).

A form is a regular expression over the whole opcode (every dot-separated part, e.g.
`mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32`) and an emitter that turns one parsed
instruction into C++ statements. The first registered form that matches wins, so specific forms go
before general ones in the same file; files register at import (`forms_*.py`, imported by
`__init__`; other helpers add their own files and import them there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable


class PtxError(Exception):
    """An instruction the translator cannot emulate: unknown mnemonic, unsupported form, bad operands.
    The translator adds the user's file and line."""


@dataclass(frozen=True)
class Form:
    name: str  # what the docs call it, e.g. "mma.sync m16n8k16"
    pattern: re.Pattern
    emit: Callable  # emit(ins: Instruction) -> str, C++ statements
    mnemonics: tuple[str, ...]  # the first opcode parts it serves, for "unsupported form" errors


FORMS: list[Form] = []


def form(pattern: str, name: str | None = None, mnemonics: tuple[str, ...] | None = None):
    """Decorator: register `emit` for the opcodes `pattern` matches in full (re.fullmatch).
    mnemonics defaults to the pattern's literal first part (`ldmatrix` of `ldmatrix\\..*`)."""

    def register(emit):
        literal = re.match(r"\(?([a-z0-9_|]+)", pattern)
        first = mnemonics or (tuple(literal.group(1).split("|")) if literal else ())
        FORMS.append(Form(name or pattern, re.compile(pattern), emit, first))
        return emit

    return register


def lookup(opcode: str) -> tuple[Form, re.Match]:
    for f in FORMS:
        m = f.pattern.fullmatch(opcode)
        if m:
            return f, m
    mnemonic = opcode.split(".")[0]
    if any(mnemonic in f.mnemonics for f in FORMS):
        raise PtxError(f"PTX instruction '{opcode}': this form of '{mnemonic}' is not emulated on the CPU")
    raise PtxError(f"PTX instruction '{opcode}': mnemonic '{mnemonic}' is not emulated on the CPU")
