"""Building kernels for the host backend: the g++ command line, the generated wrapper and the cache.

A module is one shared library holding the kernel source, compiled with the emulation header
(suite/emulator/include/cuda_host.h) force-included, plus a generated wrapper that exports, per name
expression, a launcher and a signature (suite/emulator/include/emu/launch.h). Modules link against one
runtime library (suite/emulator/runtime/*.cpp), built once per cache key.

Builds are cached on disk ($SUITE_CACHE_DIR, else ~/.cache/rawkernel-suite/host) under a hash of
everything that goes into them, so a second run compiles nothing; files are written under a
temporary name and renamed, so concurrent processes never see half a library.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from suite import KERNELS_DIR
from suite.emulator import EMULATOR_DIR, INCLUDE_DIR, PROFILE_DIR, RUNTIME_DIR, diagnostics, lane_plan
from suite.emulator.cpu_flags import cpu_has_fma, module_speed_flags
from suite.emulator.lanes import Fission, fission, lane_expression
from suite.emulator.ptx import hook as ptx_hook
from suite.errors import BackendUnavailable, InputError, KernelCompileError

COMMON_DIR = KERNELS_DIR / "common"
API_INCLUDE_DIR = INCLUDE_DIR / "api"  # the CUDA headers a kernel #includes, as the emulation provides them
COMPILER = "g++"
BASE_FLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-pthread")
# A misaligned access faults on a GPU, in every launch: each dereference is checked against its
# type's alignment (UBSan's check; the handler is the runtime's, suite/emulator/runtime/faults.cpp,
# so this flag is for compiling only: at link time it would pull in libubsan). Recoverable: under
# memcheck the handler returns and memcheck reports the access with its argument and offset.
ALIGNMENT_FLAGS = ("-fsanitize=alignment",)
# Kernels type-pun freely (reinterpret_cast between float4 and __half2, ...), as nvcc tolerates.
# Stack clash protection probes every page of a large stack frame, so a kernel's local arrays
# that overflow its fiber stack hit the guard page instead of the next fiber's stack.
# --no-undefined: a function the emulation lacks fails the link, named (not_emulated), not the load.
MODULE_FLAGS = ("-fno-strict-aliasing", "-fvisibility=hidden", "-fstack-clash-protection", "-Wl,--no-undefined",
                *ALIGNMENT_FLAGS)
# Checked builds (HostBackend(checks=...)): g++'s ThreadSanitizer instrumentation turns every
# load and store of kernel code into a call (__tsan_read4(address), __tsan_write4, ...) that the
# runtime defines itself (suite/emulator/runtime/checks.cpp); libtsan is never linked (no default
# libraries; the ones a module needs are named in CHECKED_LIBS). Unlike ASan's, these calls tell a
# read from a write and are made for every access. Line tables name the code; vectorisation and
# store merging are off so that each access is one the source wrote. g++ does not instrument a
# store of a call's result (`*p = __float2half_rn(v)`: the call writes its return slot), so calls
# are inlined whatever their size: fp16/bf16 stores were otherwise unseen by every check.
CHECKED_FLAGS = (
    "-DSUITE_HOST_CHECKED",
    "-fsanitize=thread",
    "--param=tsan-instrument-func-entry-exit=0",
    "--param=tsan-distinguish-volatile=1",
    "-Wno-tsan",
    "-nodefaultlibs",
    "-g1",
    "-fno-tree-vectorize",
    "-fno-store-merging",
    "-finline-limit=100000",
)
CHECKED_LIBS = ("-lstdc++", "-lm", "-lc", "-lgcc_s", "-lgcc")
# The runtime siglongjmps from signal handlers and fibers, which fortified longjmp refuses.
RUNTIME_FLAGS = ("-U_FORTIFY_SOURCE",)
MAX_EXTERN_SHARED_BYTES = 227 * 1024  # the largest opt-in dynamic shared memory (sm_90)

_compiler_runs = 0


def compiler_runs() -> int:
    """How many libraries this process compiled (the build cache's tests read it)."""
    return _compiler_runs


def cache_dir() -> Path:
    root = os.environ.get("SUITE_CACHE_DIR")
    path = Path(root) / "host" if root else Path.home() / ".cache" / "rawkernel-suite" / "host"
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.lru_cache(maxsize=None)
def compiler_identity() -> str:
    try:
        out = subprocess.run([COMPILER, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BackendUnavailable(
            f"the host backend compiles kernels with {COMPILER}, which cannot run here ({exc}); install g++ (C++17)"
        ) from exc
    return out.strip()


@functools.lru_cache(maxsize=None)
def nvidia_include_dir() -> Path:
    """Where cuda_fp16.h, cuda_bf16.h and vector_types.h are: NVIDIA's pip wheel, else a toolkit."""
    candidates = []
    try:
        from cuda.pathfinder import find_nvidia_header_directory

        found = find_nvidia_header_directory("cudart")
        if found:
            candidates.append(Path(found))
    except Exception:  # pathfinder absent or confused: the toolkit locations below still apply
        pass
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]) / "include")
    candidates.append(Path("/usr/local/cuda/include"))
    for directory in candidates:
        if (directory / "cuda_fp16.h").is_file() and (directory / "vector_types.h").is_file():
            return directory
    raise BackendUnavailable(
        "the host backend needs NVIDIA's cuda_fp16.h/cuda_bf16.h headers: pip install nvidia-cuda-runtime "
        "(found through cuda-pathfinder), or set CUDA_HOME to a CUDA toolkit"
    )


