"""What ptxas really produced: resource usage and SASS instruction counts of one kernel in a CUBIN,
read with `cuobjdump` (the nvidia-cuda-cuobjdump wheel, or a CUDA toolkit's)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass

from suite.errors import BackendUnavailable, KernelCompileError

# Instruction classes summarised for every kernel; `expect` may name others in the same notation.
SUMMARY_CLASSES = ("HMMA", "LDSM", "LDGSTS", "LDG.E.128", "SHFL", "BAR")

_RESOURCE_LINE = re.compile(r"^\s*Function (\S+):\s*\n\s*(REG:.*)$", re.MULTILINE)
_SASS_FUNCTION = re.compile(r"^\s*Function : (\S+)\s*$", re.MULTILINE)
# "/*0090*/   @!P0 LDG.E.128.CONSTANT R4, [R2.64] ;" -> "LDG.E.128.CONSTANT"
_SASS_OPCODE = re.compile(r"^\s*/\*[0-9a-f]+\*/\s+(?:@!?\w+\s+)?([A-Z][A-Z0-9_.]*)", re.MULTILINE)


@dataclass(frozen=True)
class ResourceUsage:
    registers: int
    static_smem: int
    local: int  # bytes per thread outside the ABI stack
    stack: int  # bytes per thread of stack frame: spills and dynamically indexed arrays land here


@dataclass(frozen=True)
class KernelMachineCode:
    usage: ResourceUsage
    opcodes: Counter  # full opcode (with modifiers) -> count

    def count(self, instruction_class: str) -> int:
        """Instructions of a class such as "LDG.E.128": the opcode "LDG" with at least the modifiers
        E and 128, in any order and among others (LDG.E.128.CONSTANT counts)."""
        head, *modifiers = instruction_class.split(".")
        total = 0
        for opcode, n in self.opcodes.items():
            op_head, *op_modifiers = opcode.split(".")
            if op_head == head and set(modifiers) <= set(op_modifiers):
                total += n
        return total


def _find_tool(name: str, wheel: str) -> str:
    from cuda.pathfinder import find_nvidia_binary_utility

    path = find_nvidia_binary_utility(name) or shutil.which(name)
    if not path:
        raise BackendUnavailable(f"{name} not found; install the {wheel} wheel (pip install {wheel}) "
                                 "or put a CUDA toolkit's bin on PATH")
    return path


@functools.lru_cache(maxsize=None)
def _tools() -> tuple[str, dict]:
    """cuobjdump and the environment it runs in: `cuobjdump -sass` calls nvdisasm, which pip
    installs beside it but not on PATH."""
    nvdisasm = _find_tool("nvdisasm", "nvidia-cuda-nvdisasm")
    return _find_tool("cuobjdump", "nvidia-cuda-cuobjdump"), {**os.environ, "NVDISASM_PATH": nvdisasm}


def _cuobjdump(flag: str, cubin_path: str) -> str:
    cuobjdump, env = _tools()
    done = subprocess.run([cuobjdump, flag, cubin_path], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise KernelCompileError(f"cuobjdump {flag} could not read the CUBIN: {done.stderr.strip()}")
    return done.stdout


def read_resource_usage(cubin: bytes) -> dict:
    """{mangled symbol: ResourceUsage} of every kernel of `cubin`, with one cuobjdump run."""
    with tempfile.TemporaryDirectory(prefix="suite-check-") as folder:
        path = os.path.join(folder, "kernel.cubin")
        with open(path, "wb") as file:
            file.write(cubin)
        text = _cuobjdump("-res-usage", path)
    return {name: parse_resource_usage(text, name) for name, _fields in _RESOURCE_LINE.findall(text)}


def parse_resource_usage(text: str, symbol: str) -> ResourceUsage:
    """The `cuobjdump -res-usage` entry of `symbol` ("REG:10 STACK:0 SHARED:0 LOCAL:0 ...")."""
    for name, fields in _RESOURCE_LINE.findall(text):
        if name == symbol:
            values = dict(item.split(":", 1) for item in fields.split())
            return ResourceUsage(int(values["REG"]), int(values["SHARED"]), int(values["LOCAL"]), int(values["STACK"]))
    raise KernelCompileError(f"cuobjdump -res-usage lists no function {symbol}")


def parse_sass_opcodes(text: str, symbol: str) -> Counter:
    """Opcode counts of `symbol` in `cuobjdump -sass` output."""
    headers = list(_SASS_FUNCTION.finditer(text))
    for i, header in enumerate(headers):
        if header.group(1) == symbol:
            end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
            return Counter(_SASS_OPCODE.findall(text, header.end(), end))
    raise KernelCompileError(f"cuobjdump -sass lists no function {symbol}")


def read_machine_code(cubin: bytes, symbol: str) -> KernelMachineCode:
    """Resource usage and opcodes of the kernel `symbol` (a mangled name) in `cubin`."""
    with tempfile.TemporaryDirectory(prefix="suite-check-") as folder:
        path = os.path.join(folder, "kernel.cubin")
        with open(path, "wb") as file:
            file.write(cubin)
        usage = parse_resource_usage(_cuobjdump("-res-usage", path), symbol)
        opcodes = parse_sass_opcodes(_cuobjdump("-sass", path), symbol)
    return KernelMachineCode(usage, opcodes)
