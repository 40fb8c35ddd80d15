"""suite check: occupancy rules, and compile + judge on real NVRTC/cuobjdump output of tiny kernels."""

import json
import random
from pathlib import Path

import pytest
from rich.console import Console

from suite.check import run_check
from suite.check_report import check_table
from suite.errors import BackendUnavailable, InputError
from suite.kernels.compile_options import nvrtc_options
from suite.kernels.family import Instantiation
from suite.occupancy import ARCH_LIMITS, REGS_PER_SM, arch_limits, occupancy
from suite.sass import SUMMARY_CLASSES

KERNELS = Path(__file__).parent / "kernels"
CU = KERNELS / "check_kernels.cu"
BROKEN = KERNELS / "check_broken.cu"
KB = 1024


# --- occupancy: hand-computed from the rules in reference/ptx-and-limits.md §4 -------------------

@pytest.mark.parametrize("arch, threads, regs, static, dynamic, blocks, warps, limited_by", [
    # 8 warps; 64/8 = 8 by warps; regs 1024/warp -> 4*16/8 = 8 (tie: warps first)
    ("sm_80", 256, 32, 0, 0, 8, 64, "warps"),
    # 33 regs: 1056 rounds up to 1280 per warp; 4*floor(16384/1280)/8 = 6 blocks
    ("sm_80", 256, 33, 0, 0, 6, 48, "registers"),
    # 80 regs: 2560 per warp, floor(16384/2560) = 6 warps per sub-partition -> 24 (not 65536/2560 = 25)
    ("sm_80", 32, 80, 0, 0, 24, 24, "registers"),
    # 4 warps of 4096 regs -> 4*floor(16384/4096)/4 = 4 blocks = 16 warps
    ("sm_80", 128, 128, 0, 0, 4, 16, "registers"),
    # smem per block roundup(40960+1024, 128) = 41984; 102400 // 41984 = 2
    ("sm_86", 256, 40, 40 * KB, 0, 2, 16, "shared memory"),
    # 32 warps of 2048 regs = 65536 exactly: allowed, 4*8/32 = 1 block
    ("sm_90", 1024, 64, 0, 0, 1, 32, "registers"),
    # 255 regs -> 8192 per warp; 8 warps use the whole register file: 1 block
    ("sm_80", 256, 255, 0, 0, 1, 8, "registers"),
    # ... and 16 warps do not fit at all
    ("sm_80", 512, 255, 0, 0, 0, 0, "registers"),
    ("sm_80", 1025, 16, 0, 0, 0, 0, "threads"),
    # 100 KB dynamic: opt-in allows 163 KB on sm_80 -> 167936 // 103424 = 1; sm_86 allows 99 KB -> 0
    ("sm_80", 128, 32, 0, 100 * KB, 1, 4, "shared memory"),
    ("sm_86", 128, 32, 0, 100 * KB, 0, 0, "shared memory"),
    # one warp, few regs, no smem: the 16-blocks-per-SM cap of sm_86 binds
    ("sm_86", 32, 16, 0, 0, 16, 16, "blocks"),
    ("sm_89", 32, 16, 0, 0, 24, 24, "blocks"),
])
def test_occupancy_hand_computed(arch, threads, regs, static, dynamic, blocks, warps, limited_by):
    limits = arch_limits(arch)
    occ = occupancy(limits, threads, regs, static, dynamic)
    assert (occ.blocks_per_sm, occ.warps_per_sm, occ.limited_by) == (blocks, warps, limited_by)
    assert occ.fraction == pytest.approx(warps / limits.max_warps_per_sm)


