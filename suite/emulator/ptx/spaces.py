"""State spaces on the CPU: one address space, except that shared-space addresses are offsets into
the block's shared window (include/emu/ptx/shared_window.h), mapped back to host pointers."""

from __future__ import annotations


def pointer(ins, space: str | None, address: str) -> str:
    """A C++ char* for `address` (uint64_t expression) in state space `space` (None: generic)."""
    if space == "shared":
        return f"__suite_ptx_shared_ptr({ins.site}, {address})"
    return f"reinterpret_cast<char*>(uintptr_t({address}))"
