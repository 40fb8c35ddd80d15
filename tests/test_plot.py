"""`suite plot` on synthetic result files: the plotted values are the saved throughputs, the roofs are
the measured peaks, and every format is actually written."""

import statistics

import pytest

from suite import cli, compare, plot
from synthetic_results import case, environment, samples, save_run

pytest.importorskip("matplotlib")

SEQ_LENS = (128, 256, 512, 1024)
PEAKS = {"copy_gbps": 3000.0, "matmul_tflops": {"float16": 700.0}}


def _runs(tmp_path):
    """Attention cases over seq_len on two devices (one with an SDPA baseline twice as slow)."""
    paths = []
    for d, device in enumerate(("NVIDIA H100", "NVIDIA A100")):
        cases = [case(f"attention/s[seq_len={s}]/float16/flash", samples(1e-4 * s / 128 * (d + 1), seed=s + d),
                      params={"seq_len": s, "heads": 8}, flops=10**9 * s, nbytes=10**6 * s,
                      baselines={"sdpa": {"speedup": 2.0}})
                 for s in SEQ_LENS]
        paths.append(save_run(tmp_path / "results", environment(device, peaks=PEAKS), cases))
    return paths


def _lines(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def test_sweep_plots_the_saved_throughput_per_device_and_baseline(tmp_path):
    runs = compare.load_runs(_runs(tmp_path))
    assert plot.sweep_axes(runs) == ["seq_len"]  # heads never varies
    fig = plot.sweep_figure(runs)
    (ax,) = fig.axes
    lines = _lines(ax)
    assert set(lines) == {f"{r.label}, {k}" for r in runs for k in ("flash", "sdpa (baseline)")}
    for run in runs:
        tflops = [run.cases[f"attention/s[seq_len={s}]/float16/flash"].metrics["tflops"] for s in SEQ_LENS]
        assert lines[f"{run.label}, flash"] == (list(SEQ_LENS), pytest.approx(tflops))
        assert lines[f"{run.label}, sdpa (baseline)"][1] == pytest.approx([t / 2 for t in tflops])
        median = statistics.median(run.cases["attention/s[seq_len=256]/float16/flash"].timing["samples_s"])
        assert lines[f"{run.label}, flash"][1][1] == pytest.approx(256 * 1e9 / median / 1e12)
    # labels name only what differs between lines: here the device alone
    assert set(_lines(plot.sweep_figure(runs, "seq_len", baselines=False).axes[0])) == {r.label for r in runs}


def test_roofline_draws_measured_roofs_and_points_at_their_intensity(tmp_path):
    runs = compare.load_runs(_runs(tmp_path))
    (ax,) = plot.roofline_figure(runs).axes
    lines = _lines(ax)
    xs, ys = lines["roof #1 NVIDIA H100 float16"]
    assert max(ys) == pytest.approx(700.0)
    assert ys[0] == pytest.approx(xs[0] * 3000.0 / 1000)  # memory-bound slope below the ridge
    assert lines["#1 NVIDIA H100"][0] == pytest.approx([1000.0] * len(SEQ_LENS))  # flops / bytes


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".html", b"<!DOCTYPE html>")])
def test_cli_writes_each_picture_format(tmp_path, suffix, magic):
    _runs(tmp_path)
    out = tmp_path / "pics" / f"sweep{suffix}"
    assert cli.main(["plot", str(tmp_path / "results"), "-o", str(out), "--x", "seq_len"]) == cli.EXIT_OK
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 1000
    if suffix == ".html":
        assert b"<svg" in data and b"</html>" in data and b"<script" not in data
    roof = tmp_path / "pics" / f"roof{suffix}"
    assert cli.main(["plot", str(tmp_path / "results"), "--view", "roofline", "-o", str(roof)]) == cli.EXIT_OK
    assert roof.read_bytes().startswith(magic)


@pytest.mark.parametrize("extra, words", [
    (["-o", "pic.pdf"], "unknown picture format '.pdf'"),
    (["-o", "pic.png", "--x", "channels"], "parameters that vary: seq_len"),
])
def test_bad_plot_requests_exit_2(tmp_path, capsys, extra, words):
    _runs(tmp_path)
    extra = [str(tmp_path / a) if a.startswith("pic") else a for a in extra]
    assert cli.main(["plot", str(tmp_path / "results"), *extra]) == cli.EXIT_USAGE
    assert words in " ".join(capsys.readouterr().err.split())


def test_pair_params_and_a_param_named_kernel_plot_one_line_per_swept_value(tmp_path):
    """Deform's params hold pairs (lists once saved as JSON) and a `kernel` size; lines follow the
    swept params of each sweep (here mask), with the kernel name kept apart from the kernel size."""
    cases = [case(f"deform/dcn[height={h},mask={str(m).lower()}]/float32/deform_im2col", samples(1e-5 * h, seed=h),
                  params={"height": h, "mask": m, "kernel": [3, 3], "stride": [1, 2]})
             for h in (8, 16, 32) for m in (False, True)]
    runs = compare.load_runs([save_run(tmp_path, environment("NVIDIA H100"), cases)])
    (ax,) = plot.sweep_figure(runs, "height").axes
    lines = _lines(ax)
    assert sorted(lines) == ["mask=False", "mask=True"]
    assert all(xs == [8, 16, 32] for xs, _ in lines.values())