def test_occupancy_never_exceeds_an_sm_on_random_configurations():
    rng = random.Random(1234)
    for _ in range(2000):
        limits = rng.choice(list(ARCH_LIMITS.values()))
        threads, regs = rng.randint(1, 1024), rng.randint(1, 255)
        static, dynamic = rng.randint(0, 48 * KB), rng.randint(0, 200 * KB)
        occ = occupancy(limits, threads, regs, static, dynamic)
        warps = -(-threads // 32)
        regs_per_warp = -(-regs * 32 // 256) * 256
        assert occ.warps_per_sm == occ.blocks_per_sm * warps <= limits.max_warps_per_sm
        assert occ.blocks_per_sm <= limits.max_blocks_per_sm
        assert occ.blocks_per_sm * warps * regs_per_warp <= REGS_PER_SM
        assert occ.blocks_per_sm * (static + dynamic + KB) <= limits.smem_per_sm
        # one block more would break the limit that was named
        more = occ.blocks_per_sm + 1
        if occ.limited_by == "warps":
            assert more * warps > limits.max_warps_per_sm
        elif occ.limited_by == "shared memory":
            assert static + dynamic > limits.smem_per_block_optin or more * occ.smem_per_block > limits.smem_per_sm
        elif occ.limited_by == "registers":
            assert more * warps > 4 * ((REGS_PER_SM // 4) // regs_per_warp)
        elif occ.limited_by == "blocks":
            assert more > limits.max_blocks_per_sm


def test_arch_names():
    assert arch_limits("sm_90a") is arch_limits("sm_90")
    for bad in ("sm_75", "80", "compute_80"):
        with pytest.raises(InputError, match="sm_80, sm_86, sm_89, sm_90"):
            arch_limits(bad)


def test_nvrtc_options_are_the_backend_options_plus_arch():
    base = nvrtc_options(CU)
    full = nvrtc_options(CU, "sm_80", ("-DTILE=64",))
    assert "-std=c++17" in base and f"-I{KERNELS.resolve()}" in base
    assert not any(o.startswith("--gpu-architecture") for o in base)
    assert full == base + ["--gpu-architecture=sm_80", "-DTILE=64"]


# --- compile and judge real kernels ---------------------------------------------------------------

CASES = {
    "plain": Instantiation(CU, "check_plain<float>", expect=("LDG.E",)),
    "vector": Instantiation(CU, "check_vector_load", expect=("LDG.E.128",)),
    "half_not_tc": Instantiation(CU, "check_plain<__half>", tensor_core=True),
    "expects_shfl": Instantiation(CU, "check_plain<float>", expect=("SHFL",)),
    "local": Instantiation(CU, "check_local_array"),
    "static_too_big": Instantiation(CU, "check_static_smem<64>"),
    "dynamic_150k": Instantiation(CU, "check_static_smem<16>", dynamic_smem=150 * KB),
    "tensor_core": Instantiation(CU, "check_tensor_core", threads_per_block=32, tensor_core=True,
                                 expect=("LDSM", "LDGSTS", "BAR")),
    "too_many_threads": Instantiation(CU, "check_plain<float>", threads_per_block=2048),
    "broken": Instantiation(BROKEN, "check_broken"),
    "hopper_only_200k": Instantiation(CU, "check_static_smem<16>", dynamic_smem=200 * KB, archs=("sm_90",)),
}


@pytest.fixture(scope="module")
def report():
    try:
        return run_check(list(CASES.values()), ("sm_80", "sm_90"))
    except BackendUnavailable as exc:  # hard dependencies of the package: missing is a broken install, not a skip
        pytest.fail(f"NVRTC and cuobjdump/nvdisasm are dependencies of rawkernel-suite (pip install nvidia-cuda-nvrtc "
                    f"nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm): {exc}")


def checks(report, case):
    found = [k for k in report.kernels if k.instantiation is CASES[case]]
    assert [k.arch for k in found] == ["sm_80", "sm_90"]
    return found


def test_plain_kernel_passes_with_consistent_numbers(report):
    for k in checks(report, "plain"):
        assert k.passed, k.problems
        assert 0 < k.usage.registers <= 255 and k.usage.static_smem == 0 and k.usage.stack == 0
        assert k.lowered_name.startswith("_Z") and "check_plain" in k.lowered_name
        assert k.occupancy == occupancy(arch_limits(k.arch), 256, k.usage.registers)
        assert k.instructions["LDG.E"] >= 1 and k.instructions["LDG.E.128"] == 0
        assert k.instructions["HMMA"] == k.instructions["BAR"] == 0


def test_128_bit_loads_are_counted(report):
    for k in checks(report, "vector"):
        assert k.passed, k.problems
        assert k.instructions["LDG.E.128"] >= 1


def test_tensor_core_kernel_shows_its_instructions(report):
    for k in checks(report, "tensor_core"):
        assert k.passed, k.problems
        for name in ("HMMA", "LDSM", "LDGSTS", "BAR"):
            assert k.instructions[name] >= 1, name


def test_tensor_core_flag_without_hmma_fails(report):
    for k in checks(report, "half_not_tc"):
        assert not k.passed and any("HMMA" in p for p in k.problems)


def test_missing_expected_instruction_fails(report):
    for k in checks(report, "expects_shfl"):
        assert k.instructions["SHFL"] == 0
        assert k.problems == ["expected instructions missing from the SASS: SHFL"]


def test_local_memory_is_flagged(report):
    for k in checks(report, "local"):
        assert k.usage.stack + k.usage.local > 0
        assert not k.passed and any("local memory" in p for p in k.problems)


def test_too_much_static_shared_memory_is_a_compile_failure(report):
    for k in checks(report, "static_too_big"):
        assert not k.passed and k.usage is None
        assert "too much shared data" in k.failure.message and k.failure.file == str(CU)


def test_shared_memory_limit_depends_on_the_arch(report):
    sm80, sm90 = checks(report, "dynamic_150k")
    assert sm80.usage.static_smem >= 16 * KB and sm80.occupancy.blocks_per_sm == 0
    assert any("shared memory" in p and "sm_80" in p for p in sm80.problems)
    assert sm90.passed, sm90.problems  # 227 KB opt-in on sm_90
    assert sm90.occupancy.blocks_per_sm == 1 and sm90.occupancy.limited_by == "shared memory"


def test_unlaunchable_block_size_fails(report):
    for k in checks(report, "too_many_threads"):
        assert k.occupancy.limited_by == "threads"
        assert not k.passed and any("2048 threads" in p for p in k.problems)


def test_compile_error_names_file_line_and_arch(report):
    header = KERNELS / "check_broken.cuh"
    line = next(i for i, text in enumerate(header.read_text().splitlines(), 1) if "ERROR HERE" in text)
    for k in checks(report, "broken"):
        assert not k.passed
        assert Path(k.failure.file).resolve() == header.resolve() and k.failure.line == line
        assert "not_declared_anywhere" in k.failure.message
        assert k.problems == [f"does not compile for {k.arch}: {k.failure.location}: {k.failure.message}"]


def test_report_json_and_table(report):
    data = json.loads(json.dumps(report.to_json()))
    assert data["passed"] is False and data["archs"] == ["sm_80", "sm_90"]
    assert len(data["kernels"]) == sum(len(i.archs or (1, 2)) for i in CASES.values())
    assert [k["passed"] for k in data["kernels"]] == [k.passed for k in report.kernels]
    broken = [k for k in data["kernels"] if k["name_expression"] == "check_broken"]
    assert all(k["compile_error"]["line"] and k["registers"] is None for k in broken)
    console = Console(record=True, width=300)
    console.print(check_table(report))
    text = console.export_text()
    assert f"{sum(k.passed for k in report.kernels)}/{sum(len(i.archs or (1, 2)) for i in CASES.values())} ok" in text
    for name in ("check_tensor_core", "check_broken", *SUMMARY_CLASSES):
        assert name in text


def test_unknown_arch_is_refused_before_compiling():
    with pytest.raises(InputError, match="sm_70"):
        run_check([CASES["plain"]], ("sm_80", "sm_70"))


def test_report_passes_only_when_every_kernel_passes(report):
    assert not report.passed
    good = run_check([CASES["plain"], CASES["tensor_core"]], ("sm_80",))
    assert good.passed and len(good.kernels) == 2


def test_an_instantiation_meant_for_some_archs_is_judged_on_those_only(report):
    (only,) = [k for k in report.kernels if k.instantiation is CASES["hopper_only_200k"]]
    assert only.arch == "sm_90" and only.passed, only.problems  # 200 KiB fits sm_90, not sm_80


def test_without_archs_each_instantiation_is_checked_for_its_own():
    sm86 = Instantiation(CU, "check_static_smem<16>", dynamic_smem=60 * KB, archs=("sm_86",))
    report = run_check([CASES["plain"], sm86])
    assert sorted((k.arch, k.instantiation is sm86) for k in report.kernels) == [
        ("sm_80", False), ("sm_86", True), ("sm_90", False)]
    assert report.passed and report.archs == ("sm_80", "sm_86", "sm_90")


def test_a_kernel_below_its_planned_occupancy_fails():
    planned = Instantiation(CU, "check_plain<float>", min_blocks_per_sm=9)  # 256 threads: 8 fit at most
    (check,) = run_check([planned], ("sm_80",)).kernels
    assert not check.passed and "counts on 9" in check.problems[0] and check.occupancy.blocks_per_sm == 8


def test_a_clean_compile_leaves_pythons_shared_bytes_alone(tmp_path):
    # NVRTC writes its (empty: one NUL) log into the buffer it is given; that buffer once was
    # `b" " * 1`, CPython's shared b" ", and every later b" " in the process read b"\x00".
    from suite.nvrtc_compile import compile_cubin

    source = tmp_path / "clean.cu"
    source.write_text('extern "C" __global__ void clean(float* x) { x[threadIdx.x] = 1.0f; }\n')
    compile_cubin(source, "clean", "sm_80")
    assert bytes([32]) == b"\x20" and b" ".join([b"a", b"b"]) == b"a\x20b"
