"""The supernet's jobs and command: a study's paths, a training that is stopped and continued ending
exactly where an uninterrupted one does, files of another setup refused, designs scored with
inherited weights (and after a fine-tune), ``slwsr supernet`` end to end in-process."""

from __future__ import annotations

import dataclasses
import html
import json
import random
import re
from pathlib import Path

import pytest
import torch

from helpers import DATA, run_command, stop_after, write_folders
from slwsr_search.jobs.supernet import (SupernetHooks, SupernetSetup, budget, default_path, extremes, feasible_widths,
                                        load_supernet, path_draw, setup_for, train_supernet_job)
from slwsr_search.jobs.supernet_audit import latest_audit, record_audit, weights_digest
from slwsr_search.jobs.supernet_scores import score_designs, score_network
from slwsr_search.reporting.render import summary_markdown
from slwsr_search.search.record import StudyRecord
from slwsr_search.training.state import load_state
from slwsr_search.model.cost import count_cost
from slwsr_search.search.space import SearchSpace
from slwsr_search.search.study import StudyConfig
from slwsr_search.sr.data import load_pairs
from slwsr_search.training.protocol import Protocol
from slwsr_search.training.supernet import SupernetPlan

PLAN = SupernetPlan(steps=6, batch_size=2, lr_patch=12, lr=2e-3, sampling="fair", seed=0)


@pytest.fixture
def smoke(tmp_path):
    tr, va = write_folders(tmp_path)
    cfg = StudyConfig.load("smoke")
    return cfg, setup_for(cfg, train=(tr,)), va


@pytest.mark.parametrize("space", ["slwsr", "slwsr-mix", "smoke"])
def test_a_drawn_design_is_a_point_of_the_space(space):
    sp = SearchSpace.load(space)
    rng = random.Random(0)
    for _ in range(30):
        spec = sp.draw(rng)
        # encoding it gives back parameters the space decodes to the same design
        assert sp.decode(sp.encode(spec)) == spec and spec.n_feats in sp.n_feats


def test_the_widths_in_the_budget_are_those_whose_cheapest_design_fits(tmp_path):
    cfg = StudyConfig.load("budget150k")
    assert feasible_widths(cfg) == cfg.space.n_feats  # n32's cheapest design fits 150,000 parameters
    for n in cfg.space.n_feats:
        assert count_cost(cfg.space.cheapest(n, 0)).params <= 150_000
    text = Path(cfg.path).read_text().replace("max_params = 150_000", "max_params = 60_000")
    (tmp_path / "small.toml").write_text(text)
    small = StudyConfig.load(tmp_path / "small.toml")
    widths = feasible_widths(small)
    assert widths and max(widths) < 32
    # no draw of a width left out fits; the paths of a feasible setup all do
    draw, fits = path_draw(small, setup_for(small)), budget(small, setup_for(small))
    rng = random.Random(1)
    specs = [small.space.draw(rng) for _ in range(300)]
    assert not [s for s in specs if s.n_feats not in widths and fits(s)]
    assert all(fits(draw(rng)) for _ in range(20))


def test_a_setup_names_the_width_it_cannot_use():
    cfg = StudyConfig.load("budget150k")
    with pytest.raises(ValueError, match="widths: 18 is not a width of search space 'slwsr'"):
        setup_for(cfg, widths=(16, 18))
    s = setup_for(cfg, widths=(20, 16))
    assert s.widths == (16, 20) and s.max_expand == 6 and s.choices == ("res", "ir1", "ir2", "ir4", "ir6")
    assert SupernetSetup.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    big, small = extremes(cfg, s)
    assert count_cost(big).params > count_cost(small).params and big.n_feats == 20 and small.n_feats == 16


def test_a_training_stopped_and_continued_ends_as_an_uninterrupted_one(smoke, tmp_path):
    cfg, setup, _ = smoke
    whole = train_supernet_job(cfg, setup, PLAN, tmp_path / "whole.pt", checkpoint_every=4)
    assert whole.finished and whole.steps_done == 6
    heard = []
    cut = train_supernet_job(cfg, setup, PLAN, tmp_path / "cut.pt", SupernetHooks(on_checkpoint=lambda k, p: heard.append(k)),
                             checkpoint_every=4, should_stop=stop_after(3))
    assert not cut.finished and cut.steps_done == 3 and heard == [3]  # saved where it stopped
    heard.clear()  # stopped right at a mark (step 4): saved once, not again at the stop
    at_mark = train_supernet_job(cfg, setup, PLAN, tmp_path / "cut.pt", SupernetHooks(on_checkpoint=lambda k, p: heard.append(k)),
                                 checkpoint_every=4, should_stop=stop_after(1))
    assert at_mark.steps_done == 4 and heard == [4]
    starts = []
    done = train_supernet_job(cfg, setup, PLAN, tmp_path / "cut.pt", SupernetHooks(on_start=starts.append), checkpoint_every=4)
    assert done.finished and starts[0].resumed_at == 4
    a, b = load_supernet(tmp_path / "whole.pt"), load_supernet(tmp_path / "cut.pt")
    assert all(torch.equal(x, y) for x, y in zip(a[0].state_dict().values(), b[0].state_dict().values()))
    assert a[2].training["losses"] == b[2].training["losses"] and a[1] == setup


