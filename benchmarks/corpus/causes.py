"""The cause category of a failure, from its message: what the lead re-runs after each fix lands."""

from __future__ import annotations

import re

# First match wins: the most specific facilities first.
_PATTERNS = [
    (r"cooperative_groups|\bcg::|this_thread_block|thread_block_tile|tiled_partition", "cooperative_groups missing"),
    (r"cuda/std/|cuda/barrier|cuda/pipeline|cuda/atomic|cuda/annotated_ptr|\bcuda::", "libcu++ missing"),
    (r"no such instruction|unknown pseudo-op|invalid instruction suffix|\basm\b.*operand|expected string-literal"
     r"|Error: junk", "inline PTX"),
    (r"__cvta_generic_to_shared|__cvta_\w+|__isShared|__isGlobal|cuda_pipeline", "__cvta_*/cuda_pipeline missing"),
    (r"\bnvcuda\b|\bwmma\b|crt/mma", "WMMA"),
    (r"tex1Dfetch|tex2D|tex3D|cudaTextureObject_t|\btexture\s*<|surf2D", "texture"),
    (r"barrier divergence|another __syncthreads", "barrier counting"),
    (r"cudaMemcpyToSymbol|get_global|__constant__", "__constant__/get_global"),
    (r"misaligned", "misaligned access"),
]


def cause(message: str, code: str = "") -> str:
    """One short category naming what is missing or wrong, e.g. "intrinsic __match_any_sync missing";
    `code` (the kernel source) tells a missing intrinsic from a variable the emulation did not define."""
    for pattern, category in _PATTERNS:
        if re.search(pattern, message):
            return category
    if m := re.search(r"['‘](__\w+|\w+_sync|atomic\w+)['’] (was not declared|is not a member|has not been declared)",
                      message):
        return f"intrinsic {m.group(1)} missing"
    if m := re.search(r"undefined (symbol|reference to)[: `']+(\w+)", message):
        if re.search(rf"\bextern\s+__shared__\b[^;]*\b{m.group(2)}\s*\[", code):
            return "extern __shared__ array gets no storage (load time)"
        return f"intrinsic {m.group(2)} missing (load time)"
    if m := re.search(r"([\w/.]+\.h\w*): No such file or directory", message):
        return f"header {m.group(1)} missing"
    if re.search(r"g\+\+ could not compile", message):
        return "other build error"
    return "fault" if re.search(r"fault|signal|SIGSEGV|trap", message, re.I) else "other"
