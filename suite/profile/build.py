"""Building a kernel module for `suite profile`: the host backend's module (host_build), compiled with
g++'s address-sanitizer instrumentation as plain calls (one hook call per load and store) and
debug line tables, linked with the hook that records them (kernels_cu/profile/profile_hook.cpp).
Cached beside the plain builds under a key of everything that goes in, as host_build does.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from suite import KERNELS_DIR
from suite.backends import host_build as hb
from suite.errors import InputError

PROFILE_DIR = KERNELS_DIR / "profile"
HOOK_SOURCE = PROFILE_DIR / "profile_hook.cpp"
INSTRUMENT_FLAGS = (
    "-g",
    "-include", str(PROFILE_DIR / "profile.h"),
    "-fsanitize=kernel-address",  # no sanitizer runtime: the hook defines the __asan_* calls
    "--param", "asan-instrumentation-with-call-threshold=0",
    "--param", "asan-stack=0",
    "--param", "asan-globals=0",
)


def _profile_digest() -> str:
    return hb._digest(*(p.read_bytes() for p in sorted(PROFILE_DIR.iterdir()) if p.is_file()))


@functools.lru_cache(maxsize=None)
def hook_object(directory: Path) -> Path:
    """The hook, compiled once without instrumentation (it must not call itself)."""
    flags = ["-std=c++17", "-O2", "-fPIC", "-c"]
    path = directory / f"profile-hook-{hb._digest(hb.compiler_identity(), flags, _profile_digest())[:20]}.o"
    if not path.exists():
        staging = hb._staging(path)
        hb._compile([hb.COMPILER, *flags, str(HOOK_SOURCE)], staging, "the profiling hook (kernels_cu/profile)")
        os.replace(staging, path)
    return path


@functools.lru_cache(maxsize=None)
def counting_library(runtime: Path) -> Path:
    """The hook alone as a library, for counting records made up outside a launch (the tests)."""
    hook = hook_object(runtime.parent)
    path = runtime.parent / f"profile-count-{hb._digest(hook.name, runtime.name)[:20]}.so"
    if not path.exists():
        staging = hb._staging(path)
        hb._compile([hb.COMPILER, "-shared", str(hook), str(runtime), "-Wl,-rpath,$ORIGIN"], staging,
                    "the profiling hook's counting library")
        os.replace(staging, path)
    return path


def build_profiled_module(source: Path, names, options=(), fibers: str = "auto") -> Path:
    """The instrumented shared library for `names` of `source` (compiled unless cached)."""
    source = Path(source).resolve()
    if not source.is_file():
        raise InputError(f"kernel source {source} does not exist")
    names = tuple(names)
    for name in names:
        hb.check_name_expression(name)
    runtime = hb.runtime_library(fibers)
    directory = hb.cache_dir()
    hook = hook_object(directory)
    flags = [*hb.module_flags(source, options), *INSTRUMENT_FLAGS]
    wrapper = hb.wrapper_text(source, names)
    extra = hb.extern_shared_text(source.read_text(errors="replace"))
    key = hb._digest(wrapper, extra, source.read_bytes(), hb._tree_digest(), _profile_digest(), flags,
                     hb.compiler_identity(), runtime.name, hook.name)[:24]
    manifest = directory / f"prof-{key}.deps.json"
    if manifest.exists():
        library = directory / f"prof-{key}-{hb._deps_digest(json.loads(manifest.read_text()))}.so"
        if library.exists():
            return library
    inputs = [directory / f"prof-{key}.wrapper.cpp"]
    hb._atomic_write(inputs[0], wrapper.encode())
    if extra:
        inputs.append(directory / f"prof-{key}.shared.cpp")
        hb._atomic_write(inputs[1], extra.encode())
    depfile, staging = hb._staging(directory / f"prof-{key}.d"), hb._staging(directory / f"prof-{key}.so")
    try:
        command = [hb.COMPILER, *flags, "-MMD", "-MF", str(depfile), *map(str, inputs), str(hook), str(runtime),
                   "-Wl,-rpath,$ORIGIN"]
        hb._compile(command, staging, f"{source} (kernels {', '.join(names)}) for profiling")
        deps = sorted({str(Path(p).resolve()) for p in hb._parse_depfile(depfile.read_text())})
        library = directory / f"prof-{key}-{hb._deps_digest(deps)}.so"
        os.replace(staging, library)
        hb._atomic_write(manifest, json.dumps(deps).encode())
    finally:
        for leftover in (depfile, staging):
            if leftover.exists():
                leftover.unlink()
    return library
