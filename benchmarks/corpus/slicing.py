"""The device part of a public .cu file, its kernels' text unchanged.

Public kernels live in files that also hold host code (main, cudaMalloc, <<<...>>> launches, cuBLAS)
that g++ cannot build without the CUDA runtime. This keeps every top-level item a kernel may use
(preprocessor lines, types, templates, `__global__`/`__device__` functions, `__constant__` and
`__shared__` data) and drops host functions, host-library includes and declarations of host-library
objects. Local `#include "x.h"` files are inlined (sliced the same way, once each) so that their host
code goes too. Line numbers stay those of the original files (`#line`), so diagnostics name them.
"""

from __future__ import annotations

import re
from pathlib import Path

# Headers of the CUDA runtime and host libraries: the emulation provides what kernels use of the first.
HOST_HEADERS = re.compile(
    r"^(cuda_runtime(_api)?|cuda|cuda_profiler_api|device_launch_parameters|driver_types|cublas\w*|cublasLt"
    r"|cudnn\w*|nccl|nvtx3?/.*|nvToolsExt|helper_\w+|exception|cuda_runtime_api|mpi|omp|torch/\w+|ATen/\w+|c10/\S+)\.h$"
)
# A declaration naming one of these is host-side state (handles, device properties, timers).
HOST_TOKENS = re.compile(r"\b(cublas\w*|cudnn\w*|nccl\w*|cudaDeviceProp|cudaEvent_t|cudaStream_t|StopWatch\w*"
                         r"|cudaError_t|FILE)\b")
DEVICE = re.compile(r"\b(__global__|__device__)\b")
AGGREGATE = re.compile(r"^\s*(template\s*<.*>\s*)?(struct|class|union|enum|typedef)\b", re.S)
BLOCK = re.compile(r"^\s*(namespace\b|extern\s*\"C(\+\+)?\"\s*$)", re.S)


class SliceError(Exception):
    """A file that cannot be read or scanned (unbalanced braces, a missing local include)."""


def device_code(path: Path, include_dirs=(), _seen=None) -> str:
    """The device part of `path` and of the local headers it includes (found beside the including
    file, then in include_dirs)."""
    path = Path(path)
    seen = set() if _seen is None else _seen
    seen.add(path.resolve())
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise SliceError(f"{path}: cannot read ({exc.strerror})") from exc
    out = [f'#line 1 "{path}"\n']
    for kind, chunk, line in _items(text, path):
        if kind == "pp":
            out.append(_preprocessor(chunk, path, line, include_dirs, seen))
        elif _keep(chunk):
            out.append(chunk)
        else:
            out.append("\n" * chunk.count("\n"))  # keeps the following line numbers
    return "".join(out)


def _preprocessor(chunk: str, path: Path, line: int, include_dirs, seen) -> str:
    m = re.match(r'\s*#\s*include\s*([<"])([^>"]+)[>"]', chunk)
    if not m:
        return chunk
    name = m.group(2)
    if HOST_HEADERS.match(name):
        return "\n" * chunk.count("\n")
    if m.group(1) == '"':
        for directory in (path.parent, *map(Path, include_dirs)):
            found = directory / name
            if found.is_file():
                if found.resolve() in seen:
                    return "\n" * chunk.count("\n")
                inlined = device_code(found, include_dirs, seen)
                return f"{inlined}\n#line {line + chunk.count(chr(10))} \"{path}\"\n"
    return chunk  # a toolkit header: the build finds it, or says it cannot


def _keep(item: str) -> bool:
    code = re.sub(r"//[^\n]*|/\*.*?\*/", " ", item, flags=re.S)
    head = code.split("{", 1)[0]
    if not code.strip():
        return True
    if BLOCK.match(head) or AGGREGATE.match(head):
        return not HOST_TOKENS.search(head)
    if "{" in code and "(" in head and not head.rstrip().endswith("="):
        return bool(DEVICE.search(head))  # a function definition: device code only
    if re.search(r"\bmain\s*\(", head):
        return False
    if re.match(r"\s*(extern\s+)?template\s+(?!<)", code) and not DEVICE.search(code):
        return False  # an explicit instantiation of a host template (its definition is gone)
    return not HOST_TOKENS.search(code)


def _items(text: str, path: Path):
    """(kind, text, first line) for each top-level item: 'pp' for a preprocessor directive (with its
    continuation lines), 'item' for a declaration or definition (with the comments before it)."""
    i, n, depth, start, line, start_line = 0, len(text), 0, 0, 1, 1
    at_line_start, has_code = True, False  # has_code: the current item has more than comments
    while i < n:
        c = text[i]
        if at_line_start and depth == 0 and c == "#" and not has_code:
            if i > start:
                yield "item", text[start:i], start_line
            j = i
            while True:
                end = text.find("\n", j)
                end = n if end < 0 else end + 1
                if not text[j:end].rstrip("\r\n").endswith("\\") or end >= n:
                    break
                j = end
            chunk = text[i:end]
            yield "pp", chunk, line
            line += chunk.count("\n")
            i = start = end
            start_line = line
            at_line_start, has_code = True, False
            continue
        if c == "\n":
            line += 1
            at_line_start = True
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        at_line_start = False
        has_code = has_code or not (text.startswith("//", i) or text.startswith("/*", i))
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
            continue
        if c in "\"'" and not (c == "'" and text[i - 1 : i].isdigit()):  # 1'000: a digit separator
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            line += text.count("\n", i, j)
            i = j + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                raise SliceError(f"{path}:{line}: unbalanced '}}'")
            if depth == 0:
                head = text[start:i].split("{", 1)[0]
                code_head = re.sub(r"//[^\n]*|/\*.*?\*/", " ", head, flags=re.S)
                if not (AGGREGATE.match(code_head) or code_head.rstrip().endswith("=")) or BLOCK.match(code_head):
                    i += 1
                    yield "item", text[start:i], start_line
                    start, start_line, has_code = i, line, False
                    continue
        elif c == ";" and depth == 0:
            i += 1
            yield "item", text[start:i], start_line
            start, start_line, has_code = i, line, False
            continue
        i += 1
    if depth:
        raise SliceError(f"{path}: unbalanced braces ({depth} left open at the end)")
    if text[start:].strip():
        yield "item", text[start:], start_line
