"""The raw deform_im2col kernel on the host backend (the unchanged .cu on the CPU) against the reference,
for every smoke case of cases/deform_im2col.yaml, with NaN-poisoned output."""

import math

import numpy as np
import pytest
import torch

from suite import CASES_DIR, ops, validate
from suite.backends import get_backend
from suite.cases import load_cases
from suite.kernels.deform import FAMILY
from suite.references.deform import sampling_base

SMOKE = [c for c in load_cases([CASES_DIR / "deform_im2col.yaml"], "smoke") if c.kernel == "deform_im2col"]


@pytest.fixture(scope="module")
def host():
    return get_backend("host")


@pytest.mark.parametrize("case", SMOKE, ids=lambda c: c.id)
def test_smoke_case(case, host):
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, host)
    ref64, ref_lowp = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    verdict = validate.check(launched.output, ref64, ref_lowp, case.tolerance)
    assert verdict.passed, verdict.detail
    # a relaunch rewrites every element of the same buffer
    launched.output.fill_(math.nan)
    launched.again()
    assert validate.check(launched.output, ref64, ref_lowp, case.tolerance).passed


def test_cases_cover_the_brief():
    """The smoke tier exercises masks, strides, padding, dilation, both group kinds, batch 1 and > 32."""
    params = [c.params for c in SMOKE]
    assert {p["mask"] for p in params} == {False, True}
    assert {c.dtype for c in SMOKE} == {"float32", "float16", "bfloat16"}
    assert any(p["stride"] != (1, 1) for p in params) and any(p["padding"] != (0, 0) for p in params)
    assert any(p["dilation"] != (1, 1) for p in params)
    assert any(p["groups"] > 1 for p in params) and any(p["offset_groups"] > 1 for p in params)
    assert {1, 33} <= {p["batch"] for p in params}


def test_offsets_hit_the_border_rules():
    """make_inputs puts sampling points exactly on -1, on H, on integers and half-integers, and outside."""
    case = next(c for c in SMOKE if c.dtype == "bfloat16" and c.params["batch"] == 2 and c.params["mask"])
    p = case.params
    inputs = FAMILY.make_inputs(p, case.dtype, case.seed, torch.device("cpu"))
    kh, kw = p["kernel"]
    out_h, out_w = inputs["offset"].shape[-2:]
    base_y, _ = sampling_base(p["kernel"], p["stride"], p["padding"], p["dilation"], out_h, out_w)
    y = inputs["offset"].double().reshape(p["batch"], -1, kh * kw, 2, out_h, out_w)[:, :, :, 0] + base_y
    h = p["height"]
    assert (y == -1).any() and (y == h).any() and (y == h - 0.5).any()
    assert ((y == y.round()) & (y >= 0) & (y < h)).any()
    assert ((y < -1) | (y > h)).any() and ((y > -1) & (y < h) & (y != (2 * y).round() / 2)).any()


def test_long_long_indexing(host, monkeypatch):
    """The int64-index instantiation computes the same columns (forced by lowering the int limit)."""
    chosen = []

    class Recording:
        name, device = host.name, host.device

        def load_module(self, *args, **kwargs):
            module = host.load_module(*args, **kwargs)

            class Module:
                def get_function(self, expression):
                    chosen.append(expression)
                    return module.get_function(expression)

            return Module()

    case = next(c for c in SMOKE if c.dtype == "float16" and c.params["mask"])
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
    monkeypatch.setattr(ops, "INDEX32_LIMIT", 100)
    launched = FAMILY.run(case.kernel, case.params, inputs, Recording())
    assert chosen == [ops.deform_im2col_name(torch.float16, np.int64)]
    ref64, ref_lowp = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    verdict = validate.check(launched.output, ref64, ref_lowp, case.tolerance)
    assert verdict.passed, verdict.detail


def test_float64_instantiation_is_exact(host):
    """double samples in double: equal to the float64 reference up to rounding."""
    case = next(c for c in SMOKE if c.params["offset_groups"] > 1)
    inputs = FAMILY.make_inputs(case.params, "float32", case.seed, host.device)
    inputs = {k: None if v is None else v.double() for k, v in inputs.items()}
    p = case.params
    got = ops.deform_im2col(inputs["input"], inputs["offset"], inputs["mask"], kernel_size=p["kernel"], stride=p["stride"],
                            padding=p["padding"], dilation=p["dilation"], backend=host)
    expected, _ = FAMILY.reference(case.kernel, p, inputs, "float32")
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-12)
