"""attention_fa3 (kernels_cu/attention_fa3.cu, issue #29): its plan, its sm_90a compile (wgmma in the
SASS, no local memory) and, where the host backend emulates Hopper, its results against the
float64 reference on the smoke cases of cases/attention_fa3.yaml."""

import importlib.util

import pytest

from suite import CASES_DIR, validate
from suite.backends.host_backend import HostBackend
from suite.cases import load_cases
from suite.check import check_one
from suite.errors import KernelCompileError
from suite.kernels import attention_fa3 as fa3
from suite.kernels import get_family
from suite.kernels.hopper_wgmma_gen import HEADER, N_SIZES, render
from suite.nvrtc_compile import compile_cubin
from suite.occupancy import arch_limits

FAMILY = get_family("attention")
SMOKE = load_cases([CASES_DIR / "attention_fa3.yaml"], tier="smoke")
REGISTER_FILE = 65536


def test_generated_wgmma_header_is_current():
    assert HEADER.read_text() == render(), "run `python -m suite.kernels.hopper_wgmma_gen` and commit the header"


@pytest.mark.parametrize("cfg", fa3.tiles(), ids=fa3.Fa3Tile.label)
def test_plan_fits_an_sm90_block(cfg):
    """Shared memory within sm_90's opt-in limit; the setmaxnreg split within the register file;
    the wgmma shapes the generated header provides."""
    assert fa3.shared_bytes(cfg) <= arch_limits("sm_90a").smem_per_block_optin
    producer, consumer = cfg.registers
    assert 128 * (producer + cfg.consumers * consumer) <= REGISTER_FILE
    assert {cfg.block_n, cfg.head_tile} <= set(N_SIZES)
    # every 128-byte-swizzled chunk (Q: block_m rows, K/V: block_n rows) starts on a 1024-byte atom
    assert cfg.block_m * 128 % 1024 == 0 and cfg.block_n * 128 % 1024 == 0


def test_plan_follows_fa3_tile_sizes():
    """FA3's tile_size_fwd_sm90 rows (shared/reference/hopper-wgmma-tma.md, 4.3), RS everywhere."""
    shapes = {(hd, causal): (fa3.tile(hd, causal).block_m, fa3.tile(hd, causal).block_n)
              for hd in (64, 128, 256) for causal in (False, True)}
    assert shapes == {(64, False): (192, 128), (64, True): (192, 128), (128, False): (128, 176),
                      (128, True): (128, 128), (256, False): (128, 80), (256, True): (128, 80)}
    assert fa3.tile(40, False).head_tile == 64 and fa3.tile(200, True).head_tile == 256


def _skip_unknown_arch(message: str) -> None:
    if "gpu-architecture" in message or "invalid value" in message.lower():
        pytest.skip(f"this NVRTC does not know sm_90a: {message}")


@pytest.mark.parametrize("inst", [fa3.instantiation(dt, cfg) for dt, cfg in
                                  zip(("float16", "bfloat16", "float16", "bfloat16"), fa3.tiles())],
                         ids=lambda i: i.label)
def test_compiles_for_sm90a_with_wgmma_and_no_local_memory(inst):
    check = check_one(inst, "sm_90a")
    if check.failure:
        _skip_unknown_arch(check.failure.message)
    assert check.passed, check.problems
    assert check.usage.local == 0 and check.usage.stack == 0
    assert check.instructions["HGMMA"] > 0


def test_ptxas_keeps_wgmma_asynchronous():
    """ptxas serializes wgmma it finds under a branch it takes as divergent (C7520): the kernel reads
    its warpgroup index through a shuffle to keep the overlaps."""
    cfg = fa3.tile(128, False)
    log = compile_cubin(fa3.SOURCE, fa3.name_expression("bfloat16", cfg), "sm_90a", ["--ptxas-options=-v"]).log
    assert "0 bytes spill stores" in log
    assert "C7520" not in log and "serialized" not in log, log


def test_plain_sm90_is_refused_with_the_reason():
    with pytest.raises(KernelCompileError, match="needs sm_90a") as refused:
        compile_cubin(fa3.SOURCE, fa3.name_expression("float16", fa3.tile(64, False)), "sm_90")
    assert "--gpu-architecture=sm_90a" in str(refused.value)


def test_smoke_tier_covers_the_promised_shapes():
    assert {fa3.tile(c.params["head_dim"], False).head_tile for c in SMOKE} == {64, 128, 256}
    assert {c.params["causal"] for c in SMOKE} == {"none", "top_left", "bottom_right"}
    assert any(c.params["seq_q"] % 64 and c.params["seq_k"] % 16 for c in SMOKE)
    assert {c.params["heads_q"] // (c.params["heads_kv"] or c.params["heads_q"]) for c in SMOKE} >= {1, 2, 4}
    assert {c.dtype for c in SMOKE} == {"float16", "bfloat16"}
    key_tiles = {-(-c.params["seq_k"] // fa3.tile(c.params["head_dim"], c.params["causal"] != "none").block_n)
                 for c in SMOKE}
    assert max(key_tiles) > 2 * fa3.STAGES  # the K/V ring wraps twice: both parities of each stage


HOPPER_EMULATION = importlib.util.find_spec("suite.emulator.tensormap") is not None


NO_EMULATION = pytest.mark.skipif(not HOPPER_EMULATION, reason="the host backend has no Hopper emulation (wgmma, TMA, "
                                  "mbarrier: suite/emulator/tensormap.py and include/emu/hopper, issue #29) here")


def _run_case(case):
    backend = HostBackend(arch="sm_90a")  # d=128 and d=256 need Hopper's 227 KiB of shared memory
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, backend)  # output poisoned with NaN first
    ref64, ref_lowp = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    verdict = validate.check_outputs(launched.output, ref64, ref_lowp, case.tolerance)
    assert verdict.passed, verdict.detail


@NO_EMULATION
@pytest.mark.parametrize("case", SMOKE, ids=lambda c: c.id)
def test_host_smoke_case_matches_reference(case):
    _run_case(case)


# Under memcheck, racecheck, initcheck and synccheck: every float16 smoke case, in
# tests/test_kernel_checks.py, the K/V ring-wrap ones among them (at d=256 without ping-pong, under
# racecheck's schedule a lane whose wait came after its warp's release once read a refilled V stage).
