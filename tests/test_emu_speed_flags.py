"""Host backend: plain modules build at -O3 with the CPU's features named explicitly (issue #28), so
the build key says which instruction sets a library uses; checked builds keep their own flags."""

from pathlib import Path

from suite.emulator import build, cpu_flags

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse sse2 {extra} pni
"""


def test_features_come_from_the_flags_line():
    assert cpu_flags.cpu_features(CPUINFO.format(extra="avx2 fma f16c")) >= {"avx2", "fma", "f16c", "sse2"}
    assert cpu_flags.cpu_features("model name : x\n") == frozenset()


def test_isa_flags_only_when_the_cpu_has_all_of_them():
    full = cpu_flags.cpu_features(CPUINFO.format(extra="avx2 fma f16c"))
    assert cpu_flags.optimisation_flags(full, "x86_64") == ("-O3", "-mavx2", "-mfma", "-mf16c", "-ffp-contract=off")
    partial = cpu_flags.cpu_features(CPUINFO.format(extra="avx2 f16c"))
    assert cpu_flags.optimisation_flags(partial, "x86_64") == ("-O3", "-ffp-contract=off")
    assert cpu_flags.optimisation_flags(full, "aarch64") == ("-O3", "-ffp-contract=off")


def test_speed_flags_reach_plain_builds_only():
    speed = cpu_flags.module_speed_flags()
    plain = build.module_flags(Path("/tmp/k.cu"), ())
    checked = build.module_flags(Path("/tmp/k.cu"), (), checked=True)
    assert plain[: len(build.BASE_FLAGS) + len(speed)] == [*build.BASE_FLAGS, *speed]
    # checked builds keep -O2 and the baseline ISA; only the numerics' -mfma (contraction, the same
    # in every build of a kernel) may reach them
    assert "-O3" not in checked and not any(f in checked for f in speed if f.startswith("-m") and f != "-mfma")
    # contraction: whatever comes later on the line (the numerics' owner) wins over this default
    assert plain.index("-ffp-contract=off") < plain.index("-include")