def cccl_include_flags() -> list[str]:
    """libcu++ (<cuda/std/...>, <cuda/atomic>, ...) from NVIDIA's CCCL wheel (nvidia-cuda-cccl),
    which keeps it in include/cccl beside the runtime's headers; a toolkit has it in include/."""
    cccl = nvidia_include_dir() / "cccl"
    return ["-isystem", str(cccl)] if (cccl / "cuda" / "std").is_dir() else []


def digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _tree_digest() -> str:
    """Every file of the emulation and of the shared device helpers: a change rebuilds everything."""
    parts = []
    for root in (INCLUDE_DIR, RUNTIME_DIR, PROFILE_DIR, COMMON_DIR):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            parts += [path.relative_to(root.parent).as_posix(), path.read_bytes()]
    # What the inline-PTX translator writes, and the lane plan saved beside each library.
    for path in [*sorted((EMULATOR_DIR / "ptx").glob("*.py")), EMULATOR_DIR / "lane_plan.py"]:
        parts += [path.name, path.read_bytes()]
    return digest(*parts)


def atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def run_compiler(command: list[str], output: Path, what: str, counted: bool = True) -> None:
    """Runs g++ into `output` (a name private to this process; the caller renames it); `counted`:
    the first step of a library's build (compiler_runs counts libraries, not steps)."""
    global _compiler_runs
    _compiler_runs += counted
    proc = subprocess.run([*command, "-o", str(output)], capture_output=True, text=True)
    if proc.returncode != 0:
        output.unlink(missing_ok=True)
        missing = not_emulated(proc.stderr)
        if missing:
            raise KernelCompileError(
                f"{what} calls what the host backend does not emulate: not emulated: {', '.join(missing)}\n"
                f"{diagnostics.trim(proc.stderr)}"
            )
        raise KernelCompileError(f"g++ could not compile {what}:\n{diagnostics.trim(proc.stderr)}")


def not_emulated(linker_errors: str) -> list[str]:
    """The functions a module calls that nothing defines (the linker's "undefined reference to
    `name(args)'"): a declaration without an emulation, e.g. glibc's internal __exp2f."""
    names = re.findall(r"undefined reference to [`'](.+?)'", linker_errors)
    return sorted({re.sub(r"\(.*", "", name) for name in names})


def staging_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def runtime_library(fibers: str = "auto") -> Path:
    """The runtime shared by all modules. fibers: 'auto' (hand-written switch on x86-64) or 'ucontext'.
    It lives beside the modules, which find it there ($ORIGIN) in every later process."""
    return _runtime_library(fibers, cache_dir())


