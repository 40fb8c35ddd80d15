"""Tables at 80 columns and in logs: case ids stay whole on one line (a grep of a saved log finds
them), headers are never shortened to "instruct…"; a table that fits is drawn as a table."""

import io

import pytest
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from suite import cases, cli
from suite.table_fit import show
from synthetic_results import case, environment, samples, save_run
from test_cli import TINY

LONG_IDS = [f"deform/stride_padding_dilation[stride={s},padding=1x2,dilation=1x2]/float32/deform_im2col"
            for s in ("1x1", "2x1", "2x2")]


def _console(width):
    return Console(file=io.StringIO(), width=width, force_terminal=False)


def _table(ids):
    table = Table(title="launches")
    table.add_column("case", overflow="fold")
    for header in ("instructions", "global requests", "bank conflicts", "shared wavefronts", "DRAM bytes"):
        table.add_column(header, justify="right")
    for i, cid in enumerate(ids):
        table.add_row(escape(cid), *(str(1000 * i + k) for k in range(5)))
    return table


def test_a_table_too_wide_is_stacked_with_whole_ids_and_whole_headers():
    console = _console(80)
    show(console, _table(LONG_IDS))
    lines = console.file.getvalue().splitlines()
    assert all(cid in lines for cid in LONG_IDS)
    text = " ".join(lines)
    assert "…" not in text and all(f"{h}:" in text for h in ("instructions", "shared wavefronts", "DRAM bytes"))


def test_a_table_that_fits_is_drawn_as_one():
    console = _console(250)
    show(console, _table(LONG_IDS))
    lines = console.file.getvalue().splitlines()
    assert any("┃ instructions ┃" in line for line in lines)
    assert all(any(cid in line for line in lines) for cid in LONG_IDS)


@pytest.fixture
def narrow(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # as in a log: stdout is not a terminal


def test_compare_at_80_columns_keeps_every_case_id_on_one_line(tmp_path, capsys, narrow):
    runs = [save_run(tmp_path / name, environment(), [case(cid, samples(1e-3, seed=i)) for i, cid in enumerate(LONG_IDS)])
            for name in ("a", "b")]
    assert cli.main(["compare", *map(str, runs)]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert all(cid in lines for cid in LONG_IDS) and not any("…" in line for line in lines)


def test_dry_run_piped_at_80_columns_lists_whole_ids(capsys, narrow):
    expr = "stride_padding_dilation and float32 and deform_im2col"
    assert cli.main(["run", "--dry-run", "-k", expr]) == cli.EXIT_OK
    expected = [c.id for c in cases.select(cases.load_cases(cases.default_case_files()), expr)]
    assert max(map(len, expected)) > 80
    assert capsys.readouterr().out.splitlines()[:len(expected)] == expected


def test_run_table_at_80_columns_keeps_case_ids_whole(tmp_path, capsys, narrow):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("name: tiny", "name: a_rather_long_sweep_name_for_a_narrow_log"))
    assert cli.main(["run", str(path), "--backend", "host", "--no-baseline"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "…" not in out
    for selected in cases.load_cases([path]):
        assert selected.id in out.splitlines()


def test_progress_lines_at_80_columns_keep_case_ids_whole(tmp_path, capsys, narrow):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("name: tiny", "name: a_rather_long_sweep_name_for_a_narrow_log"))
    assert cli.main(["run", str(path), "--backend", "host", "--no-baseline"]) == cli.EXIT_OK
    err = capsys.readouterr().err.splitlines()
    selected = cases.load_cases([path])
    assert max(len(c.id) for c in selected) > 80
    for i, c in enumerate(selected, 1):
        assert any(line.startswith(f"[{i}/{len(selected)}] ") for line in err)
        assert any(line.endswith(f"] {c.id}: PASS") for line in err), err


def test_profile_at_80_columns_keeps_case_ids_whole(capsys, narrow):
    expr = "deform_im2col and dcn and mask=true and float32"
    assert cli.main(["profile", "-k", expr]) == cli.EXIT_OK
    (cid,) = [c.id for c in cases.select(cases.load_cases(cases.default_case_files()), expr)]
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(cid) for line in lines) and not any("…" in line for line in lines)


def test_message_lines_at_80_columns_keep_case_ids_whole(tmp_path, capsys, narrow):
    # a case only in one file and a regression: their lines name ids longer than the console
    a = save_run(tmp_path / "a", environment(), [case(cid, samples(1e-3, seed=i)) for i, cid in enumerate(LONG_IDS)])
    b = save_run(tmp_path / "b", environment(), [case(LONG_IDS[0], samples(2e-3, seed=9))])
    assert cli.main(["compare", str(a), str(b), "--fail-above", "5"]) == cli.EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert any(line.endswith(f"only in #1: {LONG_IDS[1]}") for line in lines)
    assert any(line.startswith(f"regression: {LONG_IDS[0]}: ") for line in lines)


def test_long_free_text_wraps_inside_a_table_that_otherwise_fits():
    table = Table()
    table.add_column("case")
    table.add_column("verdict")
    for cid in LONG_IDS:
        table.add_row(escape(cid), "uses local memory (1024 B stack frame): register spills or a dynamically indexed array")
    console = _console(120)
    show(console, table)
    lines = console.file.getvalue().splitlines()
    assert any("┃ case" in line for line in lines)  # drawn as a table, the verdict wrapped between words
    assert all(any(f"│ {cid} │" in line for line in lines) for cid in LONG_IDS)
