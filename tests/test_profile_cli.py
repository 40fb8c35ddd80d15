"""`suite profile`: case selection, JSON, the strict rules (held by the suite's kernels, broken by a
made-up conflicted launch), the predicted bounds and measured time over them."""

import json

import numpy as np
import pytest
from rich.console import Console

from suite import cases, cli
from suite.profile import accesses as acc, report, rules
from suite.profile.counting import count
from suite.profile.run import CaseProfile, proxy
from suite.profile.speed_of_light import GPUS, bound
from suite.profile.summary import summarize
import synthetic_results

SMALL = "deform_im2col and dcn and mask=true and float32 or odd_lengths and seq_q=1 and causal=none and float16 and attention_tc"


def smoke_case(expr):
    return cases.select(cases.load_cases(cases.default_case_files(), tier="smoke"), expr)[0]


def test_json_holds_counts_rules_and_a_marked_prediction(capsys):
    assert cli.main(["profile", "-k", SMALL, "--json", "--strict", "--gpu", "a100"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ids = [c["id"] for c in doc["cases"]]
    assert ids == [c.id for c in cases.select(cases.load_cases(cases.default_case_files()), SMALL)]
    for c in doc["cases"]:
        assert c["error"] is None and c["bound"]["prediction"] is True and c["bound"]["gpu"].startswith("NVIDIA A100")
        (launch,) = c["launches"]
        assert launch["lines"] and launch["global_load"]["requests"] > 0
        # every byte the byte model counts is touched, and nothing more
        assert launch["global_load"]["unique_bytes"] + launch["global_store"]["unique_bytes"] == c["bytes_model"]
    tc = next(c for c in doc["cases"] if c["kernel"] == "attention_tc")
    assert tc["totals"]["mma"] > 0 and tc["launches"][0]["shared"]["bank_conflicts"] == 0
    assert doc["rules"] and all(r["passed"] for r in doc["rules"])
    assert {r["rule"] for r in doc["rules"]} >= {"attention_tc ldmatrix conflict-free", "deform offset/mask loads coalesced"}


def test_the_simt_backward_stages_p_and_ds_without_bank_conflicts(capsys):
    expr = "backward and causal=top_left and grad_mode=deterministic and float32"
    assert cli.main(["profile", "-k", expr, "--json", "--strict"]) == 0
    found = [r for r in json.loads(capsys.readouterr().out)["rules"]
             if r["rule"] == "attention backward (SIMT) shared accesses conflict-free"]
    # both kernels' stores of P and dS are among the checked lines, and every one is ideal
    assert {r["kernel"].split("<")[0] for r in found} == {"attention_bwd_dkdv", "attention_bwd_dq"}
    assert sum(r["instruction"] == "shared store" for r in found) >= 6 and all(r["passed"] for r in found)


def test_bad_gpu_and_empty_selection_are_usage_errors(capsys):
    assert cli.main(["profile", "-k", SMALL, "--gpu", "V100"]) == 2
    assert "A100, H100, H200" in capsys.readouterr().err
    assert cli.main(["profile", "-k", "no_such_case"]) == 2


def test_a_conflicted_ldmatrix_breaks_the_strict_rule():
    lanes = np.arange(32)
    r = acc.empty(32)
    r["address"] = (1 << 20) + (lanes % 16) * 128 + 16 * (lanes // 16)  # unpadded 128-byte rows: 8-way
    r["lane"], r["size"], r["space"], r["op"], r["pc"] = lanes, 16, acc.SHARED, acc.LDMATRIX, 5
    rows, loaded, stored = count(r)
    launch = summarize("attention_tc<__half, 64, 128, 64, 4, 3>", (1, 1, 1), (128, 1, 1), 0, rows, loaded, stored,
                       lambda pc: "attention_tc.cu:189")
    case = smoke_case("attention_tc and float16")
    found = rules.check([CaseProfile(case, dict(case.params), 1, launches=[launch])])
    assert [f.rule.name for f in found] == ["attention_tc ldmatrix conflict-free"]
    assert not found[0].passed and found[0].excess == 32 - 4


def test_attention_counts_scale_by_batch_and_kv_heads():
    case = smoke_case("gqa and heads_kv=2 and float16")
    params, scale = proxy(case)
    assert (params["batch"], params["heads_kv"], params["heads_q"]) == (1, 1, 2) and scale == 2


def test_measured_time_over_the_bound(tmp_path):
    case = smoke_case("odd_lengths and seq_q=1 and causal=none and float16")
    b = bound(GPUS["H100"], mma=1000, wavefronts=10, sfu=0, dram_bytes=0, flops=1e6, nbytes=0)
    profile = CaseProfile(case, dict(case.params), 1, bound=b)
    run = synthetic_results.save_run(tmp_path, synthetic_results.environment("NVIDIA H100 80GB HBM3"),
                                     [synthetic_results.case(case.id, synthetic_results.samples(4 * b.least_seconds))])
    from suite.profile.measured import measured_seconds

    measured = measured_seconds(str(run), "H100")
    assert measured[case.id] == pytest.approx(4 * b.least_seconds, rel=0.05)
    console = Console(width=200, record=True)
    console.print(report.bounds_table([profile], measured))
    text = console.export_text()
    assert "tensor" in text and "PREDICTED" in text
    assert f"{measured[case.id] / b.least_seconds:.2f}x" in text
