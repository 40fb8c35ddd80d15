"""`suite new NAME`: a starting point that passes at once, to edit rather than to write from nothing.

The files are the softmax example (examples/softmax/) with the name replaced: one copy of the code,
so the example the docs walk through and what `suite new` writes cannot drift apart. The kernel
keeps computing a softmax until its author changes it.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from suite import REPO_ROOT
from suite import kernels as registry
from suite.errors import InputError

EXAMPLE = REPO_ROOT / "examples" / "softmax"
EXAMPLE_NAME = "softmax"
# The example's own name, where it is a word of its own or starts one (softmax_family, softmax<T>,
# test_softmax), but not an attribute such as torch.softmax, which stays PyTorch's.
_NAME = re.compile(rf"(?<![.A-Za-z0-9]){EXAMPLE_NAME}(?![A-Za-z0-9])")
_VALID = re.compile(r"[a-z][a-z0-9_]*")


def files(name: str) -> dict[str, str]:
    """file name -> text of the scaffold for `name`."""
    out = {}
    for source in sorted(EXAMPLE.iterdir()):
        if source.is_file() and source.suffix in (".cu", ".py", ".yaml"):
            out[_NAME.sub(name, source.name)] = _NAME.sub(name, source.read_text(encoding="utf-8"))
    return out


def check_name(name: str) -> None:
    if not _VALID.fullmatch(name) or keyword.iskeyword(name):
        raise InputError(f"suite new {name!r}: the name must be lowercase letters, digits and '_', starting with a "
                         "letter (it names the kernel, the family and the files)")
    if name in registry.family_names():
        raise InputError(f"suite new {name!r}: the suite or an installed package already has a family {name!r}; "
                         "choose another name")


def write(name: str, folder: Path) -> list[Path]:
    """Write the scaffold for `name` into `folder` (created); refuses to replace any file."""
    check_name(name)
    texts = files(name)
    existing = [folder / f for f in texts if (folder / f).exists()]
    if existing:
        raise InputError(f"suite new: {', '.join(map(str, existing))} already exist(s); nothing was written "
                         "(give another folder with --dir)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for file_name, text in texts.items():
            path = folder / file_name
            with open(path, "x", encoding="utf-8") as f:  # "x": never over a file made meanwhile
                f.write(text)
            written.append(path)
    except OSError as exc:
        raise InputError(f"suite new: cannot write into {folder}: {exc.strerror}") from None
    return written
