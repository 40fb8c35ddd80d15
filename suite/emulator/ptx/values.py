"""Reading operands as values of a PTX type: 16-bit floats are decoded to float by the emulation's
helpers; other types are their C++ types."""

from __future__ import annotations

from suite.emulator.ptx.instruction import Operand, ctype

FLOAT16 = {"f16": "h", "bf16": "bf"}


def compute_type(t: str) -> str:
    """The C++ type a value of PTX type `t` is computed in."""
    return "float" if t in FLOAT16 else ctype(t)


def read(op: Operand, t: str) -> str:
    if t in FLOAT16:
        return f"__suite_ptx_{FLOAT16[t]}2f({op.get('uint16_t')})"
    return op.get(ctype(t))
