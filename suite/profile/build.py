"""The profiler's library (suite/emulator/profile/profile_observer.cpp): the observer that the host
backend's instrumented builds report every access to, the wrappers' marks, and the counting model.
Built once per cache key beside the host builds, linked against the runtime it observes."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from suite.emulator import INCLUDE_DIR, PROFILE_DIR, build as hb


@functools.lru_cache(maxsize=None)
def profiler_library(runtime: Path) -> Path:
    sources = sorted(p for p in PROFILE_DIR.iterdir() if p.is_file())
    flags = [*hb.BASE_FLAGS, f"-I{INCLUDE_DIR}"]
    key = hb.digest(hb.compiler_identity(), flags, runtime.name, *(p.read_bytes() for p in sources))[:20]
    path = runtime.parent / f"libsuite_profile-{key}.so"
    if not path.exists():
        staging = hb.staging_path(path)
        hb.run_compiler([hb.COMPILER, *flags, str(PROFILE_DIR / "profile_observer.cpp"), str(runtime), "-Wl,-rpath,$ORIGIN"],
                    staging, "the profiler (suite/emulator/profile)")
        os.replace(staging, path)
    return path