@functools.lru_cache(maxsize=None)
def _runtime_library(fibers: str, directory: Path) -> Path:
    if fibers not in ("auto", "ucontext"):
        raise InputError(f"SUITE_HOST_FIBERS={fibers!r}: expected 'auto' or 'ucontext'")
    flags = [*BASE_FLAGS, *RUNTIME_FLAGS, *(["-DSUITE_HOST_UCONTEXT"] if fibers == "ucontext" else [])]
    key = digest(compiler_identity(), flags, _tree_digest())[:20]
    name = f"libsuite_host_rt-{key}.so"
    path = directory / name
    if not path.exists():
        sources = sorted(str(p) for p in RUNTIME_DIR.glob("*.cpp"))
        staging = staging_path(path)
        run_compiler([COMPILER, *flags, f"-Wl,-soname,{name}", *sources], staging, "the host runtime (suite/emulator/runtime)")
        os.replace(staging, path)
    return path


# ---- options ------------------------------------------------------------------------------------

# nvcc/NVRTC flags that change only GPU code generation: accepted and ignored on the CPU.
_IGNORED_OPTIONS = re.compile(
    r"^(--?use_fast_math|-lineinfo|--generate-line-info|-G|--device-debug|-w|--disable-warnings|-restrict|--restrict"
    r"|--?(arch|gpu-architecture|gpu-code|prec-div|prec-sqrt|maxrregcount|relocatable-device-code|rdc"
    r"|extra-device-vectorization|dopt|default-device|device-as-default-execution-space)(=[\w.,+-]*)?"
    r"|-Xptxas=?.*|--ptxas-options=.*)$"
)


# The GPU compilers' numerics switches the host build follows (numerics_setting).
_NUMERICS_OPTION = re.compile(r"^--?(fmad|ftz)=(true|false)$")
# nvcc and NVRTC contract by default; CuPy appends -ftz=true to every NVRTC compile, and the host
# backend stands in for CuPy's RawModule.
_NUMERICS_DEFAULTS = {"fmad": True, "ftz": True}


def numerics_setting(options, name: str) -> bool:
    """The value of --fmad or -ftz that `options` give (the last one wins), else the default."""
    value = _NUMERICS_DEFAULTS[name]
    for opt in options:
        if isinstance(opt, str) and (m := _NUMERICS_OPTION.match(opt)) and m.group(1) == name:
            value = m.group(2) == "true"
    return value


def contraction_flags(options) -> list[str]:
    """FMA contraction as nvcc/NVRTC do: `a*b + c` becomes one fused multiply-add unless the
    options say --fmad=false. g++ contracts only with -ffp-contract=fast and an FMA instruction to
    contract to (-mfma; x86-64's baseline has none)."""
    if numerics_setting(options, "fmad") and cpu_has_fma():
        return ["-ffp-contract=fast", "-mfma"]
    return ["-ffp-contract=off"]


def ftz_flags(options) -> list[str]:
    """-ftz=true: single-precision denormals flush to zero (include/emu/float_mode.h)."""
    return [f"-D__SUITE_FTZ={int(numerics_setting(options, 'ftz'))}"]


def translate_options(options) -> list[str]:
    """CuPy/NVRTC-style options -> g++ flags. Only macros, include paths and the language standard
    reach g++; --fmad and -ftz pick the numerics (contraction_flags, ftz_flags); other GPU-only flags are dropped;
    anything else is refused (it never reaches a shell)."""
    flags = []
    for opt in options:
        if not isinstance(opt, str) or "\n" in opt or "\0" in opt:
            raise InputError(f"compiler option {opt!r} must be a single-line string")
        if _NUMERICS_OPTION.match(opt):
            continue
        if m := re.match(r"^--?(fmad|ftz)\b", opt):
            raise InputError(f"compiler option {opt!r}: expected --{m.group(1)}=true or --{m.group(1)}=false")
        if re.match(r"^-[DU][A-Za-z_]\w*(=.*)?$", opt):
            flags.append(opt)
        elif re.match(r"^-I.+$", opt):
            flags.append(opt)
        elif m := re.match(r"^--?std=c\+\+(\d\d)$", opt):
            # The emulation itself needs C++17: an older standard is compiled as C++17.
            older = m.group(1) in ("98", "03", "11", "14")
            flags.append("-std=c++17" if older else f"-std=c++{m.group(1)}")
        elif not _IGNORED_OPTIONS.match(opt):
            raise InputError(
                f"compiler option {opt!r} is not supported by the host backend; it accepts -D, -U, -I, -std=c++NN "
                "and ignores GPU-only flags such as --use_fast_math, -lineinfo and -arch=sm_XX"
            )
    return flags