def test_a_kill_while_a_snapshot_is_written_loses_no_snapshot(smoke, tmp_path, monkeypatch):
    from slwsr_search.jobs import supernet as jobs

    cfg, setup, _ = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "whole.pt", checkpoint_every=2, snapshots=(4,))
    real = jobs.save_state

    def killed_at_the_snapshot(path, state):
        if Path(path).name == "cut.step4.pt":
            raise KeyboardInterrupt  # the second Ctrl-C, or a kill -9, right there
        real(path, state)
    monkeypatch.setattr(jobs, "save_state", killed_at_the_snapshot)
    with pytest.raises(KeyboardInterrupt):
        train_supernet_job(cfg, setup, PLAN, tmp_path / "cut.pt", checkpoint_every=2, snapshots=(4,))
    monkeypatch.setattr(jobs, "save_state", real)
    assert load_state(tmp_path / "cut.pt").steps == 2  # the state file did not move past the lost snapshot
    train_supernet_job(cfg, setup, PLAN, tmp_path / "cut.pt", checkpoint_every=2, snapshots=(4,))
    a, b = load_state(tmp_path / "whole.step4.pt"), load_state(tmp_path / "cut.step4.pt")
    assert a.steps == b.steps == 4 and all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)
    # a state file already at a snapshot's step without it (an older kill, or --snapshots added on
    # continuing) writes it from its weights, which are that step's
    train_supernet_job(cfg, setup, PLAN, tmp_path / "late.pt", checkpoint_every=2, should_stop=stop_after(4))
    train_supernet_job(cfg, setup, PLAN, tmp_path / "late.pt", checkpoint_every=2, snapshots=(4,), should_stop=stop_after(0))
    c = load_state(tmp_path / "late.step4.pt")
    assert c.steps == 4 and all(torch.equal(a.weights[k], c.weights[k]) for k in a.weights)


def test_a_snapshot_outside_the_training_is_refused_and_one_already_passed_is_named(smoke, tmp_path):
    cfg, setup, _ = smoke
    for bad in (0, PLAN.steps + 1):
        with pytest.raises(ValueError, match=rf"snapshots: {bad} is not a step of this training \(1..{PLAN.steps}\)"):
            train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt", snapshots=(bad,))
    assert not (tmp_path / "s.pt").exists()
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt", should_stop=stop_after(4))
    with pytest.warns(UserWarning, match=r"s.pt: continues at step 4, past snapshot step\(s\) \[2\]"):
        train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt", snapshots=(2, 5))
    assert (tmp_path / "s.step5.pt").exists() and not (tmp_path / "s.step2.pt").exists()


@pytest.mark.parametrize("change, field", [(dict(lr=1e-3), "lr"), (dict(sampling="uniform"), "sampling"),
                                           (dict(steps=9), "steps")])
def test_a_file_of_another_plan_is_refused_naming_the_field(smoke, tmp_path, change, field):
    cfg, setup, _ = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt", should_stop=stop_after(1))
    other = SupernetPlan(**{**PLAN.to_dict(), **change})
    with pytest.raises(ValueError, match=f"s.pt: holds a supernet trained with {field} "):
        train_supernet_job(cfg, setup, other, tmp_path / "s.pt")


