"""The fidelity audit: rank statistics against known values, the design draw, a store that survives
a kill, resuming, and the command end to end on a tiny study."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import run_command
from slwsr_search.cli.fidelity import main as fidelity_main
from slwsr_search.audit import trainings as audit_mod
from slwsr_search.audit.store import REFERENCE, SCREEN, AuditStore
from slwsr_search.audit.trainings import draw_designs, plan_jobs
from slwsr_search.audit.stats import (bootstrap_interval, design_table, kendall_tau, matched_pairs, spearman_rho,
                                          summarize)
from slwsr_search.search.study import StudyConfig


@pytest.mark.parametrize("seed", range(6))
def test_tau_and_rho_match_scipy_with_ties(seed):
    g = np.random.default_rng(seed)
    x = g.integers(0, 6, 15).astype(float)  # few values: many ties
    y = x + g.normal(0, 2, 15).round()
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


def test_known_values():
    assert kendall_tau([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0 and kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    assert spearman_rho([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3])) and math.isnan(spearman_rho([1], [1]))
    with pytest.raises(ValueError, match="equally long"):
        kendall_tau([1, 2], [1, 2, 3])


def test_bootstrap_interval_is_deterministic_and_brackets_a_clear_trend():
    g = np.random.default_rng(0)
    x = np.arange(20.0)
    y = x + g.normal(0, 3, 20)
    lo, hi = bootstrap_interval(x, y, kendall_tau, n_boot=500, seed=1)
    assert (lo, hi) == bootstrap_interval(x, y, kendall_tau, n_boot=500, seed=1)
    assert 0 < lo < kendall_tau(x, y) < hi <= 1


def test_matched_pairs_count_only_cost_matched_untied_pairs():
    params = [100, 110, 200, 205, 400]
    score = [1.0, 2.0, 3.0, 3.0, 9.0]
    ref = [1.0, 2.0, 5.0, 4.0, 0.0]
    # matched: (0,1) right; (2,3) tied in score: not counted; 400 matches nothing
    assert matched_pairs(score, ref, params, 0.15) == (1, 1)
    assert matched_pairs(score, [2.0, 1.0, 5.0, 4.0, 0.0], params, 0.15) == (0, 1)
    assert matched_pairs(score, ref, params, 0.0) == (0, 0)


def _rec(label, h, params, role, seed, psnr, status="ok", loss=10.0):
    return {"key": f"{role}:{h}:{seed}", "label": label, "arch": label, "hash": h, "params": params, "macs": params * 10,
            "role": role, "seed": seed, "status": status, "psnr": psnr, "ssim": 0.5, "loss_mean": loss, "loss_tail": loss}


def _records(n=6):
    """n designs whose screening seed-mean ranks exactly as the reference; seed 1 reverses it."""
    out = {}
    for k in range(n):
        h = f"h{k}"
        for r in (_rec(f"d{k}", h, 1000 + k, SCREEN, 0, 20.0 + k, loss=50.0 - k),
                  _rec(f"d{k}", h, 1000 + k, SCREEN, 1, 20.0 + 0.1 * (n - k), loss=50.0 - k),
                  _rec(f"d{k}", h, 1000 + k, REFERENCE, 0, 25.0 + k)):
            out[r["key"]] = r
    return out


def test_summary_scores_each_estimator_against_the_reference():
    recs = _records()
    recs["reference:h0:1"] = _rec("d0", "h0", 1000, REFERENCE, 1, 25.2)
    s = summarize(recs, screen_seeds=2, n_boot=200)
    by = {e.name: e for e in s.estimators}
    assert by["psnr_seed0"].tau == 1.0 and by["psnr_seed1"].tau == -1.0 and by["psnr_mean"].tau == 1.0
    assert by["loss_tail"].tau == 1.0 and by["params"].tau == 1.0  # lower loss, more params: higher reference here
    assert by["psnr_seed0"].pairs == 15 and by["psnr_seed0"].pairs_right == 15  # every pair within 15% of params
    assert s.reference_noise == [pytest.approx(0.2)] and len(s.designs) == 6 and s.missing == 0


def test_designs_without_every_training_are_left_out():
    recs = _records()
    del recs["screen:h1:1"]
    recs["screen:h2:0"]["status"] = "nonfinite"
    table, missing = design_table(recs, 2)
    assert missing == 2 and set(table["label"]) == {"d0", "d3", "d4", "d5"}
    assert not summarize({k: v for k, v in recs.items() if v["hash"] in ("h0", "h3", "h4")}, 2).estimators  # 3 < 4


def test_design_draw_is_seeded_distinct_feasible_and_baselines_first():
    cfg = StudyConfig.load("budget150k")
    a, b = draw_designs(cfg, 6, seed=3), draw_designs(cfg, 6, seed=3)
    assert [d.spec for d in a] == [d.spec for d in b] and [d.label for d in a[:2]] == ["s-lwsr16", "s-lwsr16-half"]
    assert len({d.spec.hash for d in a}) == 8 and all(d.cost.params <= 150_000 for d in a)
    assert [d.spec for d in draw_designs(cfg, 6, seed=4)] != [d.spec for d in a]
    jobs = plan_jobs(a, screen_seeds=3, reference_repeat=2)
    assert len(jobs) == 8 * 3 + 8 + 2 and [j.role for j in jobs[-10:]] == [REFERENCE] * 10
    assert len({j.key for j in jobs}) == len(jobs)



AUDITED = {"steps": 75, "batch_size": 16, "lr_patch": 32, "seed": 0, "fidelity": {"rungs": [1, 3]}}
AUDITED_DATA = ["builtin:train", "builtin:val"]
X4 = "x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h,2.1,3.1,4.1,5.1,5.2"


def test_an_audit_is_a_study_s_only_at_the_scale_it_screened():
    """A fidelity.json matched on protocol and data alone would let an x2 study state an x4
    audit's figures as its own: the scale is matched too, from the signature when it records one,
    else from the designs' arch strings (files written before the signature held it)."""
    from slwsr_search.audit.stats import audit_for, screening_signature

    old = {"screening_signature": screening_signature(AUDITED, AUDITED_DATA), "designs": [{"label": "a", "arch": X4}]}
    assert audit_for({**AUDITED, "seed": 9}, AUDITED_DATA, old, scale=4) is old  # the seed is not matched
    assert audit_for(AUDITED, AUDITED_DATA, old, scale=2) is None
    new = {"screening_signature": screening_signature(AUDITED, AUDITED_DATA, scale=2), "designs": []}
    assert new["screening_signature"]["scale"] == 2 and audit_for(AUDITED, AUDITED_DATA, new, scale=2) is new
    assert audit_for(AUDITED, AUDITED_DATA, new, scale=4) is None
    mixed = {**old, "designs": [{"label": "a", "arch": X4}, {"label": "b", "arch": "x2" + X4[2:]}]}
    assert audit_for(AUDITED, AUDITED_DATA, mixed, scale=4) is None
    assert audit_for(AUDITED, ["builtin:train", "other"], old, scale=4) is None  # the data, as before


