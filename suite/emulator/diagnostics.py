"""g++'s diagnostics cut to what a kernel author acts on: each error with its source line and
caret; an error inside a macro of the emulation (`__syncthreads()` after a missing `;`) shown at
the author's line, where g++'s "in expansion of macro" notes say the macro was used; paths
relative to the working directory when inside it."""

from __future__ import annotations

import os
import re
from pathlib import Path

_ERROR = re.compile(r"^(?P<loc>.+?:\d+(?::\d+)?): (?P<kind>(?:fatal )?error): (?P<msg>.*)$")
_LINKER = re.compile(r"^.+?: undefined reference to ")
_EXPANSION = re.compile(r"^(?P<loc>.+?:\d+(?::\d+)?): note: in expansion of macro (?P<macro>.+)$")
_LOCATED = re.compile(r"^.+?:\d+(?::\d+)?: ")


def relative(location: str) -> str:
    """'path:line:col' with the path relative to the working directory when it lies inside it."""
    path, sep, rest = location.partition(":")
    try:
        inside = Path(path).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return location
    return f"{inside}{sep}{rest}" if not str(inside).startswith("..") else location


def _source(lines: list[str], at: int) -> list[str]:
    """The source line and caret g++ prints after the diagnostic at `at`."""
    return [x for x in lines[at + 1 : at + 3] if not _LOCATED.match(x) and not x.startswith("In file included")]


def trim(stderr: str, limit: int = 12) -> str:
    lines = stderr.splitlines()
    kept, errors = [], 0
    for i, line in enumerate(lines):
        error = _ERROR.match(line)
        if not error and not _LINKER.match(line):
            continue
        errors += 1
        if errors > limit:
            kept.append(f"... and more errors ({sum(' error: ' in x for x in lines)} in all)")
            break
        end = next((j for j in range(i + 1, len(lines)) if _ERROR.match(lines[j]) or _LINKER.match(lines[j])), len(lines))
        used = [j for j in range(i + 1, end) if _EXPANSION.match(lines[j])]
        if error and used:  # the last note of the chain is the outermost use: the author's line
            note = _EXPANSION.match(lines[used[-1]])
            kept.append(f"{relative(note['loc'])}: {error['kind']}: {error['msg']} (in macro {note['macro']}, "
                        f"defined at {relative(error['loc'])})")
            kept += _source(lines, used[-1])
        else:
            kept.append(f"{relative(error['loc'])}: {error['kind']}: {error['msg']}" if error else line)
            kept += _source(lines, i)
    return "\n".join(kept) if kept else "\n".join(lines[-30:])