def test_a_file_whose_paths_came_from_another_space_or_budget_is_refused(smoke, tmp_path):
    cfg, setup, _ = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt", should_stop=stop_after(1))
    tighter = dataclasses.replace(cfg, max_params=cfg.max_params - 1)  # the same widths fit: only the draw moves
    assert setup_for(tighter, train=setup.train).widths == setup.widths
    with pytest.raises(ValueError, match="s.pt: its paths were drawn from another search space or budget than study"):
        train_supernet_job(tighter, setup_for(tighter, train=setup.train), PLAN, tmp_path / "s.pt")
    # a file from before the digest (prior "") continues; with another thread count, which it records
    train_supernet_job(cfg, dataclasses.replace(setup, prior=""), PLAN, tmp_path / "old.pt", should_stop=stop_after(1))
    n = torch.get_num_threads()
    torch.set_num_threads(2 if n == 1 else 1)
    try:
        assert train_supernet_job(cfg, setup, PLAN, tmp_path / "old.pt").finished
    finally:
        torch.set_num_threads(n)
    assert load_state(tmp_path / "old.pt").extra["runs_on"] == [f"cpu, {n} thread(s)", f"cpu, {2 if n == 1 else 1} thread(s)"]


def test_a_designs_checkpoint_is_not_a_supernet(tmp_path):
    from slwsr_search import PRESETS
    from slwsr_search.model.network import build_model
    from slwsr_search.training.state import TrainingState, save_state

    save_state(tmp_path / "d.pt", TrainingState.of_model(build_model(PRESETS["s-lwsr16"])))
    with pytest.raises(ValueError, match="d.pt: not a supernet"):
        load_supernet(tmp_path / "d.pt")


def test_designs_are_scored_as_their_extracted_networks_score(smoke, tmp_path):
    cfg, setup, _ = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt")
    net, _, _ = load_supernet(tmp_path / "s.pt")
    specs = [path_draw(cfg, setup)(random.Random(k)) for k in range(2)]
    rows = score_designs(net, [("a", specs[0]), ("b", specs[1])], DATA.val)
    assert [r.label for r in rows] == ["a", "b"] and rows[0].arch == specs[0].arch
    assert (rows[0].psnr, rows[0].ssim, rows[0].l1) == score_network(net.extract(specs[0]).eval(), DATA.val, 4)
    # a fine-tune starts from the inherited weights and changes the score
    tuned = score_designs(net, [("a", specs[0])], DATA.val, finetune=2, train=DATA.train,
                          protocol=Protocol(steps=2, batch_size=2, lr_patch=12, lr=1e-3))
    assert tuned[0].finetune == 2 and tuned[0].psnr != rows[0].psnr
    with pytest.raises(ValueError, match="wide: n_feats: 8 is over the supernet's 4"):
        score_designs(net, [("wide", specs[0].replace(n_feats=8))], DATA.val)


@pytest.mark.parametrize("change, words", [
    (dict(n_feats=16), "n_feats: the supernet was trained at widths [16, 20], not 16"),
    (dict(blocks="ir3"), "blocks: ir3 is not a block choice the supernet was trained on"),
])
def test_a_design_of_slices_no_path_trained_is_refused(change, words):
    from slwsr_search.model.spec import BlockSpec

    cfg = StudyConfig.load("budget150k")
    net = setup_for(cfg, widths=(16, 20)).build()
    spec = cfg.space.draw(random.Random(0)).replace(n_feats=20)
    net.extract(spec)  # a design of the setup: held
    if "blocks" in change:
        spec = spec.replace(blocks=(BlockSpec("ir", 3, True),) + spec.blocks[1:])
    else:
        net = setup_for(cfg, widths=(12, 20)).build()
        words = words.replace("[16, 20], not 16", "[12, 20], not 16")
        spec = spec.replace(n_feats=16)
    with pytest.raises(ValueError, match=re.escape(words)):
        net.extract(spec)


@pytest.mark.parametrize("where, words", [
    ("slot", "blocks: LB1.b2 holds ir2, which no training path used there (trained: res)"),
    ("pool", "pool: LB1.b1 is not a source the supernet's paths used (head, LB2.b1, LB5.b2)"),
])
def test_a_design_outside_the_slots_or_pool_sources_the_space_searches_is_refused(smoke, where, words):
    """The smoke space searches four slots and three pool sources: elsewhere the supernet's weights
    are as initialised, so a design using them gets no score."""
    from slwsr_search.model.spec import BlockSpec, SLOTS

    cfg, setup, _ = smoke
    net = setup.build()
    spec = cfg.space.draw(random.Random(0)).replace(n_feats=setup.widths[0])
    net.extract(spec)  # a design of the space: held
    if where == "slot":
        k = SLOTS.index("LB1.b2")
        spec = spec.replace(blocks=spec.blocks[:k] + (BlockSpec("ir", 2, True),) + spec.blocks[k + 1:])
    else:
        spec = spec.replace(pool=("head", "LB1.b1"))
    with pytest.raises(ValueError, match=re.escape(words)):
        score_designs(net, [("d", spec)], DATA.val)


