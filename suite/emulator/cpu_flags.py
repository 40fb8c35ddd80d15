"""The optimisation flags of plain (unchecked) kernel modules: -O3 and the instruction sets this CPU
has, named explicitly rather than by -march=native so that the flags (part of each build's cache
key) say which features a library uses: a cache moved to a CPU without them rebuilds instead of
running illegal instructions.

Floating-point contraction is not ours to choose: the "headers" side (device_math, issue #25's
numerics) owns -ffp-contract. The -ffp-contract=off here states what -std=c++17 (an ISO mode)
already does, so that -mfma never fuses a*b+c behind their back; theirs comes later on the
command line and wins.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

# x86-64 features the emulation profits from (F16C: fp16 conversions; AVX2/FMA: vector loops and
# fmaf), all or none: together they are the x86-64-v3 level every build machine of the last decade has.
X86_FEATURES = ("avx2", "fma", "f16c")


def cpu_features(cpuinfo: str | None = None) -> frozenset[str]:
    """The feature flags /proc/cpuinfo lists for this CPU (empty where it cannot be read)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def optimisation_flags(features: frozenset[str], machine: str) -> tuple[str, ...]:
    isa = tuple(f"-m{f}" for f in X86_FEATURES) if machine == "x86_64" and set(X86_FEATURES) <= features else ()
    return ("-O3", *isa, "-ffp-contract=off")


@functools.lru_cache(maxsize=None)
def module_speed_flags() -> tuple[str, ...]:
    """For this machine: -O3, the -m flags of the features it has, -ffp-contract=off."""
    return optimisation_flags(cpu_features(), platform.machine())


@functools.lru_cache(maxsize=None)
def cpu_has_fma() -> bool:
    """Whether this CPU has FMA instructions to contract a*b+c to (x86-64's baseline has none;
    other architectures, such as aarch64, always have them)."""
    return platform.machine() not in ("x86_64", "AMD64", "i686") or "fma" in cpu_features()
