"""Code addresses of a host module -> the kernel's source lines (addr2line on its debug line tables).

One rule for every reader (the host checks' findings, `suite profile`'s lines): of an address's
inline chain only the kernel-side frames count. The emulation's own headers (suite/emulator/), the wrappers of single instructions (mma/ldmatrix, cp.async: the line that
matters is their caller's) and system headers are left out.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from suite import KERNELS_DIR
from suite.emulator import EMULATOR_DIR

EMULATION = (EMULATOR_DIR, KERNELS_DIR / "common" / "tensor_core.cuh",
             KERNELS_DIR / "common" / "cp_async.cuh")


def _kernel_side(path: Path) -> bool:
    if any(path.is_relative_to(e) for e in EMULATION):
        return False
    return not str(path).startswith(("/usr/", "/opt/")) and "site-packages" not in path.parts


def kernel_frames(library: Path, pcs) -> dict[int, list[tuple[Path, int]]]:
    """{pc: [(file, line), ...]} for the module-relative return addresses `pcs` (each the address
    after a call): the kernel-side frames of its inline chain, innermost first (may be empty)."""
    pcs = sorted({int(pc) for pc in pcs})
    if not pcs:
        return {}
    # "-a" heads each answer with the address asked; "-i" lists the inline chain innermost first.
    query = "".join(f"{max(pc - 1, 0):#x}\n" for pc in pcs)
    try:
        out = subprocess.run(["addr2line", "-a", "-i", "-e", str(library)], input=query, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {pc: [] for pc in pcs}
    chains: list[list[tuple[Path, int]]] = []
    for entry in out:
        if entry.startswith("0x"):
            chains.append([])
            continue
        file, _, number = re.sub(r" \(discriminator \d+\)$", "", entry).rpartition(":")
        if chains and file and file != "??" and number.isdigit() and _kernel_side(Path(file)):
            chains[-1].append((Path(file), int(number)))
    return dict(zip(pcs, chains))


def source_line(library: Path, pc: int) -> str:
    """file:line of the innermost kernel-side frame of `pc` (a return address)."""
    frames = kernel_frames(library, [pc]).get(int(pc))
    return f"{frames[0][0]}:{frames[0][1]}" if frames else f"{Path(library).name}+{int(pc):#x}"
