"""What a result came from: content hashes of the kernel sources a case built.

A result file records the suite's commit, which says nothing of a user's kernel edited since. Each
case therefore records the sha256 of every .cu file it loaded and of every file those #include
with quotes, found as the compilers find them (beside the including file, beside the kernel, then
in kernels_cu/). Toolkit headers (<cuda_fp16.h>) are left out: their version is in the environment.
Both backends hash the same way, so a host run and a GPU run of one source record the same hashes.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterable

from suite import KERNELS_DIR
from suite.paths import display_path

_QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def source_key(path: Path) -> str:
    """How a result names a source: relative to kernels_cu/ for the suite's kernels (the same on every
    machine), else relative to the working directory where it lies inside it, else absolute."""
    try:
        return str(path.relative_to(KERNELS_DIR))
    except ValueError:
        return display_path(path)


def _includes(path: Path, text: str, kernel_dir: Path) -> list[Path]:
    found = []
    for name in _QUOTED_INCLUDE.findall(text):
        for folder in (path.parent, kernel_dir, KERNELS_DIR):
            candidate = (folder / name).resolve()
            if candidate.is_file():
                found.append(candidate)
                break
    return found


def source_digests(sources: Iterable[Path]) -> dict[str, str]:
    """{source_key: sha256 hex} of `sources` and everything they include with quotes, sorted by key.
    A source that cannot be read is recorded as "missing"."""
    digests: dict[Path, str] = {}
    for source in sources:
        todo = [Path(source).resolve()]
        kernel_dir = todo[0].parent
        while todo:
            path = todo.pop()
            if path in digests:
                continue
            try:
                data = path.read_bytes()
            except OSError:
                digests[path] = "missing"
                continue
            digests[path] = hashlib.sha256(data).hexdigest()
            todo += _includes(path, data.decode("utf-8", errors="replace"), kernel_dir)
    return dict(sorted((source_key(p), h) for p, h in digests.items()))
