"""Finds the asm statements of preprocessed C++ (g++ -E output, with its `# line "file"` markers) and
parses each just enough: its string literals concatenated, the colon sections of outputs, inputs
and clobbers, each operand's [name], constraint and expression, the file and line it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from suite.emulator.ptx.ptx_text import split_top

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "0": "\0", "?": "?"}


@dataclass
class AsmOperand:
    name: str | None
    constraint: str
    expr: str


@dataclass
class AsmStatement:
    start: int  # span in the preprocessed text, through the closing ';'
    end: int
    file: str
    line: int
    system: bool  # in a system header (line marker flag 3): left alone
    template: str
    sections: int  # how many ':' sections (0: basic asm)
    outputs: list[AsmOperand] = field(default_factory=list)
    inputs: list[AsmOperand] = field(default_factory=list)
    clobbers: list[str] = field(default_factory=list)


class AsmSyntaxError(Exception):
    pass


_ASM = re.compile(r"\b(?:asm|__asm__|__asm)\b")
_MARKER = re.compile(r'^#\s*(?:line\s+)?(\d+)\s+"((?:[^"\\]|\\.)*)"([ \d]*)$', re.M)


def _string_end(text: str, i: int) -> int:
    """Index after the string or char literal starting at text[i]."""
    quote = text[i]
    j = i + 1
    while text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _decode(literal: str) -> str:
    body = literal[1:-1]
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            if nxt == "x":
                m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
                out.append(chr(int(m.group(), 16)))
                i += 2 + m.end()
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _bracket_depths(text: str, i: int = 0):
    """(index, char, depth) of each character of `text` from `i` that lies outside string and char
    literals; depth: brackets open after that character (a closing one already counted off)."""
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _string_end(text, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        yield i, ch, depth
        i += 1


def _balanced(text: str, i: int) -> int:
    """Index of the ')' closing the '(' at text[i]."""
    return next(j for j, _, depth in _bracket_depths(text, i) if depth == 0)


def _split_sections(body: str) -> list[str]:
    """The asm's parenthesised body split at top-level ':' (outside strings and brackets)."""
    cuts = [i for i, ch, depth in _bracket_depths(body) if ch == ":" and depth == 0]
    return [body[a + 1:b] for a, b in zip([-1, *cuts], [*cuts, len(body)])]


def _strings(text: str) -> str:
    """The concatenation of the string literals `text` consists of."""
    out, i = [], _skip_space(text, 0)
    while i < len(text):
        if text[i] != '"':
            m = re.match(r"(u8|u|U|L)?\"", text[i:])
            if not m:
                raise AsmSyntaxError(f"expected a string literal, got {text[i:i + 30]!r}")
            i += len(m.group(1))
        j = _string_end(text, i)
        out.append(_decode(text[i:j]))
        i = _skip_space(text, j)
    return "".join(out)


def _operands(section: str) -> list[AsmOperand]:
    out = []
    for item in split_top(section):
        if not item:
            continue
        m = re.match(r"(?:\[\s*(\w+)\s*\]\s*)?((?:\"(?:[^\"\\]|\\.)*\"\s*)+)\((.*)\)$", item, flags=re.S)
        if not m:
            raise AsmSyntaxError(f"asm operand {item!r} is not '[name] \"constraint\" (expression)'")
        out.append(AsmOperand(m.group(1), _strings(m.group(2)), m.group(3).strip()))
    return out


def find_statements(text: str) -> list[AsmStatement]:
    markers = [(m.start(), int(m.group(1)), m.group(2), "3" in m.group(3).split()) for m in _MARKER.finditer(text)]
    found, i, mi = [], 0, 0
    file, line_base, line_pos, system = "<input>", 1, 0, False
    while True:
        m = _ASM.search(text, i)
        if not m:
            return found
        # Skip matches inside string/char literals or comments: g++ -E output has no comments, and
        # the scan below jumps over every literal it parses; a literal containing "asm" elsewhere
        # is rare enough to check by the preceding quote count on its line.
        line_start = text.rfind("\n", 0, m.start()) + 1
        if text.count('"', line_start, m.start()) % 2 == 1:
            i = m.end()
            continue
        while mi < len(markers) and markers[mi][0] < m.start():
            _, line_base, file, system = markers[mi]
            line_pos = text.find("\n", markers[mi][0]) + 1
            mi += 1
        j = _skip_space(text, m.end())
        while (q := re.match(r"(volatile|__volatile__|__volatile|inline|__inline__|goto)\b", text[j:])):
            j = _skip_space(text, j + q.end())
        if j >= len(text) or text[j] != "(":
            i = m.end()
            continue
        close = _balanced(text, j)
        end = _skip_space(text, close + 1)
        line = line_base + text.count("\n", line_pos, m.start())
        sections = _split_sections(text[j + 1:close])
        try:
            template = _strings(sections[0])
        except AsmSyntaxError:
            i = m.end()
            continue
        has_semicolon = end < len(text) and text[end] == ";"
        st = AsmStatement(m.start(), end + 1 if has_semicolon else close + 1, file, line, system, template,
                          len(sections) - 1)
        if len(sections) > 1:
            st.outputs = _operands(sections[1])
        if len(sections) > 2:
            st.inputs = _operands(sections[2])
        if len(sections) > 3:
            st.clobbers = [_strings(x) for x in split_clobbers(sections[3])]
        found.append(st)
        i = close + 1


def split_clobbers(section: str) -> list[str]:
    return [x for x in split_top(section) if x]
