"""The layer family through the host backend: every smoke case against the float64 reference layer,
the baselines against the same reference, the FLOP model against torch's FLOP counter, and errors."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from suite import CASES_DIR, validate
from suite.backends import get_backend
from suite.cases import load_cases
from suite.errors import CaseFileError, InputError
from suite.kernels import get_family
from suite.kernels import modules as spec

FAMILY = get_family("modules")
SMOKE = load_cases([CASES_DIR / "modules.yaml"], tier="smoke")
FULL = load_cases([CASES_DIR / "modules.yaml"], tier="full")


def _inputs(case, dtype=None):
    return FAMILY.make_inputs(case.params, dtype or case.dtype, case.seed, get_backend("host").device)


@pytest.mark.parametrize("case", SMOKE, ids=lambda c: c.id)
def test_smoke_case_matches_the_reference_layer(case):
    inputs = _inputs(case)
    launched = FAMILY.run(case.kernel, case.params, inputs, get_backend("host"))  # output poisoned with NaN first
    ref64, ref_lowp = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    verdict = validate.check(launched.output, ref64, ref_lowp, case.tolerance)
    assert verdict.passed, verdict.detail


def test_cases_cover_both_layers_and_the_promised_full_sizes():
    for cases in (SMOKE, FULL):
        assert {c.kernel for c in cases} == {spec.DEFORM, spec.ATTENTION}
        assert {c.dtype for c in cases} == {"float32", "float16", "bfloat16"}
    assert {c.params["modulated"] for c in SMOKE} == {False, True}
    assert {c.params["causal"] for c in SMOKE} == {False, True}
    assert any(c.params["num_kv_heads"] not in (0, c.params["num_heads"]) for c in SMOKE)
    deform = {(c.params["in_channels"], c.params["height"], c.params["width"], c.params["modulated"]) for c in FULL}
    assert (256, 56, 56, True) in deform
    attention = {(c.params["embed_dim"], c.params["num_heads"], c.params["seq"]) for c in FULL}
    assert (2048, 16, 4096) in attention


def test_relaunch_rewrites_the_same_output():
    case = SMOKE[0]
    launched = FAMILY.run(case.kernel, case.params, _inputs(case), get_backend("host"))
    first = launched.output.clone()
    launched.output.fill_(float("nan"))
    launched.again()
    assert torch.equal(launched.output, first)


@pytest.mark.parametrize("case", [c for c in SMOKE if c.dtype == "float32"], ids=lambda c: c.id)
def test_baseline_layers_match_the_reference(case):
    inputs = _inputs(case)
    ref64, _ = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    ran = 0
    for name in FAMILY.baselines:
        call = FAMILY.baseline(name, case.kernel, case.params, inputs)
        if call is None:
            continue
        ran += 1
        verdict = validate.check(call(), ref64, None, case.tolerance)
        assert verdict.passed, f"{name}: {verdict.detail}"
    grouped = case.kernel == spec.ATTENTION and case.params["num_kv_heads"] not in (0, case.params["num_heads"])
    assert ran == (0 if grouped else 1)


def test_baselines_skip_what_they_cannot_run():
    deform = next(c for c in SMOKE if c.kernel == spec.DEFORM)
    assert FAMILY.baseline("torchvision_layer", deform.kernel, deform.params, _inputs(deform, "bfloat16")) is None
    assert FAMILY.baseline("torch_mha", deform.kernel, deform.params, _inputs(deform)) is None
    attention = next(c for c in SMOKE if c.kernel == spec.ATTENTION)
    assert FAMILY.baseline("torchvision_layer", attention.kernel, attention.params, _inputs(attention)) is None


@pytest.mark.parametrize("case", [c for c in SMOKE if c.dtype == "float32" and not c.params["causal"]],
                         ids=lambda c: c.id)
def test_flops_match_torchs_count_of_the_reference_layer(case):
    # The float64 reference layer runs plain convolutions, linears and matmuls that FlopCounterMode
    # counts; causal attention is left out (the reference computes the masked scores too).
    inputs = _inputs(case)
    with FlopCounterMode(display=False) as counter:
        FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    assert FAMILY.flops(case.kernel, case.params) == counter.get_total_flops()


def test_bytes_count_input_weights_and_output():
    case = next(c for c in SMOKE if c.kernel == spec.DEFORM and c.dtype == "float16")
    inputs = _inputs(case)
    output = FAMILY.run(case.kernel, case.params, inputs, get_backend("host")).output
    elements = inputs["x"].numel() + sum(w.numel() for w in inputs["state"].values()) + output.numel()
    assert FAMILY.bytes_moved(case.kernel, case.params, case.dtype) == 2 * elements


def _params(**given):
    return {name: p.default for name, p in FAMILY.params.items()} | given


@pytest.mark.parametrize("given, message", [
    ({}, "exactly one of in_channels"),
    ({"in_channels": 4, "embed_dim": 8}, "exactly one of in_channels"),
    ({"in_channels": 6, "groups": 4}, "in_channels=6 is not divisible by groups=4"),
    ({"in_channels": 4, "offset_groups": 3}, "offset_groups=3"),
    ({"in_channels": 4, "height": 2, "kernel_size": 5}, "does not fit"),
    ({"embed_dim": 12, "num_heads": 5}, "embed_dim=12 is not divisible by num_heads=5"),
    ({"embed_dim": 12, "num_heads": 4, "num_kv_heads": 3}, "num_kv_heads=3"),
])
def test_check_params_names_the_problem(given, message):
    with pytest.raises(ValueError, match=message):
        FAMILY.check_params(_params(**given))


def test_a_sweep_without_its_kernel_fails_when_run(tmp_path):
    file = tmp_path / "layers.yaml"
    file.write_text("family: modules\nsweeps:\n  - {name: a, tier: smoke, params: {embed_dim: 16, num_heads: 2, seq: 4}}\n")
    case = next(c for c in load_cases([file]) if c.kernel == spec.DEFORM)
    with pytest.raises(InputError, match=r"kernels: \[attention_layer\]"):
        FAMILY.run(case.kernel, case.params, _inputs(case), get_backend("host"))
    file.write_text("family: modules\nsweeps:\n  - {name: a, tier: smoke, params: {embed_dim: 10, num_heads: 4}}\n")
    with pytest.raises(CaseFileError, match="embed_dim=10 is not divisible by num_heads=4"):
        load_cases([file])



def test_layer_and_baseline_run_without_tf32_and_restore_the_flags(monkeypatch):
    # TF32 convolutions (torch's default on a GPU) would move the predicted offsets out of the fp32
    # tolerance. The flags only act on a GPU, so a spy on the offset convolution reads them here.
    cudnn, cublas = torch.backends.cudnn, torch.backends.cuda.matmul
    seen = []
    conv = torch.nn.Conv2d.forward
    monkeypatch.setattr(torch.nn.Conv2d, "forward",
                        lambda self, x: seen.append(cudnn.allow_tf32 or cublas.allow_tf32) or conv(self, x))
    case = next(c for c in SMOKE if c.kernel == spec.DEFORM and c.dtype == "float32")
    inputs = _inputs(case)
    before = cudnn.allow_tf32, cublas.allow_tf32
    cudnn.allow_tf32 = cublas.allow_tf32 = True
    try:
        FAMILY.run(case.kernel, case.params, inputs, get_backend("host")).again()
        FAMILY.baseline("torchvision_layer", case.kernel, case.params, inputs)()
        assert len(seen) == 3 and not any(seen)
        assert cudnn.allow_tf32 and cublas.allow_tf32
    finally:
        cudnn.allow_tf32, cublas.allow_tf32 = before
