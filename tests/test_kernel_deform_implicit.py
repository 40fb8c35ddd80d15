"""deform_conv2d's implicit-GEMM kernel (kernels_cu/deform_conv2d_implicit.cu) on the host backend: both
`path`s against the float64 reference over the tile edges of cases/deform_im2col.yaml, the kernel
under the host checks, the auto rule, and bad `path` values; its NHWC gather (`gather`) against the
reference and bitwise against the NCHW gather, its rule, its staging, and bad `gather` values."""

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
NHWC = [c for c in load_cases([CASES_DIR / "deform_im2col.yaml"], "smoke") if c.sweep == "implicit_gemm_nhwc"]
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


def test_the_nhwc_cases_cross_the_vector_and_tile_edges():
    """Both 16-bit dtypes; weight groups of 16 and 24 channels (the slice's last vectors are padding),
    two of them; offset groups of 8 channels (a new point every vector); positions past BN and not;
    a mask and none; stride and dilation pairs."""
    bm, bn, bk = launchers.IMPLICIT_TILE
    assert {c.dtype for c in NHWC} == {"float16", "bfloat16"} and all(c.params["gather"] == "nhwc" for c in NHWC)
    params = [c.params for c in NHWC]
    assert {p["in_channels"] // p["groups"] for p in params} == {16, 24} and all(p["groups"] == 2 for p in params)
    assert all(p["in_channels"] // p["offset_groups"] == launchers.NHWC_VECTOR for p in params)
    assert {p["mask"] for p in params} == {False, True} and any(p["batch"] * 81 > bn for p in params)
    assert any(p["stride"] != (1, 1) for p in params) and any(p["dilation"] != (1, 1) for p in params)


@pytest.mark.parametrize("case", NHWC, ids=lambda c: c.id)
def test_nhwc_gather_matches_the_reference_and_nchw_bitwise(case, host):
    """The NHWC kernel runs and passes; the NCHW gather on the same inputs gives the same bits (the same
    interpolate, the same rounding); a relaunch restages the input's current values."""
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
    recording = Recording(host)
    launched = FAMILY.run(case.kernel, case.params, inputs, recording)
    assert recording.chosen == [launchers.deform_conv2d_implicit_name(TORCH_DTYPES[case.dtype], nhwc=True)]
    verdict = _verdict(case, case.params, inputs, launched.output)
    assert verdict.passed, verdict.detail
    nchw = FAMILY.run(case.kernel, case.params | {"gather": "nchw"}, inputs, host).output
    assert torch.equal(launched.output, nchw)
    inputs["input"].mul_(-0.5)  # exact
    launched.again()
    verdict = _verdict(case, case.params, inputs, launched.output)
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("check", CHECKS)
def test_nhwc_gather_under_host_checks(check):
    """memcheck sees each 16-byte corner load inside the staged input; racecheck, initcheck, synccheck."""
    case = next(c for c in NHWC if c.dtype == "float16" and c.params["mask"])
    backend = get_backend("host", checks=(check,))
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, backend)
    verdict = _verdict(case, case.params, inputs, launched.output)
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("dtype, group_channels, offset_group_channels, expected", [
    (torch.float16, 16, 8, "nhwc"),
    (torch.bfloat16, 64, 64, "nhwc"),
    (torch.float16, 8, 8, "nchw"),    # below NHWC_MIN_CHANNELS
    (torch.float16, 24, 12, "nchw"),  # a vector would cross an offset group
    (torch.bfloat16, 20, 20, "nchw"),
    (torch.float32, 64, 64, "nchw"),
])
def test_gather_rule(dtype, group_channels, offset_group_channels, expected):
    assert launchers.resolve_gather("auto", dtype, group_channels, offset_group_channels) == expected


def _conv_inputs(dtype, channels, offset_groups=1, seed=5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, channels, 6, 5, generator=gen).to(dtype)
    offset = (2 * torch.randn(2, offset_groups * 18, 4, 3, generator=gen)).to(dtype)
    weight = torch.randn(6, channels, 3, 3, generator=gen).div(channels ** 0.5).to(dtype)
    return x, offset, weight


@pytest.mark.parametrize("channels, nhwc", [(16, True), (12, False)])
def test_auto_gather_runs_the_rule(host, channels, nhwc):
    x, offset, weight = _conv_inputs(torch.float16, channels)
    recording = Recording(host)
    ops.deform_conv2d_launcher(x, offset, weight, backend=recording)
    assert recording.chosen == [launchers.deform_conv2d_implicit_name(torch.float16, nhwc=nhwc)]


def _channels_last_misaligned(x):
    """x's values, channels-last-contiguous, starting 2 bytes past a 16-byte boundary."""
    strides = x.contiguous(memory_format=torch.channels_last).stride()
    y = torch.empty(x.numel() + 1, dtype=x.dtype)[1:].as_strided(x.shape, strides).copy_(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and y.data_ptr() % 16
    return y


@pytest.mark.parametrize("layout", ["channels_last", "nchw", "channels_last_misaligned"])
def test_the_kernel_reads_a_channels_last_input_in_place(host, monkeypatch, layout):
    """An aligned channels-last input is the kernel's argument itself (no copy); any other is staged
    into a channels-last copy, refilled at each launch. Either way a relaunch sees the current values."""
    from suite.backends.host_backend import HostKernel

    bound = []
    bind = HostKernel.bind
    monkeypatch.setattr(HostKernel, "bind", lambda self, *args, **kw: bound.append(args[2]) or bind(self, *args, **kw))
    x, offset, weight = _conv_inputs(torch.bfloat16, 16)
    x = {"channels_last": x.contiguous(memory_format=torch.channels_last), "nchw": x,
         "channels_last_misaligned": _channels_last_misaligned(x)}[layout]
    output, launch = ops.deform_conv2d_launcher(x, offset, weight, backend=host, gather="nhwc")
    launch()
    (read,) = (args[0] for args in bound)
    assert read.is_contiguous(memory_format=torch.channels_last) and read.data_ptr() % 16 == 0
    assert (read.data_ptr() == x.data_ptr()) == (layout == "channels_last")
    x.mul_(-0.5)  # exact
    launch()
    expected, nchw = ops.deform_conv2d_launcher(x, offset, weight, backend=host, gather="nchw")
    nchw()
    assert torch.equal(output, expected)


def test_bad_gathers_are_refused(tmp_path):
    x, offset, weight = _conv_inputs(torch.float16, 12)
    with pytest.raises(InputError, match=r"gather must be one of auto, nchw, nhwc; got 'vector'"):
        ops.deform_conv2d_launcher(x, offset, weight, gather="vector", backend="host")
    need = r"gather='nhwc' needs float16 or bfloat16 and channels per weight group and per offset group that are " \
           r"multiples of 8; got "
    with pytest.raises(InputError, match=need + r"torch.float16, 12 and 12"):
        ops.deform_conv2d_launcher(x, offset, weight, gather="nhwc", backend="host")
    x, offset, weight = _conv_inputs(torch.float16, 16, offset_groups=4)
    with pytest.raises(InputError, match=need + r"torch.float16, 16 and 4"):
        ops.deform_conv2d_launcher(x, offset, weight, gather="nhwc", backend="host")
    x, offset, weight = _conv_inputs(torch.float32, 16)
    with pytest.raises(InputError, match=need + r"torch.float32, 16 and 16"):
        ops.deform_conv2d_launcher(x, offset, weight, gather="nhwc", path="implicit_gemm", backend="host")
    with pytest.raises(InputError, match=r"gather='nchw' applies to path='implicit_gemm' only; this call takes im2col_gemm"):
        ops.deform_conv2d_launcher(x, offset, weight, gather="nchw", backend="host")
    cases = tmp_path / "bad.yaml"
    cases.write_text("family: deform\nkernels: [deform_conv2d]\nsweeps:\n"
                     "  - {name: bad, tier: smoke, params: {gather: nhcw}}\n")
    with pytest.raises(CaseFileError, match=r"param 'gather' must be one of: auto, nchw, nhwc"):
        load_cases([cases], "smoke")


@pytest.mark.parametrize("choice", ["path: im2col_gemm", "gather: nchw", "pass: backward"])
def test_a_sweep_choosing_conv_kernels_runs_deform_conv2d_only(tmp_path, choice):
    path = tmp_path / "conv.yaml"
    path.write_text("family: deform\nkernels: [deform_im2col, deform_conv2d]\nsweeps:\n  - name: s\n    tier: smoke\n"
                    f"    params: {{height: 5, width: 5, {choice}}}\n")
    cases = load_cases([path], tier="smoke")
    assert {c.kernel for c in cases} == {"deform_conv2d"}
    # a gather applies to the implicit GEMM, which auto picks for fp16/bf16 only
    assert {c.dtype for c in cases} == ({"float16", "bfloat16"} if "gather" in choice else set(TORCH_DTYPES))
    path.write_text(path.read_text().replace(choice, "mask: true"))
    assert {c.kernel for c in load_cases([path], tier="smoke")} == {"deform_im2col", "deform_conv2d"}