# ---- modules ------------------------------------------------------------------------------------

_NAME_EXPRESSION = re.compile(r"^[A-Za-z_:][\w:<>,\s*&()\[\].+-]*$")


def check_name_expression(name: str) -> None:
    if not isinstance(name, str) or not _NAME_EXPRESSION.match(name):
        raise InputError(f"kernel name expression {name!r} is not a C++ function name or template-id")


LANE_ENTRY = "suite_lanes_"


def wrapper_text(source: Path, names, rewrite: Fission | None) -> str:
    """The generated translation unit: the source, then (plain builds, `rewrite` not None) its
    kernels' lane-loop rewrites (suite/emulator/lanes) and a lane entry per kernel, then a launcher
    and a signature per kernel. Checked builds (`rewrite` None) get no lane entries."""
    lines = [
        f"// Generated by suite.emulator.build for {source}: one launcher and signature per kernel.",
        f'#include "{source}"',
    ]
    if rewrite is not None and rewrite.code:
        lines.append(rewrite.code)
    # The parameters have reserved names: a kernel named like one (`f`, `n`) would be hidden by it.
    for i, name in enumerate(names):
        if rewrite is not None:
            rewritten = lane_expression(name, rewrite.lane_functions)
            lines += [
                # The lane entry: lane_plan reads from the object file whether it may run (lane loops).
                f'extern "C" void {LANE_ENTRY}{i}(void* __suite_call, const suite_host_thread* __suite_block) {{',
                f"    suite_host::run_lanes<&{name}, {f'&{rewritten}' if rewritten else 'nullptr'}>(__suite_call, __suite_block);",
                "}",
            ]
        lines += [
            f'extern "C" __attribute__((visibility("default"))) int suite_launch_{i}(',
            "    const suite_host_launch_config* __suite_config, void* const* __suite_argv, suite_host_fault* __suite_fault) {",
            f"    return suite_host::launch(&{name}, {f'{LANE_ENTRY}{i}' if rewrite is not None else 'nullptr'}, "
            "__suite_config, __suite_argv, __suite_fault);",
            "}",
            f'extern "C" __attribute__((visibility("default"))) const suite_host_param* suite_signature_{i}(int* __suite_count) {{',
            f"    return suite_host::signature(&{name}, __suite_count);",
            "}",
        ]
    return "\n".join(lines) + "\n"


