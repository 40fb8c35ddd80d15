"""The host build's entry: does a module need translating (a cheap scan for `asm` in the source
and the headers it includes with quotes), and if so, preprocess, translate and hand back the
command that compiles the result. Builds without inline PTX are unchanged."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from suite.emulator import diagnostics
from suite.emulator.ptx.translate import TranslationError, translate
from suite.errors import KernelCompileError

_ASM = re.compile(r"\b(?:asm|__asm__|__asm)\b")
_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def _include_dirs(command: list[str]) -> list[Path]:
    dirs = []
    for i, arg in enumerate(command):
        if arg.startswith("-I") and len(arg) > 2:
            dirs.append(Path(arg[2:]))
        elif arg == "-I" and i + 1 < len(command):
            dirs.append(Path(command[i + 1]))
    return dirs


_CONDITIONAL = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")


def host_text(text: str) -> str:
    """`text` without the lines of branches that are off on the host: `#ifdef SUITE_HOST ... #else`
    (the GPU's branch after #else) and `#ifndef SUITE_HOST` / `#if !defined(SUITE_HOST)`. Other
    conditions are taken as possibly on: this only decides whether translating can be skipped."""
    out, stack = [], []  # stack: is each open branch off on the host?
    for line in text.splitlines():
        m = _CONDITIONAL.match(line)
        if m:
            word, cond = m.group(1), m.group(2).strip()
            if word in ("if", "ifdef", "ifndef"):
                host = re.fullmatch(r"(defined\s*\(?\s*)?SUITE_HOST\s*\)?", cond)
                not_host = re.fullmatch(r"!\s*defined\s*\(?\s*SUITE_HOST\s*\)?", cond)
                if word == "ifdef" and cond == "SUITE_HOST" or word == "if" and host:
                    stack.append(False)
                elif word == "ifndef" and cond == "SUITE_HOST" or word == "if" and not_host:
                    stack.append(True)
                else:
                    stack.append(None)
            elif word == "else" and stack and stack[-1] is not None:
                stack[-1] = not stack[-1]
            elif word == "elif" and stack:
                # after a branch on the host the rest are off; after one off, it depends
                stack[-1] = True if stack[-1] is False else None
            elif word == "endif" and stack:
                stack.pop()
            continue
        if not any(stack):
            out.append(line)
    return "\n".join(out)


def uses_asm(path: Path, include_dirs: list[Path]) -> bool:
    """Whether `path` or a header it includes with quotes (found beside it or on -I) has `asm`."""
    seen, todo = set(), [Path(path)]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            text = host_text(_COMMENTS.sub(" ", p.read_text(errors="replace")))
        except OSError:
            continue
        if _ASM.search(text):
            return True
        for name in _INCLUDE.findall(text):
            for d in (p.parent, *include_dirs):
                if (d / name).is_file():
                    todo.append((d / name).resolve())
                    break
    return False


def translated_command(command: list[str], wrapper: Path, depfile: Path, what: str) -> list[str]:
    """`command` (g++ ... -MMD -MF depfile wrapper ... ) as is when no source has asm; else it is run
    as g++ -E (writing the depfile), the output translated into wrapper.ptx.ii, and the command
    returned compiles that instead (g++ does not preprocess .ii files again)."""
    from suite.emulator.build import atomic_write, staging_path  # (build imports this module)

    if not uses_asm(wrapper, _include_dirs(command)):
        return command
    preprocessed = staging_path(wrapper.with_suffix(".ii"))
    flags = [a for a in command if a not in ("-shared", str(wrapper)) and not a.endswith((".cpp", ".so"))
             and not a.startswith(("-Wl,", "-l"))]
    try:
        proc = subprocess.run([*flags, "-E", str(wrapper), "-o", str(preprocessed)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise KernelCompileError(f"g++ could not preprocess {what}:\n{diagnostics.trim(proc.stderr)}")
        text = translate(preprocessed.read_text(errors="replace"))
    except TranslationError as exc:
        raise KernelCompileError(f"inline PTX that the host backend cannot run, in {what}:\n{exc}") from None
    finally:
        preprocessed.unlink(missing_ok=True)
    translated = wrapper.with_suffix(".ptx.ii")
    atomic_write(translated, text.encode())
    rest = [a for a in command if a not in ("-MMD", "-MF", str(depfile))]
    return [str(translated) if a == str(wrapper) else a for a in rest]