def test_a_named_parameter_such_as_a_tile_shape_is_a_categorical_axis(tmp_path):
    shapes = ("128x64w8s2", "128x32w4s2", "64x64w4s3")  # deliberately not in sorted order
    cases = [case(f"attention/t[seq_len={s},tiles={t}]/float16/tc", samples(1e-4 * (i + 1) * s / 128, seed=i + s),
                  params={"seq_len": s, "tiles": t}, flops=10**9 * s)
             for s in (128, 256) for i, t in enumerate(shapes)]
    runs = compare.load_runs([save_run(tmp_path / "results", environment("NVIDIA H100"), cases)])
    assert plot.sweep_axes(runs) == ["seq_len", "tiles"]  # numeric axes first
    (ax,) = plot.sweep_figure(runs, "tiles", baselines=False).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(shapes)
    for s in (128, 256):
        xs, ys = _lines(ax)[f"seq_len={s}"]
        rates = [runs[0].cases[f"attention/t[seq_len={s},tiles={t}]/float16/tc"].metrics["tflops"] for t in shapes]
        assert xs == [0, 1, 2] and ys == pytest.approx(rates)


def _decode_like(tmp_path, flops_per_byte):
    """A zipped sweep (seq_k tied to seq_q, as in cases/attention.yaml) of a kernel with the given
    arithmetic intensity, times far below a second (GB/s values around 1e-5 on the host)."""
    cases = [case(f"attention/decode[seq_q={q},seq_k={k}]/float16/attention_decode", samples(1e-3 * q, seed=q),
                  params={"seq_q": q, "seq_k": k}, flops=int(flops_per_byte * 1000 * q), nbytes=1000 * q)
             for q, k in ((1, 1000), (4, 300), (8, 200))]
    return compare.load_runs([save_run(tmp_path / "results", environment("AMD EPYC", backend="host"), cases)])


def test_a_memory_bound_family_is_drawn_in_gbps_unless_told_otherwise(tmp_path):
    runs = _decode_like(tmp_path, flops_per_byte=2)  # far below either ridge
    assert plot.default_metric([(runs[0], c) for c in runs[0].cases.values()]) == "gbps"
    (ax,) = plot.sweep_figure(runs, "seq_q").axes
    assert ax.get_ylabel() == "GB/s"
    (ax,) = plot.sweep_figure(runs, "seq_q", metric="tflops").axes
    assert ax.get_ylabel() == "TFLOP/s"
    compute = _decode_like(tmp_path / "c", flops_per_byte=5000)
    assert plot.sweep_figure(compute, "seq_q").axes[0].get_ylabel() == "TFLOP/s"


def test_a_zipped_parameter_does_not_split_the_line_and_ticks_have_no_offset_text(tmp_path):
    runs = _decode_like(tmp_path, flops_per_byte=2)
    fig = plot.sweep_figure(runs, "seq_q", baselines=False)
    (ax,) = fig.axes
    ((xs, _),) = _lines(ax).values()  # one line of three points, not three one-point lines
    assert xs == [1, 4, 8] and plot.one_point_lines(runs, "seq_q") == (0, 1)
    fig.canvas.draw()  # tick labels and offset texts exist once drawn
    assert ax.yaxis.get_offset_text().get_text() == "" and ax.xaxis.get_offset_text().get_text() == ""
    assert all("e-" not in t.get_text() for t in ax.get_yticklabels())


def test_cli_warns_when_the_axis_does_not_vary_inside_a_line(tmp_path, capsys):
    # head_dim is fixed inside each sweep and differs between them: one point per sweep's line
    cases = [case(f"attention/{name}[seq_len={s}]/float16/flash", samples(1e-4 * s, seed=s + d),
                  params={"seq_len": s, "head_dim": d}, flops=10**9, nbytes=10**6)
             for name, d in (("small", 64), ("large", 128)) for s in (128, 256)]
    save_run(tmp_path / "results", environment("NVIDIA H100"), cases)
    out = tmp_path / "p.png"
    assert cli.main(["plot", str(tmp_path / "results"), "-o", str(out), "--x", "head_dim"]) == cli.EXIT_OK
    err = " ".join(capsys.readouterr().err.split())
    assert "--x head_dim does not vary inside 4 of 4 line(s)" in err and "other axes: seq_len" in err
    assert cli.main(["plot", str(tmp_path / "results"), "-o", str(out), "--x", "seq_len"]) == cli.EXIT_OK
    assert "warning" not in capsys.readouterr().err