def test_paths_vary_only_the_slots_the_space_searches(smoke):
    from slwsr_search.model.spec import SLOTS
    from slwsr_search.search.space import parse_block_choice
    from slwsr_search.training.supernet import fair_paths, uniform_path

    cfg, setup, _ = smoke
    draw, choices = path_draw(cfg, setup), [parse_block_choice(c) for c in setup.choices]
    rng = random.Random(0)
    paths = fair_paths(draw, choices, rng, setup.slot_indices) + [uniform_path(draw, choices, rng, slots=setup.slot_indices)
                                                                 for _ in range(10)]
    for p in paths:  # every path a design of the space: the unsearched slots hold residual blocks
        assert all(b.type == "res" for s, b in zip(SLOTS, p.blocks) if s not in setup.slots)
    big, small = extremes(cfg, setup)
    for p in (big, small):
        assert all(b.type == "res" for s, b in zip(SLOTS, p.blocks) if s not in setup.slots)
        assert set(p.pool) <= set(cfg.space.pool_sources)


def test_the_command_trains_continues_and_scores(smoke, tmp_path, capsys):
    from slwsr_search.cli.supernet import main

    cfg, setup, va = smoke
    out = str(tmp_path / "sn.pt")
    args = ["train", "--study", "smoke", "--steps", "4", "--batch", "2", "--patch", "12", "--train-dir", setup.train[0],
            "--out", out, "--quiet", "--threads", "1", "--expansions", "separate"]
    code, text, err = run_command(lambda a: main(a, "supernet"), capsys, *args, prog="supernet")
    assert code == 0 and "supernet of smoke: widths [4]" in text and "(separate expansions)" in text, err
    assert "trained 4 steps" in text and "ir" in load_supernet(out)[0].slots[0]._modules
    code, _, err = run_command(lambda a: main(a, "supernet"), capsys, *[a if a != "4" else "5" for a in args], prog="supernet")
    assert code == 2 and "holds a supernet trained with steps 4, not 5" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_command(lambda a: main(a, "supernet"), capsys, *args[:-2], prog="supernet")
    assert code == 2 and "holds a supernet trained with expansions 'separate', not 'shared'" in err
    arch = path_draw(cfg, setup)(random.Random(0)).arch
    code, text, err = run_command(lambda a: main(a, "supernet"), capsys, "score", "--study", "smoke", "--supernet", out,
                                  "--arch", arch, "--val-dir", va, "--json", "--threads", "1", prog="supernet")
    (row,) = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and row["arch"] == arch and {"label", "params", "psnr", "ssim", "l1"} <= set(row), err
    code, _, err = run_command(lambda a: main(a, "supernet"), capsys, "score", "--study", "smoke", "--supernet", out,
                               "--arch", "s-lwsr16", prog="supernet")
    assert code == 2 and "s-lwsr16: n_feats: 16 is over the supernet's 4" in err
    assert default_path(cfg).as_posix() == "studies/smoke.supernet.pt"


# ----- the audit: a proxy against a long reference ---------------------------------------------

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from slwsr_search.audit.proxy import paired_tau_difference, proxy_rows, read_reference  # noqa: E402


def _reference_table(n: int = 12, seed: int = 0) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    params = g.integers(50_000, 150_000, n)
    ref = 27.5 + params / 200_000 + g.normal(0, 0.2, n)  # capacity helps, but far from decides
    return pd.DataFrame({"label": [f"d{i}" for i in range(n)], "params": params, "macs": params * 70,
                         "reference": ref, "perfect": ref, "reversed": -ref, "noise": g.normal(0, 1, n)})


def test_a_perfect_score_leads_parameters_and_a_reversed_one_trails():
    t = _reference_table()
    rows = {r.name: r for r in proxy_rows(t, ["perfect", "reversed", "noise"], n_boot=500)}
    assert list(rows)[0] == "params" and rows["params"].tau_minus_params == 0.0
    p = rows["perfect"]
    assert p.tau == 1.0 and p.rho == pytest.approx(1.0) and p.regret_db == 0.0 and p.pairs_right == p.pairs > 0
    assert p.tau_minus_params == 1.0 - rows["params"].tau and p.tau_minus_params_interval[0] > 0
    r = rows["reversed"]
    assert r.tau == -1.0 and r.tau_minus_params_interval[1] < 0 and r.regret_db == t["reference"].max() - t["reference"].min()
    assert rows["noise"].tau_interval[0] < rows["noise"].tau < rows["noise"].tau_interval[1]