def test_the_shipped_budget150k_audit_is_its_x4_screening_and_no_x2_study_s():
    from slwsr_search.audit.stats import audit_for, audit_scale, read_audit
    from slwsr_search.search.resources import shipped_audit_file
    from slwsr_search.search.study import screening_record

    cfg = StudyConfig.load("budget150k")
    audit = read_audit(shipped_audit_file(cfg.path))
    protocol, data = screening_record(cfg.protocol_for("cpu"), cfg.fidelity), [" + ".join(cfg.train), " + ".join(cfg.val)]
    assert audit_scale(audit) == cfg.space.scale == 4
    assert audit_for(protocol, data, audit, scale=cfg.space.scale) is audit
    assert audit_for(protocol, data, audit, scale=2) is None

def test_store_survives_a_torn_line_and_keeps_settings_apart(tmp_path):
    store = AuditStore(tmp_path / "a.jsonl", {SCREEN: "s1", REFERENCE: "r1"})
    store.append({"key": "x", "role": SCREEN, "psnr": 1.0})
    AuditStore(tmp_path / "a.jsonl", {SCREEN: "s2", REFERENCE: "r1"}).append({"key": "y", "role": SCREEN, "psnr": 2.0})
    store.append({"key": "z", "role": REFERENCE, "psnr": 3.0})
    with (tmp_path / "a.jsonl").open("a") as f:
        f.write('{"key": "w", "psn')  # kill -9 in the middle of a write
    assert sorted(store.load()) == ["x", "z"]
    # another reference on the same screening shares the screening trainings, not the reference ones
    assert sorted(AuditStore(tmp_path / "a.jsonl", {SCREEN: "s1", REFERENCE: "r9"}).load()) == ["x"]
    (tmp_path / "a.jsonl").write_text('garbage\n{"key": "x", "role": "screen", "settings": "s1"}\n')
    with pytest.raises(ValueError, match="a.jsonl: line 1 is not JSON"):
        store.load()


