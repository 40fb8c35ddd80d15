"""One parsed PTX instruction and its operands, as the emitters see them: each operand knows how to
read itself as a C++ value of a given type and how to be assigned one (the C++ helpers
__suite_ptx_get / __suite_ptx_put in include/emu/ptx/operands.h convert between register widths and
reinterpret bits, as PTX does between a register and an instruction's type)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from suite.emulator.ptx.registry import PtxError

# PTX instruction types -> the C++ type a value of that type is computed in. 16-bit floats and packed
# pairs are carried as their bits; the emulation's helpers decode them.
CTYPES = {
    "pred": "bool",
    "b8": "uint8_t", "u8": "uint8_t", "s8": "int8_t",
    "b16": "uint16_t", "u16": "uint16_t", "s16": "int16_t", "f16": "uint16_t", "bf16": "uint16_t",
    "b32": "uint32_t", "u32": "uint32_t", "s32": "int32_t", "f32": "float", "tf32": "uint32_t",
    "f16x2": "uint32_t", "bf16x2": "uint32_t", "e4m3x2": "uint16_t", "e5m2x2": "uint16_t",
    "b64": "uint64_t", "u64": "uint64_t", "s64": "int64_t", "f64": "double",
}


def ctype(ptx_type: str) -> str:
    try:
        return CTYPES[ptx_type]
    except KeyError:
        raise PtxError(f"PTX type '.{ptx_type}' is not emulated on the CPU") from None


@dataclass
class Operand:
    text: str  # as written, for messages
    kind: str  # "value", "vector", "address" or "sink"
    expr: str = ""  # C++ expression: the register or bound operand (an lvalue), or an immediate
    lvalue: bool = False
    negated: bool = False  # a predicate operand written !p
    elements: list["Operand"] = field(default_factory=list)  # of a vector operand {a, b, ...}
    offset: int = 0  # of an address operand [base+offset]
    immediate: int | None = None  # an integer immediate's value (wait_group N, shift counts, ...)
    ptx_type: str | None = None  # a declared register's .reg type ("pred", "b32", ...)

    def get(self, c: str) -> str:
        """This operand's value as C++ type `c`."""
        if self.kind == "address":
            return f"{c}({self.address()})"
        self._need("value")
        value = f"__suite_ptx_get<{c}>({self.expr})"
        return f"!{value}" if self.negated else value

    def set(self, c: str, value: str) -> str:
        """A C++ statement assigning `value` (of C++ type `c`) to this operand."""
        if self.kind == "sink":
            return f"(void)({value});"
        self._need("value")
        if not self.lvalue:
            raise PtxError(f"operand '{self.text}' is written but is not a register or an output operand")
        return f"__suite_ptx_put<{c}>({self.expr}, {value});"

    def address(self) -> str:
        """The address of [base+offset] as uint64_t (a generic, global or state-space address)."""
        self._need("address")
        return f"(__suite_ptx_get<uint64_t>({self.expr}) + uint64_t({self.offset}ll))"

    def vector(self, count: int | None = None) -> list["Operand"]:
        self._need("vector")
        if count is not None and len(self.elements) != count:
            raise PtxError(f"operand '{self.text}' has {len(self.elements)} elements, expected {count}")
        return self.elements

    def _need(self, kind: str) -> None:
        if self.kind != kind:
            wanted = {"value": "a register or immediate", "vector": "a vector {...}", "address": "an address [...]"}
            raise PtxError(f"operand '{self.text}' should be {wanted[kind]}")


@dataclass
class Instruction:
    opcode: str  # every part: "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"
    operands: list[Operand]
    match: re.Match  # of the form's pattern over the opcode
    site: str  # C++ expression of the suite_host_site (the user's file and line)

    @property
    def parts(self) -> list[str]:
        return self.opcode.split(".")

    def has(self, part: str) -> bool:
        return part in self.parts

    def operand_count(self, *allowed: int) -> list[Operand]:
        if len(self.operands) not in allowed:
            expected = " or ".join(str(n) for n in allowed)
            raise PtxError(f"'{self.opcode}' takes {expected} operands, got {len(self.operands)}")
        return self.operands
