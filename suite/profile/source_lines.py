"""Code addresses of a profiled module -> the source lines they belong to (addr2line on its
debug line tables), named by the kernel-side frames of the inline chain
(suite.emulator.lines), caller first, so a load inside a helper reads
"deform_im2col.cu:44 > channel_chunks.cuh:78 > bilinear.cuh:22" (the kernel's line 44 calls the
helper whose line 78 calls load_compute, whose line 22 loads)."""

from __future__ import annotations

from pathlib import Path

from suite.emulator.lines import kernel_frames

FRAMES_SHOWN = 4  # the outermost ones


def resolve(library: Path, pcs) -> dict[int, str]:
    """{pc: label} for the module-relative return addresses `pcs` (each the address after a call)."""
    return {pc: _label(frames, pc) for pc, frames in kernel_frames(library, pcs).items()}


def _label(frames: list[tuple[Path, int]], pc: int) -> str:
    if not frames:
        return f"??+{pc:#x}"
    names = [f"{path.name}:{number}" for path, number in reversed(frames)]
    return " > ".join(list(dict.fromkeys(names))[:FRAMES_SHOWN])
