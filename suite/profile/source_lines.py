"""Code addresses of a profiled module -> the source lines they belong to (addr2line on its
debug line tables), named by the kernel-side frames of the inline chain, caller first: the
emulation's own headers (kernels_cu/host/, kernels_cu/profile/), the instruction wrappers and
system headers are left out, so a load inside a helper reads
"deform_im2col.cu:44 > channel_chunks.cuh:78 > bilinear.cuh:22" (the kernel's line 44 calls the
helper whose line 78 calls load_compute, whose line 22 loads)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from suite import KERNELS_DIR

# The wrappers of tensor-core and async-copy instructions are one instruction each: the line that
# matters is their caller's.
HIDDEN = (KERNELS_DIR / "host", KERNELS_DIR / "profile", KERNELS_DIR / "common" / "tensor_core.cuh",
          KERNELS_DIR / "common" / "cp_async.cuh")
FRAMES_SHOWN = 4  # the outermost ones


def _kept(path: Path) -> bool:
    if any(path.is_relative_to(h) for h in HIDDEN):
        return False
    return not str(path).startswith(("/usr/", "/opt/")) and "site-packages" not in path.parts


def resolve(library: Path, pcs) -> dict[int, str]:
    """{pc: label} for the module-relative return addresses `pcs` (each the address after a call)."""
    pcs = sorted({int(pc) for pc in pcs})
    if not pcs:
        return {}
    # "-a" heads each answer with the address asked; "-i" lists the inline chain innermost first.
    query = "".join(f"{pc - 1:#x}\n" for pc in pcs)
    out = subprocess.run(["addr2line", "-a", "-i", "-e", str(library)], input=query, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    chains: list[list[str]] = []
    for line in out:
        if line.startswith("0x"):
            chains.append([])
        elif chains:
            chains[-1].append(line)
    return {pc: _label(chain) for pc, chain in zip(pcs, chains)}


def _label(chain: list[str]) -> str:
    frames = []
    for entry in chain:
        where = entry.split(" (discriminator")[0]
        file, _, number = where.rpartition(":")
        if not file or file == "??" or not number.isdigit():
            continue
        path = Path(file)
        if _kept(path):
            frames.append(f"{path.name}:{number}")
    if not frames:
        return chain[0].split(" (")[0] if chain else "??"
    return " > ".join(list(dict.fromkeys(reversed(frames)))[:FRAMES_SHOWN])