def test_the_paired_difference_uses_the_same_resamples():
    t = _reference_table()
    d, (lo, hi) = paired_tau_difference(t["perfect"], t["perfect"], t["reference"], n_boot=200)
    assert d == 0.0 and lo == hi == 0.0  # the same score against itself: exactly 0 on every resample


def test_the_reference_csv_is_read_at_a_horizon_and_a_missing_one_is_named(tmp_path):
    t = _reference_table()
    csv = tmp_path / "f.csv"
    t.assign(arch="x", reference_at_5000=t["reference"], reference_mean=t["reference"] + 1).to_csv(csv, index=False)
    assert read_reference(csv, 5000)["reference"].tolist() == t["reference"].tolist()
    assert read_reference(csv)["reference"].tolist() == (t["reference"] + 1).tolist()
    with pytest.raises(ValueError, match=r"f.csv: no column 'reference_at_300' \(horizons held: reference_at_5000\)"):
        read_reference(csv, 300)
    t.head(3).assign(arch="x", reference_mean=1.0).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="f.csv: 3 design.s. with a reference_mean; rank statistics need at least 4"):
        read_reference(csv)


def test_the_audit_command_scores_a_reference_and_writes_its_table(smoke, tmp_path, capsys):
    from slwsr_search.cli.supernet import main

    cfg, setup, va = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt")
    draw = path_draw(cfg, setup)
    specs = [draw(random.Random(k)) for k in range(5)]
    pd.DataFrame({"label": [f"d{k}" for k in range(5)], "arch": [s.arch for s in specs],
                  "params": [count_cost(s).params for s in specs], "macs": [count_cost(s).macs for s in specs],
                  "reference_at_500": [27.0 + k / 10 for k in range(5)]}).to_csv(tmp_path / "ref.csv", index=False)
    code, text, err = run_command(lambda a: main(a, "supernet"), capsys, "audit", "--study", "smoke", "--supernet",
                                  str(tmp_path / "s.pt"), "--reference", str(tmp_path / "ref.csv"), "--horizon", "500",
                                  "--val-dir", va, "--out", str(tmp_path / "a.json"), "--threads", "1", prog="supernet")
    assert code == 0, err
    saved = json.loads((tmp_path / "a.json").read_text())
    assert [r["name"] for r in saved["scores"]] == ["params", "supernet_psnr", "supernet_ssim", "supernet_neg_l1", "macs"]
    assert len(saved["designs"]) == 5 and saved["horizon"] == 500 and saved["steps"] == PLAN.steps
    net, _, _ = load_supernet(tmp_path / "s.pt")
    assert saved["designs"][2]["supernet_psnr"] == score_designs(net, [("d2", specs[2])], load_pairs(va, 4, progress=False))[0].psnr
    assert "supernet_psnr" in text and "tau - params" in text and "recorded in" in text
    # the headline is recorded in the supernet file, for the weights it scored; a rerun replaces it
    run_command(lambda a: main(a, "supernet"), capsys, "audit", "--study", "smoke", "--supernet", str(tmp_path / "s.pt"),
                "--reference", str(tmp_path / "ref.csv"), "--horizon", "500", "--val-dir", va, "--threads", "1", prog="supernet")
    (rec,) = load_state(tmp_path / "s.pt").extra["audits"]
    psnr_row = next(r for r in saved["scores"] if r["name"] == "supernet_psnr")
    assert rec["tau"] == psnr_row["tau"] and rec["designs"] == 5 and rec["horizon"] == 500 and rec["level"] == 0.9
    assert latest_audit(load_state(tmp_path / "s.pt").extra, weights_digest(net.state_dict())) == rec
    assert latest_audit(load_state(tmp_path / "s.pt").extra, "0" * 16) is None  # other weights: not theirs


