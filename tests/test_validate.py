"""The pass rule on random data: exact answers pass, perturbations beyond the bound fail, NaN never passes."""

import pytest
import torch

from suite.errors import ValidationError
from suite.kernels.family import Tolerance
from suite.validate import check

G = torch.Generator().manual_seed(1234)


def _ref(shape=(7, 33)):
    return torch.randn(shape, generator=G, dtype=torch.float64)


def test_fp32_exact_and_within_tolerance_pass():
    ref = _ref()
    tol = Tolerance(atol=1e-5, rtol=1e-5)
    assert check(ref.float(), ref, None, tol).passed
    bound = tol.atol + tol.rtol * ref.abs()
    nudged = ref + 0.9 * bound * torch.sign(torch.randn(ref.shape, generator=G, dtype=torch.float64))
    v = check(nudged, ref, None, tol)
    assert v.passed and v.max_abs_err <= float(bound.max())


def test_fp32_one_element_over_the_bound_fails_and_is_located():
    ref = _ref()
    tol = Tolerance(atol=1e-5, rtol=1e-5)
    out = ref.clone()
    i, j = int(torch.randint(0, 7, (1,), generator=G)), int(torch.randint(0, 33, (1,), generator=G))
    out[i, j] += 1.5 * (tol.atol + tol.rtol * abs(float(ref[i, j])))
    v = check(out, ref, None, tol)
    assert not v.passed
    assert f"({i}, {j})" in v.detail and "1 of 231" in v.detail


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_lowp_rule_uses_twice_the_low_precision_reference_error(dtype):
    ref64 = _ref()
    ref_lowp = ref64.to(dtype)  # rounding is the low-precision reference's whole error here
    lowp_err = float((ref_lowp.double() - ref64).abs().max())
    tol = Tolerance(eps=1e-6)
    assert check(ref_lowp, ref64, ref_lowp, tol).passed
    out = ref64.clone()
    out[3, 5] += 1.9 * lowp_err
    assert check(out, ref64, ref_lowp, tol).passed
    out[3, 5] = ref64[3, 5] + 2.1 * lowp_err + 2 * tol.eps
    v = check(out, ref64, ref_lowp, tol)
    assert not v.passed and v.lowp_err == pytest.approx(lowp_err)
    assert v.allowed == pytest.approx(2 * lowp_err + tol.eps)


@pytest.mark.parametrize("lowp", [False, True])
def test_nan_never_passes_even_with_huge_tolerance(lowp):
    ref = _ref()
    out = ref.clone()
    out[0, 0] = float("nan")
    tol = Tolerance(atol=1e9, rtol=1e9, eps=1e9)
    v = check(out, ref, ref.half() if lowp else None, tol)
    assert not v.passed and v.nan_count == 1 and "NaN" in v.detail


def test_shape_mismatch_fails():
    ref = _ref()
    v = check(ref[:, :-1], ref, None, Tolerance(atol=1.0))
    assert not v.passed and "shape" in v.detail


def test_matching_infinities_are_exact_and_empty_outputs_pass():
    ref = _ref()
    ref[1, 1] = float("inf")
    assert check(ref.clone(), ref, None, Tolerance()).passed
    empty = torch.empty(0, 5, dtype=torch.float64)
    assert check(empty, empty, None, Tolerance()).passed


@pytest.mark.parametrize("dtype, big", [(torch.float16, 7e4), (torch.bfloat16, 1e39)])
def test_an_overflowing_low_precision_reference_is_an_error_never_a_pass(dtype, big):
    ref64 = _ref()
    i, j = int(torch.randint(0, 7, (1,), generator=G)), int(torch.randint(0, 33, (1,), generator=G))
    ref64[i, j] = big * float(torch.sign(ref64[i, j]))  # finite in float64, +-inf in the kernel's dtype
    ref_lowp = ref64.to(dtype)
    assert torch.isinf(ref_lowp[i, j])
    for out in (torch.full_like(ref64, 123.0), ref64.clone()):  # a wrong output and a right one: neither passes
        with pytest.raises(ValidationError, match=rf"overflows in 1 of 231 elements \(first at \({i}, {j}\)"):
            check(out, ref64, ref_lowp, Tolerance(eps=1e-3))


@pytest.mark.parametrize("lowp", [False, True])
def test_several_outputs_pass_only_together_and_the_failing_one_is_named(lowp):
    from suite.validate import check_outputs

    refs = {"grad_input": _ref(), "grad_offset": _ref((3, 5)), "grad_weight": _ref((4,))}
    lows = {k: v.half() for k, v in refs.items()} if lowp else None
    tol = Tolerance(atol=1e-5, rtol=1e-5, eps=1e-6)
    out = {k: (v.half() if lowp else v.float()) for k, v in refs.items()}
    good = check_outputs(out, refs, lows, tol)
    assert good.passed and good.as_dict()["worst_output"] in refs and set(good.as_dict()["outputs"]) == set(refs)
    out["grad_offset"] = out["grad_offset"].clone()
    out["grad_offset"][1, 2] += 1.0
    bad = check_outputs(out, refs, lows, tol)
    record = bad.as_dict()
    assert not bad.passed and record["worst_output"] == "grad_offset" and bad.detail.startswith("grad_offset: ")
    assert record["outputs"]["grad_input"]["passed"] and record["max_abs_err"] >= 1.0 - 1e-3
    missing = check_outputs({k: v for k, v in out.items() if k != "grad_weight"}, refs, lows, tol)
    assert not missing.passed and "grad_weight" in missing.detail


def test_a_single_tensor_output_keeps_the_single_verdict():
    from suite.validate import Verdict, check_outputs

    ref = _ref()
    assert isinstance(check_outputs(ref.float(), ref, None, Tolerance(atol=1e-5)), Verdict)
