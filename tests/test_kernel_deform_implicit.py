"""deform_conv2d's implicit-GEMM kernel (kernels_cu/deform_conv2d_implicit.cu) on the host backend: both
`path`s against the float64 reference over the tile edges of cases/deform_im2col.yaml, the kernel
under the host checks, the auto rule, and bad `path` values."""

import math

import pytest
import torch

from suite import CASES_DIR, ops, validate
from suite.backends import CHECKS, get_backend
from suite.cases import load_cases
from suite.errors import CaseFileError, InputError
from suite.kernels import deform_launch as launchers
from suite.kernels.deform import FAMILY, TORCH_DTYPES
from test_kernel_deform import Recording

EDGES = [c for c in load_cases([CASES_DIR / "deform_im2col.yaml"], "smoke") if c.sweep == "implicit_gemm_edges"]
# The edge sweep's first geometry: 2 output-channel tiles, 2 channel blocks per tap, 2 position tiles.
WIDE = {c.dtype: c for c in EDGES if c.params["out_channels"] == 70 and c.params["path"] == "implicit_gemm"}
KERNEL_NAMES = {"implicit_gemm": launchers.deform_conv2d_implicit_name, "im2col_gemm": launchers.deform_im2col_name}


@pytest.fixture(scope="module")
def host():
    return get_backend("host")


def _verdict(case, params, inputs, output):
    return validate.check(output, *FAMILY.reference(case.kernel, params, inputs, case.dtype), case.tolerance)


def test_the_edge_cases_cross_every_tile_edge():
    """Each path, each dtype; out channels, channels per tap and positions past a tile; offset groups
    that change inside a K-slice; weight groups; a mask and none; stride and dilation pairs."""
    bm, bn, bk = launchers.IMPLICIT_TILE
    assert {(c.params["path"], c.dtype) for c in EDGES} == {(p, d) for p in KERNEL_NAMES for d in TORCH_DTYPES}
    wide = WIDE["float16"].params
    assert bm < wide["out_channels"] < 2 * bm and bk < wide["in_channels"] // wide["groups"] < 2 * bk
    assert bn < wide["batch"] * 9 * 9 < 2 * bn and (wide["in_channels"] // wide["offset_groups"]) % bk
    params = [c.params for c in EDGES]
    assert {p["mask"] for p in params} == {False, True} and any(p["groups"] > 1 for p in params)
    assert any(p["stride"] != (1, 1) for p in params) and any(p["dilation"] != (1, 1) for p in params)


@pytest.mark.parametrize("case", EDGES, ids=lambda c: c.id)
def test_both_paths_match_the_reference(case, host):
    """The case's path runs its own kernel, fills every element and passes, and again on a relaunch."""
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
    recording = Recording(host)
    launched = FAMILY.run(case.kernel, case.params | {"channel_chunk": launchers.CHANNEL_CHUNK}, inputs, recording)
    assert recording.chosen == [KERNEL_NAMES[case.params["path"]](TORCH_DTYPES[case.dtype])]
    verdict = _verdict(case, case.params, inputs, launched.output)
    assert verdict.passed, verdict.detail
    launched.output.fill_(math.nan)
    launched.again()
    assert _verdict(case, case.params, inputs, launched.output).passed


@pytest.mark.parametrize("dtype", ["float16", "float32"], ids=["tensor_cores", "simt"])
@pytest.mark.parametrize("check", CHECKS)
def test_implicit_kernel_under_host_checks(check, dtype):
    """memcheck (guarded buffers), racecheck (other fiber schedules, so a missing barrier between the
    slice buffers' refills and their reads shows), initcheck, synccheck, on both inner products."""
    case = WIDE[dtype]
    backend = get_backend("host", checks=(check,))
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, backend)
    verdict = _verdict(case, case.params, inputs, launched.output)
    assert verdict.passed, verdict.detail


def test_a_relaunch_reads_the_current_weight(host):
    """The launcher reorders the weight for the kernel at every launch, not once when it is built."""
    case = WIDE["bfloat16"]
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, host)
    inputs["weight"].mul_(-0.5)  # exact in bf16
    launched.again()
    verdict = _verdict(case, case.params, inputs, launched.output)
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("dtype, groups, expected", [
    (torch.float16, 2, launchers.deform_conv2d_implicit_name),
    (torch.bfloat16, 1, launchers.deform_conv2d_implicit_name),
    (torch.float32, 2, launchers.deform_im2col_name),
    (torch.float16, 4, launchers.deform_conv2d_depthwise_name),  # groups == in_channels
])
def test_auto_rule(host, dtype, groups, expected):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 5, 5, generator=gen).to(dtype)
    offset = torch.randn(1, 18, 3, 3, generator=gen).to(dtype)
    weight = torch.randn(4, 4 // groups, 3, 3, generator=gen).to(dtype)
    recording = Recording(host)
    ops.deform_conv2d_launcher(x, offset, weight, backend=recording, channel_chunk=launchers.CHANNEL_CHUNK)
    assert recording.chosen == [expected(dtype)]


def test_implicit_gemm_on_a_depthwise_weight_when_forced(host):
    """A forced path is taken as given, even where auto would pick the depthwise kernel."""
    case = next(c for c in load_cases([CASES_DIR / "deform_im2col.yaml"], "smoke")
                if c.sweep == "depthwise_multiplier" and c.kernel == "deform_conv2d" and c.dtype == "float16"
                and c.params["mask"] and c.params["offset_groups"] == 2)
    params = case.params | {"path": "implicit_gemm"}
    inputs = FAMILY.make_inputs(params, case.dtype, case.seed, host.device)
    recording = Recording(host)
    launched = FAMILY.run(case.kernel, params, inputs, recording)
    assert recording.chosen == [launchers.deform_conv2d_implicit_name(torch.float16)]
    verdict = _verdict(case, params, inputs, launched.output)
    assert verdict.passed, verdict.detail


def test_bad_paths_are_refused(tmp_path):
    x, offset, weight = torch.randn(1, 2, 5, 5), torch.randn(1, 18, 3, 3), torch.randn(2, 2, 3, 3)
    with pytest.raises(InputError, match=r"path must be one of auto, implicit_gemm, im2col_gemm; got 'fused'"):
        ops.deform_conv2d_launcher(x, offset, weight, path="fused", backend="host")
    with pytest.raises(InputError, match=r"path='implicit_gemm' takes float32, float16 or bfloat16, not torch.float64"):
        ops.deform_conv2d_launcher(x.double(), offset.double(), weight.double(), path="implicit_gemm", backend="host")
    cases = tmp_path / "bad.yaml"
    cases.write_text("family: deform\nkernels: [deform_conv2d]\nsweeps:\n"
                     "  - {name: bad, tier: smoke, params: {path: implicit}}\n")
    with pytest.raises(CaseFileError, match=r"param 'path' must be one of: auto, implicit_gemm, im2col_gemm"):
        load_cases([cases], "smoke")