def test_one_supernet_per_width_scores_each_design_with_its_widths_supernet(smoke, tmp_path, capsys):
    from slwsr_search.cli.supernet import main

    cfg, setup, va = smoke
    files = []
    for w in (4, 8):
        part = dataclasses.replace(setup, widths=(w,), paths="space")
        train_supernet_job(cfg, part, dataclasses.replace(PLAN, steps=2 + w // 4), tmp_path / f"w{w}.pt")
        files.append(tmp_path / f"w{w}.pt")
    (n4, *_), (n8, *_) = (load_supernet(f) for f in files)
    pool = [cfg.space.draw(random.Random(k)) for k in range(40)]
    specs = [next(s for s in pool if s.n_feats == 4), next(s for s in pool if s.n_feats == 8)] * 2
    val = load_pairs(va, 4, progress=False)
    both = score_designs([n4, n8], [(f"d{k}", s) for k, s in enumerate(specs)], val)
    alone = [score_designs(n4 if s.n_feats == 4 else n8, [(f"d{k}", s)], val)[0] for k, s in enumerate(specs)]
    assert [(r.psnr, r.l1) for r in both] == [(r.psnr, r.l1) for r in alone]
    swapped = score_designs([n8, n4], [(f"d{k}", s) for k, s in enumerate(specs)], val)
    assert [r.psnr for r in swapped] == [r.psnr for r in both]  # the wider supernet does not take the narrower width
    with pytest.raises(ValueError, match=re.escape("wide: supernet 1: n_feats: 12 is over the supernet's 4; supernet 2: "
                                                   "n_feats: 12 is over the supernet's 8")):
        score_designs([n4, n8], [("wide", specs[0].replace(n_feats=12))], val)
    # the audit command takes both files, writes each one's part and records the audit in neither
    pd.DataFrame({"label": [f"d{k}" for k in range(4)], "arch": [s.arch for s in specs],
                  "params": [count_cost(s).params for s in specs], "macs": [count_cost(s).macs for s in specs],
                  "reference_at_500": [27.0, 27.1, 27.3, 27.2]}).to_csv(tmp_path / "ref.csv", index=False)
    code, text, err = run_command(lambda a: main(a, "supernet"), capsys, "audit", "--study", "smoke", "--supernet",
                                  str(files[0]), "--supernet", str(files[1]), "--reference", str(tmp_path / "ref.csv"),
                                  "--horizon", "500", "--val-dir", va, "--out", str(tmp_path / "a.json"), "--threads", "1",
                                  prog="supernet")
    assert code == 0 and "not recorded: an audit of 2 supernets" in text and "w8.pt: 4 steps" in text, err
    saved = json.loads((tmp_path / "a.json").read_text())
    assert saved["steps"] == 3 + 4 and [p["widths"] for p in saved["parts"]] == [[4], [8]]
    assert [d["supernet_psnr"] for d in saved["designs"]] == [r.psnr for r in both]
    assert not any("audits" in load_state(f).extra for f in files)
    # supernets of another sampling are not one supernet per width: refused, naming the field
    other = dataclasses.replace(setup, widths=(8,), paths="space")
    train_supernet_job(cfg, other, dataclasses.replace(PLAN, steps=1, sampling="uniform"), tmp_path / "u8.pt")
    code, _, err = run_command(lambda a: main(a, "supernet"), capsys, "score", "--study", "smoke", "--supernet",
                               str(files[0]), "--supernet", str(tmp_path / "u8.pt"), "--arch", specs[1].arch,
                               "--val-dir", va, prog="supernet")
    assert code == 2 and "u8.pt: trained with sampling 'uniform'" in err and "differ only in widths and steps" in err


# ----- a study scored by its supernet ------------------------------------------------------------

def _supernet_study(tmp_path: Path, smoke_cfg: StudyConfig, extra: str = "") -> Path:
    text = Path(smoke_cfg.path).read_text() + '\n[evaluator]\nkind = "supernet"\nsupernet = "s.pt"\n' + extra
    (tmp_path / "sn.toml").write_text(text.replace('search_space = "smoke"', 'search_space = "smoke"\n'))
    return tmp_path / "sn.toml"


def test_a_study_scored_by_its_supernet_trains_nothing_and_its_key_names_the_supernet(smoke, tmp_path, monkeypatch,
                                                                                     capsys):
    import optuna

    from slwsr_search.jobs.study import JobPlan, job_settings, run_job
    from slwsr_search.search import rungs as rungs_mod
    from slwsr_search.search.record import TrialRecord
    from slwsr_search.model.spec import ArchSpec

    cfg, setup, va = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt")
    toml, url = _supernet_study(tmp_path, cfg), f"sqlite:///{tmp_path}/s.db"
    monkeypatch.setattr(rungs_mod.Training, "run", lambda *a, **k: pytest.fail("a training ran"))
    plan = JobPlan(n_trials=3, val_dirs=[va], train_dirs=[setup.train[0]], device="cpu", write_report=False)
    r = run_job(str(toml), url, plan)
    assert r.code == 0 and r.finished and "scored with the inherited weights of supernet s.pt (" in r.report.protocol_desc
    assert "Ranked by: the weights each design inherits from supernet s.pt" in summary_markdown(r.report)
    assert "Not audited" in summary_markdown(r.report)
    # nothing trained: no seeds column, and the run counts designs scored
    from slwsr_search.reporting.render import front_table, render_html
    assert r.evaluator == "supernet" and r.trainings == 3
    from slwsr_search.cli.run import _ran
    capsys.readouterr()
    _ran(r)
    assert "throughput 3 design(s) scored with inherited weights in " in capsys.readouterr().out
    assert not any("seeds" in text for text in (front_table(r.report), summary_markdown(r.report),
                                                 render_html(r.report, pd.DataFrame())))
    net, _, _ = load_supernet(tmp_path / "s.pt")
    val = load_pairs(va, 4, progress=False)
    study = optuna.load_study(study_name="sn", storage=url)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 3
    for t in done:
        rec = TrialRecord.of(t)
        assert t.values[0] == rec.psnr == score_designs(net, [("t", ArchSpec.from_json(rec.spec))], val)[0].psnr
    st = job_settings(str(toml), url, plan)
    assert st.scorer["kind"] == "supernet" and st.scorer["file"] == "s.pt"
    key = st.key(st.protocol("cpu"))
    # an audit recorded since: the next run names it (same weights, so the same key)
    summary = {**AUDITED, "weights": st.scorer["sha256"]}
    record_audit(tmp_path / "s.pt", summary)
    r = run_job(str(toml), url, JobPlan(**{**plan.__dict__, "n_trials": 4}))
    known = StudyRecord.of(optuna.load_study(study_name="sn", storage=url))
    assert r.code == 0 and known.evaluator["audit"] == summary and "Kendall tau -0.21" in known.ranked_by  # the dashboard's
    assert "Kendall tau -0.21 [-0.54, +0.14] (90% interval)" in summary_markdown(r.report)
    # other weights, another key: the study refuses to resume under another supernet
    train_supernet_job(cfg, setup, SupernetPlan(**{**PLAN.to_dict(), "seed": 1}), tmp_path / "s.pt.new")
    (tmp_path / "s.pt.new").replace(tmp_path / "s.pt")
    assert job_settings(str(toml), url, plan).key(st.protocol("cpu")) != key
    with pytest.raises(ValueError, match="protocol"):
        run_job(str(toml), url, JobPlan(**{**plan.__dict__, "n_trials": 5}))


def test_a_run_reads_its_supernet_once_and_scores_the_weights_its_key_digests(smoke, tmp_path, monkeypatch):
    from slwsr_search.jobs import supernet_study as sn_mod
    from slwsr_search.jobs.study import JobPlan, job_settings, run_job

    cfg, setup, va = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt")
    toml, url = _supernet_study(tmp_path, cfg), f"sqlite:///{tmp_path}/s.db"
    reads, real = [], sn_mod.load_supernet
    monkeypatch.setattr(sn_mod, "load_supernet", lambda path: reads.append(path) or real(path))
    plan = JobPlan(n_trials=2, val_dirs=[va], train_dirs=[setup.train[0]], device="cpu", write_report=False)
    st = job_settings(str(toml), url, plan)
    assert reads == [tmp_path / "s.pt"] and weights_digest(st.supernet.state_dict()) == st.scorer["sha256"]
    # the file rewritten since (a training still going): the settings keep the weights they digested
    train_supernet_job(cfg, setup, SupernetPlan(**{**PLAN.to_dict(), "seed": 1}), tmp_path / "s.pt.new")
    (tmp_path / "s.pt.new").replace(tmp_path / "s.pt")
    assert weights_digest(st.supernet.state_dict()) == st.scorer["sha256"]
    reads.clear()
    assert run_job(str(toml), url, plan).code == 0 and reads == [tmp_path / "s.pt"]


AUDITED = {"reference": "fronts-14-designs.csv", "horizon": 5000, "finetune": 0, "designs": 14, "val": "Set5 + Set14",
           "score": "supernet_psnr", "tau": -0.21, "tau_interval": [-0.54, 0.14], "params_tau": 0.57,
           "params_interval": [0.29, 0.81], "minus_params_interval": [-1.19, -0.30], "regret_db": 0.125, "level": 0.9,
           "weights": "0" * 16, "when": "2026-12-07", "cpu": "test"}


@pytest.mark.parametrize("evaluator, words", [
    ({"kind": "scratch"}, "Ranked by: a brief training of each design from scratch"),
    ({"kind": "supernet", "file": "s.pt", "steps": 3000, "sha256": "ab", "audit": None}, "s.pt (3,000 steps, weights ab)"),
    ({"kind": "supernet", "file": "s.pt", "steps": 1, "sha256": "ab", "audit": AUDITED},
     "difference -0.78 [-1.19, -0.30]: behind parameters alone beyond noise"),
    ({"kind": "supernet", "file": "s.pt", "steps": 1, "sha256": "ab", "audit": {**AUDITED, "minus_params_interval": [0.1, 0.4]}},
     "ahead of parameters alone beyond noise"),
    ({"kind": "supernet", "file": "s.pt", "steps": 1, "sha256": "ab", "audit": {**AUDITED, "minus_params_interval": [-0.1, 0.4]}},
     "not told apart from parameters alone beyond noise"),
])
def test_the_report_and_summary_say_what_ranked_the_designs(evaluator, words):
    import optuna

    from slwsr_search.reporting.compute import build_report
    from slwsr_search.reporting.render import front_table, render_html

    study = optuna.create_study(directions=["maximize", "minimize"])
    StudyRecord(evaluator=evaluator).write(study)
    rep = build_report(study, ["psnr", "params"], 150_000)
    assert words in summary_markdown(rep) and words in front_table(rep)
    assert html.escape(words) in render_html(rep, pd.DataFrame())


@pytest.mark.parametrize("extra, words", [
    ('', "objectives: a supernet scores psnr and ssim, not loss"),
    ('[fidelity]\nrungs = [1, 3]\n', "[fidelity]: a supernet scores each design once"),
])
def test_a_supernet_study_asking_what_a_supernet_does_not_score_is_refused(smoke, tmp_path, extra, words):
    cfg, _, _ = smoke
    toml = _supernet_study(tmp_path, cfg, extra)
    text = toml.read_text()
    if "loss" in words:
        text = text.replace('objectives = ["psnr", "params", "macs"]', 'objectives = ["loss", "params", "macs"]')
    toml.write_text(text)
    with pytest.raises(ValueError, match=re.escape(words)):
        StudyConfig.load(toml)


def test_run_supernet_flag_refuses_a_missing_file_naming_it(smoke, tmp_path):
    from slwsr_search.jobs.study import JobPlan, job_settings

    with pytest.raises(ValueError, match="nope.pt: supernet not found"):
        job_settings("smoke", f"sqlite:///{tmp_path}/x.db", JobPlan(supernet=str(tmp_path / "nope.pt")))
    with pytest.raises(ValueError, match="--supernet .*x.pt: objectives: a supernet scores psnr and ssim, not loss"):
        job_settings("budget150k", f"sqlite:///{tmp_path}/x.db", JobPlan(supernet=str(tmp_path / "x.pt")))


@pytest.mark.parametrize("change, words", [
    (dict(widths=(8,), paths="space"), "study 'sn' searches n_feats [4] that the supernet was not trained on"),
    (dict(choices=("res",)), "study 'sn' searches blocks.choices ['ir2'] that the supernet was not trained on"),
    (dict(pool_sources=("head",)), "study 'sn' searches pool.sources ['LB2.b1', 'LB5.b2'] that the supernet"),
])
def test_a_study_refuses_a_supernet_that_never_trained_part_of_its_space(smoke, tmp_path, change, words):
    from slwsr_search.jobs.study import JobPlan, job_settings

    cfg, setup, va = smoke
    train_supernet_job(cfg, dataclasses.replace(setup, **change), PLAN, tmp_path / "s.pt")
    with pytest.raises(ValueError, match=re.escape(words)):
        job_settings(str(_supernet_study(tmp_path, cfg)), f"sqlite:///{tmp_path}/s.db", JobPlan(val_dirs=[va]))


def test_an_extracted_checkpoint_is_the_designs_network_with_inherited_weights(smoke, tmp_path, capsys):
    from slwsr_search.cli.supernet import main
    from slwsr_search.training.checkpoint import load_checkpoint

    cfg, setup, va = smoke
    train_supernet_job(cfg, setup, PLAN, tmp_path / "s.pt")
    spec = path_draw(cfg, setup)(random.Random(2))
    code, text, err = run_command(lambda a: main(a, "supernet"), capsys, "extract", "--study", "smoke", "--supernet",
                                  str(tmp_path / "s.pt"), "--arch", spec.arch, "--out", str(tmp_path / "d.pt"), prog="supernet")
    assert code == 0 and "weights inherited from" in text, err
    model, ck = load_checkpoint(tmp_path / "d.pt")  # what slwsr evaluate --checkpoint reads
    net, _, _ = load_supernet(tmp_path / "s.pt")
    x = torch.rand(1, 3, 10, 12) * 255
    with torch.no_grad():
        assert model.spec == spec and torch.allclose(model(x), net(x, spec), atol=1e-3)
    assert ck["extra"]["supernet_steps"] == PLAN.steps