def _cli(capsys, *argv):
    return run_command(fidelity_main, capsys, *argv, prog="fidelity")


def _check_documented(summary: dict) -> None:
    """Every key of a ``fidelity.json``, and of its estimators, is in docs/fidelity.md's schema."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "fidelity.md").read_text()
    schema = doc[doc.index("## fidelity.json"):]
    keys = set(summary) | {k for e in summary["estimators"] for k in e}
    assert not [k for k in sorted(keys) if f"`{k}`" not in schema]


def test_the_command_resumes_without_retraining(capsys, tmp_path, monkeypatch, folders):
    calls = []
    real = audit_mod.train
    monkeypatch.setattr(audit_mod, "train", lambda spec, *a, **k: calls.append(spec) or real(spec, *a, **k))
    argv = ["--study", "smoke", "--designs", "4", "--seeds", "2", "--factor", "2", "--reference-repeat", "1",
            "--device", "cpu", "--quiet", "--out", str(tmp_path / "f"), *folders]
    code, out, err = _cli(capsys, *argv, "--max-jobs", "5")  # a first sitting, stopped early
    assert code == 0, err
    assert len(calls) == 5 and "8 of 13 trainings left" in out and "too few to rank" in out
    code, out, err = _cli(capsys, *argv)  # resume: only what is missing
    assert code == 0, err
    assert len(calls) == 13 and "0 of 13 trainings left" in out and "Kendall tau" in out
    summary = json.loads((tmp_path / "f" / "fidelity.json").read_text())
    assert [e["name"] for e in summary["estimators"]][-2:] == ["params", "macs"]
    assert summary["designs_scored"] == 4 and summary["trainings_left"] == 0
    assert len(summary["reference_noise_db"]) == 1
    _check_documented(summary)
    assert (tmp_path / "f" / "fidelity.html").read_text().count("Kendall tau") >= 1
    assert len((tmp_path / "f" / "audit.jsonl").read_text().splitlines()) == 13
    # a second audit with another reference on the same screening reuses the screening trainings
    code, out, err = _cli(capsys, *argv, "--factor", "3", "--store", str(tmp_path / "f" / "audit.jsonl"),
                          "--out", str(tmp_path / "g"))
    assert code == 0, err
    assert len(calls) == 13 + 5 and "0 of 13 trainings left" in out  # 4 designs + 1 repeat: only the references


def test_an_audit_of_a_study_with_rungs_scores_the_top_rung_and_the_first(capsys, tmp_path, folders):
    study = tmp_path / "rungs.toml"
    study.write_text((Path(StudyConfig.load("smoke").path).read_text()
                      + "\n[fidelity]\nrungs = [1, 2]\nreduction = 2\nseeds_at_top = 2\n"))
    argv = ["--study", str(study), "--designs", "4", "--seeds", "2", "--factor", "2", "--reference-repeat", "0",
            "--device", "cpu", "--quiet", "--out", str(tmp_path / "f"), *folders]
    code, out, err = _cli(capsys, *argv)
    assert code == 0, err
    assert "up rungs at 3, 6 steps" in out
    rows = [json.loads(line) for line in (tmp_path / "f" / "audit.jsonl").read_text().splitlines()]
    screens = [r for r in rows if r["role"] == SCREEN]
    assert len(screens) == 8
    for r in screens:  # every design climbs every rung; its score is the top rung's
        assert len(r["rung_psnr"]) == 2 and r["psnr"] == r["rung_psnr"][-1] and r["steps"] == 6
    summary = json.loads((tmp_path / "f" / "fidelity.json").read_text())
    assert "rung0_mean" in [e["name"] for e in summary["estimators"]]
    assert summary["screening_fidelity"] == {"rungs": [1, 2], "reduction": 2, "seeds_at_top": 2}


def test_an_audit_of_the_baselines_alone(capsys, tmp_path, folders):
    study = tmp_path / "b.toml"
    study.write_text(Path(StudyConfig.load("smoke").path).read_text().replace("baselines = []", 'baselines = ["s-lwsr16"]')
                     .replace("max_params = 20_000", "max_params = 150_000"))
    code, out, err = _cli(capsys, "--study", str(study), "--designs", "0", "--seeds", "1", "--factor", "1",
                          "--reference-repeat", "0", "--device", "cpu", "--quiet", "--out", str(tmp_path / "f"),
                          "--max-jobs", "0", *folders)
    assert code == 0, err
    assert "1 designs (1 baselines), 1 screening seeds, 2 trainings" in out


@pytest.mark.parametrize("argv,msg", [
    (["--designs", "-1"], "--designs: expected an integer >= 0, got -1"),
    (["--designs", "0"], "--designs: 0 designs and no baseline of smoke fits its budget"),
    (["--tolerance", "1.5"], "--tolerance: expected a share in [0, 1)"),
    (["--factor", "0"], "--factor: expected an integer >= 1, got 0"),
])
def test_bad_input(capsys, argv, msg):
    code, _, err = _cli(capsys, "--study", "smoke", "--device", "cpu", *argv)
    assert code == 2 and msg in err and err.count("\n") == 1


@pytest.mark.slow
def test_two_workers_share_the_audit_without_doing_a_training_twice(tmp_path, folders):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "slwsr_search.fidelity", "--study", "smoke", "--designs", "4", "--seeds", "2",
           "--factor", "2", "--reference-repeat", "1", "--device", "cpu", "--workers", "2", "--out", str(tmp_path / "f"),
           *folders]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "[w1]" in p.stdout and "[w2]" in p.stdout and "0 of 13 trainings left" in p.stdout
    keys = [json.loads(line)["key"] for line in (tmp_path / "f" / "audit.jsonl").read_text().splitlines()]
    assert len(keys) == 13 and len(set(keys)) == 13


def test_an_audit_scores_only_its_own_designs_from_a_shared_store(capsys, tmp_path, folders):
    base = ["--study", "smoke", "--seeds", "1", "--factor", "1", "--reference-repeat", "0", "--device", "cpu",
            "--quiet", "--store", str(tmp_path / "shared.jsonl"), *folders]
    # a first audit of 3 designs, stopped with two of them incomplete (screens first, then d0's reference)
    assert _cli(capsys, *base, "--designs", "3", "--max-jobs", "4", "--out", str(tmp_path / "a"))[0] == 0
    code, out, err = _cli(capsys, *base, "--designs", "1", "--out", str(tmp_path / "b"))
    assert code == 0, err
    summary = json.loads((tmp_path / "b" / "fidelity.json").read_text())
    assert summary["designs_incomplete"] == 0 and "0 of 2 trainings left" in out


# ----- screening settings side by side (slwsr bench screening) -----------------------------------------


def _store(path: Path, recs: dict, settings: str) -> str:
    with path.open("a") as f:
        for r in recs.values():
            f.write(json.dumps({**r, "settings": settings}) + "\n")
    return str(path)


def test_bench_screening_scores_each_setting_on_its_designs_and_on_the_shared_ones(capsys, tmp_path):
    from slwsr_search.cli.bench import main as bench_main

    recs = _records(6)
    ref = _store(tmp_path / "ref.jsonl", {k: v for k, v in recs.items() if v["role"] == REFERENCE}, "r")
    screens = {k: v for k, v in recs.items() if v["role"] == SCREEN}
    both = _store(tmp_path / "a.jsonl", screens, "good")
    # a second setting in the same file that ranks every design backwards, on five designs only
    # (another audit's labels for the same designs: designs are matched by their hash, not their label)
    flipped = {k: {**v, "psnr": -v["psnr"], "loss_tail": -v["loss_tail"], "label": f"x{v['label']}"}
               for k, v in screens.items() if v["hash"] != "h5"}
    _store(tmp_path / "a.jsonl", flipped, "bad")
    code, out, err = run_command(bench_main, capsys, "screening", "--reference", ref, "--screening", f"good={both}@good",
                                 "--screening", f"bad={both}@bad", "--out", str(tmp_path / "cmp"), prog="bench")
    assert code == 0, err
    rows = json.loads((tmp_path / "cmp.json").read_text())["rows"]
    got = {(r["screening"], r["designs"], r["estimator"]): r for r in rows}
    assert got[("good", "own", "psnr_mean")]["tau"] == 1.0 and got[("good", "own", "psnr_mean")]["n"] == 6
    assert got[("bad", "own", "loss_tail")]["tau"] == -1.0 and got[("bad", "own", "loss_tail")]["n"] == 5
    assert got[("good", "common", "psnr_mean")]["n"] == 5  # the designs both settings have
    assert "scored on the designs all share" in out
    # a file holding two settings needs one named, and the message lists them
    code, _, err = run_command(bench_main, capsys, "screening", "--reference", ref, "--screening", f"x={both}", prog="bench")
    assert code == 2 and "good (" in err and "bad (" in err and "FILE@KEY" in err


def test_too_few_designs_says_what_would_make_them_enough():
    from slwsr_search.reporting.fidelity import fidelity_text

    recs = {k: v for k, v in _records().items() if v["hash"] in ("h0", "h1", "h2")}
    assert "at least 4 are needed; audit more designs" in fidelity_text(summarize(recs, 2, n_boot=10))
    del recs["screen:h2:1"]
    assert "resume the audit to finish 1 more" in fidelity_text(summarize(recs, 2, n_boot=10))


# ----- a long reference along a ladder ---------------------------------------------------------------


def _ladder_argv(tmp_path, folders, *more):
    designs = tmp_path / "designs.txt"
    designs.write_text("# chosen on purpose\nres8  x4-n8-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h,2.1,3.1,4.1,5.1,5.2\n")
    return ["--study", "smoke", "--designs", "3", "--design-file", str(designs), "--seeds", "1",
            "--reference-steps", "8", "--ladder", "2,5", "--checkpoint-every", "3", "--reference-repeat", "res8",
            "--device", "cpu", "--quiet", "--out", str(tmp_path / "f"), *folders, *more]


def test_a_long_reference_keeps_its_curve_and_resumes_from_its_checkpoint(capsys, tmp_path, folders):
    code, out, err = _cli(capsys, *_ladder_argv(tmp_path, folders))
    assert code == 0, err
    assert "ladder     scored at 2, 5, 8 steps; a checkpoint every 3 steps" in out
    rows = [json.loads(line) for line in (tmp_path / "f" / "audit.jsonl").read_text().splitlines()]
    refs = [r for r in rows if r["role"] == REFERENCE]
    assert sorted((r["label"], r["seed"]) for r in refs) == [("d0", 0), ("d1", 0), ("d2", 0), ("res8", 0), ("res8", 1)]
    for r in refs:
        assert [c["step"] for c in r["curve"]] == [2, 5, 8] and r["psnr"] == r["curve"][-1]["psnr"]
        assert all(c["loss"] > 0 and c["ssim"] > 0 for c in r["curve"]) and r["steps"] == 8
        assert Path(r["run"]).is_dir() and r["cpus"]
    summary = json.loads((tmp_path / "f" / "fidelity.json").read_text())
    assert summary["ladder"] == [2, 5, 8] and summary["horizons"]["steps"] == [2, 5, 8]
    _check_documented(summary)
    per_rung = pd.read_csv(tmp_path / "f" / "fidelity-horizons.csv")
    assert set(per_rung["horizon"]) == {2, 5, 8} and "top1_regret_db" in per_rung
    assert {"reference_at_2", "reference_at_8"} <= set(pd.read_csv(tmp_path / "f" / "fidelity.csv").columns)
    assert "Kendall tau against the reference at each rung" in out
    assert "reference res8           seed 1  step 5: PSNR" in out  # each rung's score as it comes
    assert _cli(capsys, *_ladder_argv(tmp_path, folders))[1].count("0 of 9 trainings left") == 1


def test_a_cut_long_reference_ends_with_the_weights_of_an_uncut_one(tmp_path, folders):
    from helpers import stop_after
    from slwsr_search.audit.trainings import Design, Job, Ladder, run_jobs
    from slwsr_search.model.presets import get_preset
    from slwsr_search.sr.data import load_data
    from slwsr_search.training.finalize import STATE
    from slwsr_search.training.protocol import Protocol
    from slwsr_search.training.state import load_state

    data = load_data("builtin:train", "builtin:val", 4, 16, progress=False)
    proto = Protocol(steps=10, batch_size=2, lr_patch=16)
    job = Job(Design("half", get_preset("s-lwsr16-half")), REFERENCE, 0)

    def run(name: str, stops: list[int]) -> dict:
        store = AuditStore(tmp_path / name / "a.jsonl", {SCREEN: "s", REFERENCE: "r"})
        ladder = Ladder((3, 7), str(tmp_path / name / "runs"), checkpoint_every=2)
        for n in stops:  # each call a new start, as a new process would make
            assert run_jobs([job], store, proto, proto, data, data, "cpu", should_stop=stop_after(n), ladder=ladder) == 0
        assert run_jobs([job], store, proto, proto, data, data, "cpu", ladder=ladder) == 1
        rec = store.load()[job.key]
        return {"rec": rec, "weights": load_state(Path(rec["run"]) / STATE).weights,
                "log": (Path(rec["run"]) / "log.txt").read_text()}

    whole, cut = run("whole", []), run("cut", [5, 2])  # cut after step 5 (checkpoint at 4), then at 5 (at 6)
    assert all(torch_equal(whole["weights"][k], cut["weights"][k]) for k in whole["weights"])
    assert [(c["step"], c["psnr"], c["loss"]) for c in whole["rec"]["curve"]] == \
        [(c["step"], c["psnr"], c["loss"]) for c in cut["rec"]["curve"]]
    assert cut["log"].count("resumed from the checkpoint at step") == 2 and "step 4 of 10" in cut["log"].replace(",", "")


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)


@pytest.mark.slow
def test_a_long_reference_killed_with_sigkill_resumes_in_a_new_process(tmp_path, folders):
    """``kill -9`` in the middle of a long reference, then the same command again: it continues
    from the run folder's checkpoint and ends with the weights of an uncut run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from slwsr_search.training.state import load_state

    (tmp_path / "d.txt").write_text("res8 x4-n8-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h,2.1,3.1,4.1,5.1,5.2\n")
    cmd = [sys.executable, "-m", "slwsr_search.fidelity", "--study", "smoke", "--designs", "0", "--design-file",
           str(tmp_path / "d.txt"), "--seeds", "1", "--reference-steps", "60", "--ladder", "20,40",
           "--checkpoint-every", "5", "--reference-repeat", "0", "--device", "cpu", "--threads", "1", "--quiet", *folders]

    def run(name: str, kill_after: int | None = None) -> Path:
        argv = cmd + ["--out", str(tmp_path / name)]
        if kill_after is not None:
            proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                logs = list((tmp_path / name).glob("audit-runs/*/log.txt"))
                if logs and logs[0].read_text().count("checkpoint at step") >= kill_after:
                    break
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        (folder,) = (tmp_path / name).glob("audit-runs/*")
        return folder

    whole, cut = run("whole"), run("cut", kill_after=3)
    a, b = load_state(whole / "state.pt").weights, load_state(cut / "state.pt").weights
    assert all(torch_equal(a[k], b[k]) for k in a)
    log = (cut / "log.txt").read_text()
    assert log.count("resumed from the checkpoint at step") == 1 and "finished 60 steps" in log
