"""Inline PTX on the CPU: the translator of `asm` statements for host builds (issue #26).

How it runs: when a kernel source (or a header it includes with "quotes") contains `asm`, the host
build preprocesses it with the module's own flags (g++ -E, which keeps the `# line "file"` markers),
replaces each PTX asm statement with C++ (`translate.py`) and compiles that text. Each statement
becomes a block that binds its operands by their constraints (r, l, h, f, d, n; =, + outputs),
then one C++ call per instruction into the emulation (suite/emulator/include/emu/ptx/*.h, names
`__suite_ptx_*`), chosen through the registry below. An instruction no form matches fails the build
before g++ runs, naming the mnemonic and the user's file:line.

Registering a form (other helpers: put yours in your own `forms_<topic>.py` and import it at the
bottom of this file):

    from suite.emulator.ptx.registry import form

    @form(r"mbarrier\\.arrive\\.shared(?:::cta)?\\.b64")     # re.fullmatch over the whole opcode
    def mbarrier_arrive(ins):                             # ins: instruction.Instruction
        state, bar = ins.operand_count(2)                 # parsed operands (instruction.Operand)
        return state.set("uint64_t", f"__suite_hopper_mbarrier_arrive({ins.site}, {bar.address()})")

An emitter returns C++ statements. Operands: `op.get("float")` reads one as a C++ type (widths and
bits converted as PTX does), `op.set("uint32_t", expr)` writes one, `op.address()` is a `[base+off]`
operand as uint64_t (a 32-bit shared address stays one: map it with __suite_ptx_shared_ptr),
`op.vector(4)` the elements of `{a, b, c, d}`, `op.immediate` an integer literal's value.
`ins.site` is the C++ `suite_host_site` of the statement (for faults); `ins.match` the pattern's
match (its groups: shape, types); `ins.has(".trans")`-style part tests use `ins.has("trans")`.
Raise registry.PtxError for a form you recognise but cannot run: it becomes a compile error.
Forms are tried in registration order; the first full match wins.
"""

from suite.emulator.ptx.registry import FORMS, PtxError, form  # noqa: F401  (the registry's API)
from suite.emulator.ptx import forms_convert, forms_data, forms_math, forms_tensor, forms_warp  # noqa: F401,E402  (register)
from suite.emulator.ptx import forms_hopper  # noqa: F401,E402  (register)