def strip_comments(code: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", code, flags=re.S)


EXTERN_SHARED_WINDOW = "__suite_extern_shared"


def undefined_tls_symbols(obj: Path) -> tuple[list[str], list[str]]:
    """The thread-local variables an object file uses but does not define: its `extern __shared__`
    arrays (the emulation header makes __shared__ thread_local), mangled, wherever declared
    (namespaces, functions, templates); and the TLS init functions (_ZTH...) it refers to."""
    out = subprocess.run(["readelf", "-sW", str(obj)], capture_output=True, text=True, check=True).stdout
    variables = re.findall(r"^\s*\d+: 0+\s+0 TLS\s+GLOBAL\s+\w+\s+UND (\S+)$", out, re.M)
    inits = re.findall(r"^\s*\d+: 0+\s+0 NOTYPE\s+WEAK\s+\w+\s+UND (_ZTH\S+)$", out, re.M)
    return sorted(set(variables)), sorted(set(inits))


def extern_shared_assembly(variables, inits) -> str:
    """Storage for the extern __shared__ arrays: one window per running block (a thread-local
    block of the largest opt-in size) that every such array names, as on a GPU, where all of them
    start at the dynamic shared memory's first byte (kernels declaring one per type rely on it).
    Their TLS init functions do nothing: g++ calls them unguarded from templates (a call to 0x0)."""
    lines = ['.section .tbss,"awT",@nobits', ".p2align 10"]  # 1024: what TMA and swizzled tiles need
    for name in [EXTERN_SHARED_WINDOW, *variables]:
        lines += [f".globl {name}", f".hidden {name}", f".type {name}, @object", f".size {name}, {MAX_EXTERN_SHARED_BYTES}",
                  f"{name}:"]
    lines += [f".zero {MAX_EXTERN_SHARED_BYTES}", ".text"]
    for name in inits:
        lines += [f".globl {name}", f".hidden {name}", f".type {name}, @function", f"{name}:", "ret"]
    return "\n".join(lines) + "\n"


def _parse_depfile(text: str) -> list[str]:
    body = text.replace("\\\n", " ").split(":", 1)[1]
    return [p.replace("\\ ", " ") for p in re.findall(r"(?:\\ |\S)+", body)]


# A profiled build is a checked one whose wrappers also mark what suite profile counts
# (common/profile_marks.cuh). Its own library: a checked build loaded before the profiler would
# keep its marks unbound for the rest of the process.
PROFILED_FLAGS = (*CHECKED_FLAGS, "-DSUITE_HOST_PROFILED")
# Plain builds: a section per function, so that lane_plan reads what each lane entry can reach.
LANE_PLAN_FLAGS = ("-ffunction-sections",)


def module_flags(source: Path, options, checked: bool = False, profiled: bool = False) -> list[str]:
    return [
        *BASE_FLAGS,
        *(() if checked or profiled else module_speed_flags()),  # -O3 and the CPU's features (cpu_flags.py)
        *(() if checked or profiled else LANE_PLAN_FLAGS),
        *MODULE_FLAGS,
        *(PROFILED_FLAGS if profiled else CHECKED_FLAGS if checked else ()),
        "-include",
        str(INCLUDE_DIR / "cuda_host.h"),
        *translate_options(options),
        *contraction_flags(options),
        *ftz_flags(options),
        f"-I{source.parent}",
        f"-I{KERNELS_DIR}",
        # CUDA's headers as the emulation provides them (cooperative_groups.h, mma.h,
        # cuda_pipeline.h, ...) come before NVIDIA's, which are written for nvcc's device compilation.
        "-isystem",
        str(API_INCLUDE_DIR),
        "-isystem",
        str(nvidia_include_dir()),
        *cccl_include_flags(),
        # Stand-ins for the few NVIDIA headers the pip wheel lacks; a toolkit's own come first.
        "-idirafter",
        str(INCLUDE_DIR / "compat"),
    ]


# A source's lane rewrite, once per text: a module's load plans its build twice (cached_module,
# then build_module), and each backend of a process loads the same sources again.
_rewrite = functools.lru_cache(maxsize=128)(fission)


def _module_plan(source: Path, names, options, fibers: str, checked: bool, profiled: bool):
    """What a module build compiles, and its cache key: (source, names, flags, wrapper, key)."""
    source = Path(source).resolve()
    if not source.is_file():
        raise InputError(f"kernel source {source} does not exist")
    names = tuple(names)
    if not names:
        raise InputError(f"no kernel name expressions given for {source}")
    for name in names:
        check_name_expression(name)
    runtime = runtime_library(fibers)
    checked = checked or profiled
    flags = module_flags(source, options, checked, profiled)
    rewrite = None if checked else _rewrite(source.read_text(errors="replace"), str(source))
    wrapper = wrapper_text(source, names, rewrite)
    key = digest(wrapper, source.read_bytes(), _tree_digest(), flags, compiler_identity(), runtime.name)[:24]
    return source, names, flags, rewrite, key


def _cached(key: str) -> Path | None:
    # The sources a build read (the kernel's own #includes too) are listed beside it; their
    # contents are part of the library's name, so editing any of them rebuilds.
    manifest = cache_dir() / f"mod-{key}.deps.json"
    if manifest.exists():
        library = cache_dir() / f"mod-{key}-{_deps_digest(json.loads(manifest.read_text()))}.so"
        if library.exists():
            return library
    return None


def cached_module(source: Path, names, options=(), fibers: str = "auto", checked: bool = False,
                  profiled: bool = False) -> Path | None:
    """The library build_module would return, if the cache already has it (nothing is compiled)."""
    return _cached(_module_plan(source, names, options, fibers, checked, profiled)[-1])


def build_module(source: Path, names, options=(), fibers: str = "auto", checked: bool = False,
                 profiled: bool = False) -> Path:
    """The shared library for `names` of `source` (compiled unless the cache has it); `checked`:
    the instrumented build the checks run; `profiled`: that build with suite profile's marks
    (each cached beside the plain one)."""
    source, names, flags, rewrite, key = _module_plan(source, names, options, fibers, checked, profiled)
    library = _cached(key)
    if library is not None:
        return library
    checked = checked or profiled
    runtime = runtime_library(fibers)
    directory = cache_dir()
    manifest = directory / f"mod-{key}.deps.json"
    wrapper_path = directory / f"mod-{key}.wrapper.cpp"
    depfile = staging_path(directory / f"mod-{key}.d")
    obj = staging_path(directory / f"mod-{key}.o")
    shared = directory / f"mod-{key}.{os.getpid()}.shared.s"  # g++ assembles it for its suffix
    staging = staging_path(directory / f"mod-{key}.so")
    what = f"{diagnostics.relative(str(source))} (kernels {', '.join(names)}) for the host backend"
    try:
        # Compiled, then linked with storage for whatever extern __shared__ arrays the object uses.
        compile_command = [COMPILER, *flags, "-c", "-MMD", "-MF", str(depfile), str(wrapper_path)]
        # Inline PTX: preprocessed and translated (suite/emulator/ptx); other builds are unchanged.

        def compile_object(rewrite):
            atomic_write(wrapper_path, wrapper_text(source, names, rewrite).encode())
            run_compiler(ptx_hook.translated_command(compile_command, wrapper_path, depfile, what), obj, what)

        try:
            compile_object(rewrite)
        except KernelCompileError as exc:
            if rewrite is None or not rewrite.code:
                raise
            # The rewrite's own fault (the source alone may still build): those kernels keep fibers.
            first = next((line for line in str(exc).splitlines() if "error" in line), str(exc).splitlines()[0])
            failed = dict.fromkeys(rewrite.lane_functions, f"it did not compile ({first.strip()})")
            rewrite = Fission("", {}, {**rewrite.refused, **failed})
            compile_object(rewrite)
        lanes = None if checked else lane_plan.plan(obj, names, LANE_ENTRY, rewrite, runtime)
        atomic_write(shared, extern_shared_assembly(*undefined_tls_symbols(obj)).encode())
        link_flags = [f for f in flags if f not in ALIGNMENT_FLAGS]
        command = [COMPILER, *link_flags, str(obj), str(shared), str(runtime), "-Wl,-rpath,$ORIGIN",
                   *(CHECKED_LIBS if checked else ())]
        run_compiler(command, staging, what, counted=False)
        deps = sorted({str(Path(p).resolve()) for p in _parse_depfile(depfile.read_text())})
        library = directory / f"mod-{key}-{_deps_digest(deps)}.so"
        if lanes is not None:
            atomic_write(lane_plan.sidecar(library), json.dumps(lanes).encode())
        os.replace(staging, library)
        atomic_write(manifest, json.dumps(deps).encode())
    finally:
        for leftover in (depfile, obj, shared, staging):
            if leftover.exists():
                leftover.unlink()
    return library


def _deps_digest(paths) -> str:
    parts = []
    for p in paths:
        try:
            parts += [p, Path(p).read_bytes()]
        except OSError:
            parts += [p, b"<missing>"]
    return digest(*parts)[:16]


def source_for_code(code: str) -> Path:
    """A file holding `code` (CuPy-style code strings), named after its hash, so that compiler
    diagnostics name a file the user can open."""
    directory = cache_dir() / "sources"
    directory.mkdir(exist_ok=True)
    path = directory / f"kernel-{digest(code)[:16]}.cu"
    if not path.exists():
        atomic_write(path, code.encode())
    return path
