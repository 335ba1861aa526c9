"""Multi-fidelity studies: the promotion rule, continued trainings, continuation files, the runner's
rungs end to end (records, constraints, the front), and the report's noise marks."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import re
import warnings

import optuna
import pandas as pd
import pytest
import torch

from helpers import CHROMIUM, DATA, RANDOM_SPECS, chromium_dom, get_json, optuna_dashboard, stop_after, write_folders
from slwsr_search.cli.common import run_cli
from slwsr_search.cli.run import main as run_main
from slwsr_search.search import rungs as rungs_mod
from slwsr_search.search.promotion import (crowding_distances, nondominated_ranks, promote, promotion_quota,
                                           ranking)
from slwsr_search.search.record import RUNGS_SHORT, TrialRecord
from slwsr_search.reporting.render import front_table, summary_markdown
from slwsr_search.reporting.compute import build_report, front_noise
from slwsr_search.search.record import SCREENED
from slwsr_search.search.rungs import DesignPlan, RungStore, run_design
from slwsr_search.search.study import Fidelity, StudyConfig, protocol_key
from slwsr_search.training.device import Speedups
from slwsr_search.training.loop import Training, train
from slwsr_search.training.protocol import Protocol
from slwsr_search.training.state import load_state

TINY = Protocol(steps=3, batch_size=2, lr_patch=12, lr=1e-3)
SPEC = next(s for s in RANDOM_SPECS if s.scale == DATA.scale)


# ----- the promotion rule (pure) ------------------------------------------------------------------


@pytest.mark.parametrize("points,ranks", [
    ([[1, 2], [2, 1], [2, 2], [3, 3]], [0, 0, 1, 2]),
    ([[1, 1], [1, 1], [0, 2]], [0, 0, 0]),  # equal points share a rank
    ([[3], [1], [2]], [2, 0, 1]),
    ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1]], [0, 1, 1, 2]),
])
def test_nondominated_ranks(points, ranks):
    assert nondominated_ranks(points) == ranks


def test_crowding_distance_by_hand():
    pts = [[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]]  # one front
    d = crowding_distances(pts, [0, 0, 0, 0])
    assert math.isinf(d[0]) and math.isinf(d[3])
    # point 1: (2 - 0) / 4 on the first objective, (4 - 1) / 4 on the second; point 2: (4 - 1) / 4 + (2 - 0) / 4
    assert d[1] == pytest.approx(2 / 4 + 3 / 4) and d[2] == pytest.approx(3 / 4 + 2 / 4)
    assert all(math.isinf(v) for v in crowding_distances([[1, 1], [2, 2]], [0, 1]))  # ranks of one


def test_ranking_prefers_rank_then_crowding_then_arrival():
    pts = [[0.0, 4.0], [1.0, 2.0], [1.5, 1.6], [4.0, 0.0], [5.0, 5.0]]
    # ends of the front first (infinite crowding, by arrival), then the less crowded middle point
    # (point 1: 1.5/4 + 2.4/4 = 0.975; point 2: 3/4 + 2/4 = 1.25), then the dominated one
    assert ranking(pts) == [0, 3, 2, 1, 4]


@pytest.mark.parametrize("n,reduction,quota", [(1, 3, 1), (2, 3, 1), (3, 3, 1), (5, 3, 1), (6, 3, 2), (9, 2, 4)])
def test_promotion_quota(n, reduction, quota):
    assert promotion_quota(n, reduction) == quota


def test_promotion_is_decided_on_arrival_against_the_results_so_far():
    # PSNR (negated: minimised) and parameters of designs arriving one by one at a rung, reduction 2
    arrivals = [[-28.0, 100.0], [-27.0, 120.0], [-29.0, 90.0], [-28.5, 95.0], [-26.0, 200.0]]
    decided = [promote(arrivals[:i + 1], i, 2) for i in range(len(arrivals))]
    # 1st: alone, goes on; 2nd: dominated by the 1st (quota 1); 3rd: dominates both (quota 1, best);
    # 4th: second-best of four, quota 2; 5th: dominated by everything, quota 2
    assert decided == [True, False, True, True, False]
    # asynchronous: the 2nd design's 'no' stands although a later arrival is worse than it
    assert not promote(arrivals[:2], 1, 2)


def test_baselines_rank_with_the_others_but_take_no_place():
    # a baseline that beats everything at the rung would take the one place of three results;
    # exempt, it still dominates (design 2 ranks below design 1) but design 1 goes on
    pts = [[-30.0, 140.0], [-29.0, 50.0], [-28.0, 60.0]]
    assert not promote(pts, 1, 3)
    assert promote(pts, 1, 3, [True, False, False]) and not promote(pts, 2, 3, [True, False, False])
    assert promote(pts, 0, 3, [True, False, False])  # an exempt result always goes on


def test_ties_of_infinite_crowding_go_to_the_first_objective():
    # three results, each the end of some objective: all infinitely uncrowded; the best PSNR goes on
    pts = [[-28.8, 143.0, 10.18], [-28.6, 50.0, 3.9], [-29.0, 129.0, 10.21]]
    assert ranking(pts)[0] == 2 and promote(pts, 2, 3) and not promote(pts, 0, 3)


@pytest.mark.parametrize("kwargs,msg", [({"me": 3}, "me: expected an index"), ({"reduction": 1}, "reduction: expected")])
def test_promote_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        promote([[1.0], [2.0]], kwargs.get("me", 0), kwargs.get("reduction", 2))


# ----- [fidelity] ---------------------------------------------------------------------------------


def test_fidelity_defaults_and_segments():
    f = Fidelity.from_dict({"rungs": [1, 3, 9], "reduction": 3, "seeds_at_top": 2}, "x")
    assert f.segments(150) == [150, 300, 900] and f.top == 2 and f.multi
    assert not Fidelity().multi and Fidelity().segments(150) == [150]


@pytest.mark.parametrize("table,msg", [
    ({"rungs": [150, 600]}, r"rungs: expected increasing integers in multiples of the protocol's steps, starting at 1"),
    ({"rungs": [1, 1]}, "rungs: expected increasing"),
    ({"rungs": []}, "rungs: expected increasing"),
    ({"reduction": 1}, r"reduction: expected an integer >= 2, got 1"),
    ({"seeds_at_top": 0}, r"seeds_at_top: expected an integer >= 1"),
    ({"rung": [1, 2]}, "unknown key 'rung'"),
])
def test_bad_fidelity_tables(table, msg):
    with pytest.raises(ValueError, match=msg):
        Fidelity.from_dict(table, "study.toml: [fidelity]")


def test_the_protocol_key_of_a_plain_study_is_unchanged_by_the_default_fidelity():
    base = protocol_key(TINY, ["a"], ["b"], 4)
    assert protocol_key(TINY, ["a"], ["b"], 4, Fidelity()) == base
    assert protocol_key(TINY, ["a"], ["b"], 4, Fidelity((1, 2))) != base


# ----- continued trainings ----------------------------------------------------------------------------


def _weights(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.state_dict().values()]


def test_first_segment_is_exactly_train():
    a = train(SPEC, DATA, TINY, "cpu")
    b = Training(SPEC, DATA, TINY, "cpu").run(TINY.steps)
    assert (a.psnr, a.ssim, a.loss_mean) == (b.psnr, b.ssim, b.loss_mean)
    assert all(torch.equal(x, y) for x, y in zip(_weights(a.model), _weights(b.model)))


def test_a_saved_and_loaded_training_continues_exactly():
    straight = Training(SPEC, DATA, TINY, "cpu")
    straight.run(3)
    end = straight.run(4)
    first = Training(SPEC, DATA, TINY, "cpu")
    first.run(3)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    second = Training(SPEC, DATA, TINY, "cpu")  # as another process would
    second.load_state_dict(torch.load(buf, weights_only=False))
    resumed = second.run(4)
    assert (resumed.psnr, resumed.loss_mean) == (end.psnr, end.loss_mean) and second.steps_done == 7
    assert all(torch.equal(x, y) for x, y in zip(_weights(end.model), _weights(resumed.model)))
    assert resumed.history[-1]["step"] == 7


def _design(store, stop=None, goes_on=lambda k, p: True, seeds=(11, 12)):
    heard = []
    out = run_design(DesignPlan(SPEC, DATA, TINY, (3, 3), seeds, "cpu", Speedups()), goes_on,
                     lambda p: heard.append(p), store, "key", should_stop=stop)
    return out, heard


def test_run_design_climbs_the_rungs_then_adds_seeds(tmp_path):
    run, _ = _design(RungStore(tmp_path))
    prog = run.progress
    assert run.ok and run.reason is None and len(prog.rung_psnr) == 2 and len(prog.seed_psnr) == 2
    assert prog.seed_psnr[0] == prog.rung_psnr[-1] and prog.promoted == 1
    assert run.last.ok and run.last.psnr == prog.seed_psnr[-1]
    assert not list(tmp_path.iterdir())  # the continuation file goes when the design is done


def test_run_design_stops_a_design_that_is_not_promoted(tmp_path):
    run, _ = _design(RungStore(tmp_path), goes_on=lambda k, p: False)
    assert run.status == SCREENED and "rung 0" in run.reason and not run.ok
    assert len(run.progress.rung_psnr) == 1 and run.progress.seed_psnr == []


def test_without_callbacks_a_design_goes_up_every_rung():
    run = run_design(DesignPlan(SPEC, DATA, TINY, (3, 3), (11,), "cpu"))
    assert run.ok and len(run.progress.rung_psnr) == 2 and run.progress.seed_psnr == run.progress.rung_psnr[-1:]


@pytest.mark.parametrize("field,value,msg", [
    ("segments", (), r"segments: expected a non-empty list of integers >= 1, got \(\)"),
    ("segments", (3, 0), r"segments: expected .* >= 1, got \(3, 0\)"),
    ("seeds", [1.5], r"seeds: expected a non-empty list of integers >= 0, got \[1.5\]"),
])
def test_a_bad_plan_names_its_field(field, value, msg):
    with pytest.raises(ValueError, match=msg):
        DesignPlan(SPEC, DATA, TINY, **{"segments": (3,), "seeds": (1,), field: value})


def test_a_design_run_says_what_the_trial_records(tmp_path):
    run, _ = _design(None)
    attrs, prog = run.attrs(), run.progress
    assert attrs["status"] == "ok" and attrs["psnr"] == pytest.approx(sum(prog.seed_psnr) / 2)
    assert attrs["loss"] == pytest.approx(sum(prog.seed_loss_tail) / 2) and attrs["device"] == "cpu"
    assert attrs["final_loss"] == run.last.final_loss and attrs["train_seconds"] == round(prog.seconds, 3)
    screened, _ = _design(None, goes_on=lambda k, p: False)
    assert screened.attrs()["psnr"] is None and screened.attrs()["status"] == SCREENED
    assert prog.attrs([11, 12])["seeds"] == [11, 12] and screened.progress.attrs([11, 12])["seeds"] == [11]


def _resume(store, monkeypatch):
    """Run the design from ``store``: its result and the steps of each segment it trained."""
    segments = []
    real = rungs_mod.Training.run
    monkeypatch.setattr(rungs_mod.Training, "run",
                        lambda self, steps, *a, **k: segments.append(steps) or real(self, steps, *a, **k))
    out, _ = _design(store)
    monkeypatch.setattr(rungs_mod.Training, "run", real)
    return out, segments


@pytest.mark.parametrize("cut_after", [4, 8])  # steps into the second rung; into the second seed
def test_an_interrupted_design_resumes_from_its_last_segment_with_the_same_result(tmp_path, cut_after, monkeypatch):
    whole, _ = _design(None)
    store = RungStore(tmp_path)
    cut, _ = _design(store, stop=stop_after(cut_after))
    assert cut.status == "interrupted" and len(list(tmp_path.glob("*.pt"))) == 1
    # the continuation file is a training state: the training under way, with the design's progress
    # (cut into rung 1: seed 1's training after rung 0; cut into seed 2: seed 1's results alone)
    state = load_state(store.path("key", SPEC.hash, 11))
    assert state.spec == SPEC and state.resumable == (cut_after == 4) and state.steps == (3 if cut_after == 4 else 0)
    assert (state.extra["seed_index"], state.extra["segments_done"]) == ((0, 1) if cut_after == 4 else (0, 2))
    assert state.extra["progress"]["rung_psnr"] == whole.progress.rung_psnr[:1 if cut_after == 4 else 2]
    resumed, resumed_segments = _resume(store, monkeypatch)
    prog, ref = resumed.progress, whole.progress
    assert resumed.ok
    assert (prog.rung_psnr, prog.seed_psnr, prog.rung_loss) == (ref.rung_psnr, ref.seed_psnr, ref.rung_loss)
    assert all(torch.equal(x, y) for x, y in zip(_weights(resumed.last.model), _weights(whole.last.model)))
    # only what was cut short is trained again: the rest of rung 1 (and seed 2), never rung 0 of seed 1
    assert resumed_segments == ([3, 3, 3] if cut_after == 4 else [3, 3])


def test_between_seeds_the_continuation_file_holds_the_progress_alone(tmp_path):
    states = []

    class Spy(RungStore):
        def save(self, path, state):
            super().save(path, state)
            states.append(load_state(path))

    _design(Spy(tmp_path))
    # seed 1 after rung 0 (its training), after rung 1 (done: progress only), seed 2 after its first segment, done
    assert [(s.extra["seed_index"], s.extra["segments_done"], s.resumable) for s in states] == [
        (0, 1, True), (0, 2, False), (1, 1, True), (2, 0, False)]
    assert states[1].training is None and len(states[1].extra["progress"]["seed_psnr"]) == 1


@pytest.mark.parametrize("content", [b"not a checkpoint", b""])
def test_a_corrupt_continuation_file_means_starting_over(tmp_path, content):
    store = RungStore(tmp_path)
    store.path("key", SPEC.hash, 11).write_bytes(content)
    with pytest.warns(UserWarning, match="cannot load checkpoint.*the design starts over"):
        run, _ = _design(store)
    whole, _ = _design(None)
    assert run.ok and run.progress.seed_psnr == whole.progress.seed_psnr


def test_a_continuation_file_without_every_rung_list_means_starting_over(tmp_path, monkeypatch):
    """A file written before ``rung_loss_tail`` existed has results but not all their fields: the
    design starts over (same result) rather than continuing with lists of different lengths."""
    store = RungStore(tmp_path)
    _design(store, stop=stop_after(4))
    path = store.path("key", SPEC.hash, 11)
    saved = store.load(path)
    assert saved.extra["progress"]["rung_psnr"]
    for k in ("rung_loss_tail", "seed_loss_tail"):
        del saved.extra["progress"][k]
    store.save(path, saved)
    run, segments = _resume(store, monkeypatch)
    whole, _ = _design(None)
    assert run.ok and segments == [3, 3, 3, 3] and run.progress.rung_loss_tail == whole.progress.rung_loss_tail



def test_a_continuation_file_with_the_old_int8_list_names_is_continued(tmp_path, monkeypatch):
    """Files written before the progress's int8 lists were renamed (``int8_psnr`` -> ``seed_int8_psnr``,
    one name meaning one thing: the record's ``int8_psnr`` is the mean) are continued, not restarted."""
    store = RungStore(tmp_path)
    _design(store, stop=stop_after(4))
    path = store.path("key", SPEC.hash, 11)
    saved = store.load(path)
    progress = saved.extra["progress"]
    progress["int8_psnr"], progress["int8_ssim"] = progress.pop("seed_int8_psnr"), progress.pop("seed_int8_ssim")
    store.save(path, saved)
    run, segments = _resume(store, monkeypatch)
    whole, _ = _design(None)
    assert run.ok and segments == [3, 3, 3] and run.progress.seed_psnr == whole.progress.seed_psnr


OTHER_SPEC = next(s for s in RANDOM_SPECS if s.scale == DATA.scale and s.hash != SPEC.hash)


def _foreign_file(store, kind):
    """A continuation file cut into its second rung whose name says this design (``SPEC``, key
    ``key``, first seed 11) but which holds another training: of another protocol (an older
    version's), another spec, another first seed or another key (copied or renamed)."""
    spec, protocol, seeds, key = SPEC, TINY, (11, 12), "key"
    if kind == "protocol":
        protocol = dataclasses.replace(TINY, lr=2e-3)
    elif kind == "spec":
        spec = OTHER_SPEC
    elif kind == "seed":
        seeds = (13, 12)
    else:
        key = "other"
    run_design(DesignPlan(spec, DATA, protocol, (3, 3), seeds, "cpu", Speedups()), store=store, key=key,
               should_stop=stop_after(4))
    made, path = store.path(key, spec.hash, seeds[0]), store.path("key", SPEC.hash, 11)
    if made != path:
        made.rename(path)
    return path


@pytest.mark.parametrize("kind", ["protocol", "spec", "seed", "key"])
def test_a_continuation_file_of_another_training_means_starting_over(tmp_path, kind, monkeypatch):
    """A file whose name says this design but whose content is another training (copied, renamed,
    left by an older version with another protocol) is not continued: the design starts over
    (warned, naming the file) with the result of a fresh run; the file is left alone until the
    design's own first segment replaces it."""
    store = RungStore(tmp_path)
    path = _foreign_file(store, kind)
    before = path.read_bytes()
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        cut = run_design(DesignPlan(SPEC, DATA, TINY, (3, 3), (11, 12), "cpu", Speedups()), store=store, key="key",
                         should_stop=stop_after(0))
        assert cut.status == "interrupted" and path.read_bytes() == before  # nothing trained: the file is untouched
        run, segments = _resume(store, monkeypatch)
    whole, _ = _design(None)
    assert run.ok and segments == [3, 3, 3, 3]  # from scratch: both rungs of seed 1, then seed 2
    assert (run.progress.rung_psnr, run.progress.seed_psnr) == (whole.progress.rung_psnr, whole.progress.seed_psnr)
    assert not path.exists()  # replaced by the design's own file, removed when it was done
    said = [str(w.message) for w in heard if issubclass(w.category, UserWarning)]
    assert len(said) == 2 and all(m.startswith(f"{path}: ") and m.endswith("the design starts over (the file is "
                                                                            "replaced when its first segment is saved)")
                                  for m in said), said


def test_a_continuation_file_records_its_key_and_a_file_without_one_is_continued(tmp_path, monkeypatch):
    """Files of today name their protocol key inside; one written before they did (no ``key``)
    is continued when its spec and protocol are the design's."""
    store = RungStore(tmp_path)
    _design(store, stop=stop_after(4))
    path = store.path("key", SPEC.hash, 11)
    saved = store.load(path)
    assert saved.extra["key"] == "key"
    del saved.extra["key"]
    store.save(path, saved)
    run, segments = _resume(store, monkeypatch)
    whole, _ = _design(None)
    assert run.ok and segments == [3, 3, 3] and run.progress.seed_psnr == whole.progress.seed_psnr

# ----- the runner, end to end ----------------------------------------------------------------------------

MF_STUDY = """
search_space = "slwsr"
n_trials = 7
seed = 3
baselines = ["s-lwsr16"]
[constraints]
max_params = 150_000
[sampler]
name = "RandomSampler"
[protocol]
steps = 2
batch_size = 2
lr_patch = 12
[fidelity]
rungs = [1, 2]
reduction = 3
seeds_at_top = 2
"""


@pytest.fixture(scope="module")
def mf_study(tmp_path_factory):
    """A finished multi-fidelity study of the smoke space (one in-process run), and its config."""
    tmp = tmp_path_factory.mktemp("mf")
    tr, va = write_folders(tmp)
    (tmp / "mf.toml").write_text(MF_STUDY)
    url = f"sqlite:///{tmp / 'mf.db'}"
    with contextlib.redirect_stdout(io.StringIO()):
        code = run_cli(run_main, ["--study", str(tmp / "mf.toml"), "--storage", url, "--quiet", "--device", "cpu",
                                  "--no-report", "--train-dir", tr, "--val-dir", va], prog="run")
    assert code == 0
    return optuna.load_study(study_name="mf", storage=url), StudyConfig.load(tmp / "mf.toml"), tmp


def test_every_feasible_design_is_screened_and_the_best_third_go_on(mf_study):
    st, cfg, _ = mf_study
    done = [t for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 7
    top = [t for t in done if t.user_attrs["status"] == "ok"]
    screened = [t for t in done if t.user_attrs["status"] == SCREENED]
    assert top and screened and len(top) + len(screened) == 7
    for t in top:
        r = TrialRecord.of(t)
        assert len(r.rung_psnr) == 2 and len(r.seed_psnr) == 2 and len(r.seeds) == 2 and r.seeds[0] == r.train_seed
        assert r.psnr == pytest.approx(sum(r.seed_psnr) / 2) and t.values[0] == pytest.approx(r.psnr)
        assert t.constraints[RUNGS_SHORT] == 0 and t.system_attrs["constraints"] == [t.constraints["params"], 0.0]
    for t in screened:
        r = TrialRecord.of(t)
        assert len(r.rung_psnr) == 1 and r.psnr is None and r.seed_psnr == [] and r.promoted == 0
        # the rung's score as the trial's value, marked infeasible (one rung short) for samplers and the dashboard
        assert t.values[0] == pytest.approx(r.rung_psnr[0]) and t.constraints[RUNGS_SHORT] == 1
        assert t.system_attrs["constraints"][-1] == 1.0
    base = [t for t in done if t.user_attrs.get("baseline") == "s-lwsr16"]
    assert len(base) == 1 and base[0].user_attrs["status"] == "ok"  # baselines always reach the top


def test_over_budget_designs_are_pruned_with_their_constraints(mf_study):
    st, _, _ = mf_study
    over = [t for t in st.trials if t.user_attrs.get("feasible") is False]
    for t in over:
        assert t.state == optuna.trial.TrialState.PRUNED and t.values is None
        assert t.constraints["params"] > 0 and t.system_attrs["constraints"][0] > 0


def test_the_front_holds_only_top_rung_results_and_the_report_says_which_were_screened(mf_study):
    st, cfg, _ = mf_study
    rep = build_report(st, list(cfg.objectives), cfg.max_params)
    assert set(rep.front["status"]) == {"ok"} and set(rep.dominated["status"]) <= {"ok"}
    assert set(rep.screened["status"]) == {SCREENED} and len(rep.screened) + len(rep.front) + len(rep.dominated) == 7
    assert (rep.front["seeds"] == 2).all()
    text = front_table(rep)
    assert "2 (" in text and f"screened: {len(rep.screened)} design(s)" in text
    md = summary_markdown(rep)
    assert "seeds (min-max)" in md and "rungs at 2, 4 steps" in md


def test_promotions_follow_the_rule_given_the_results_at_arrival(mf_study):
    """Replay the study in trial order: each non-baseline design went on exactly when the rule
    said so against the rung-0 results recorded before it (one trainer, so arrival = trial order)."""
    st, cfg, _ = mf_study
    seen, baselines = [], []
    for t in sorted(st.trials, key=lambda t: t.number):
        r = TrialRecord.of(t)
        if t.state != optuna.trial.TrialState.COMPLETE or not r.rung_psnr:
            continue
        if r.duplicate_of is not None:
            continue
        seen.append([o.sign * v for o, v in zip(cfg.objective_table, (r.rung_psnr[0], r.params, r.macs / 1e9))])
        baselines.append(r.baseline is not None)
        if r.baseline is None:
            assert (r.status == "ok") == promote(seen, len(seen) - 1, cfg.fidelity.reduction, baselines), t.number


# ----- a study ranked by the training loss ---------------------------------------------------------------


@pytest.fixture(scope="module")
def loss_study(tmp_path_factory):
    """The multi-fidelity study above, ranked by the training loss instead of the PSNR."""
    tmp = tmp_path_factory.mktemp("mf-loss")
    tr, va = write_folders(tmp)
    (tmp / "mfloss.toml").write_text('objectives = ["loss", "params", "macs"]\n' + MF_STUDY.replace("n_trials = 7", "n_trials = 6"))
    url = f"sqlite:///{tmp / 'mf.db'}"
    with contextlib.redirect_stdout(io.StringIO()):
        code = run_cli(run_main, ["--study", str(tmp / "mfloss.toml"), "--storage", url, "--quiet", "--device", "cpu",
                                  "--no-report", "--train-dir", tr, "--val-dir", va], prog="run")
    assert code == 0
    return optuna.load_study(study_name="mfloss", storage=url), StudyConfig.load(tmp / "mfloss.toml")


def test_a_loss_study_scores_each_design_by_its_training_loss(loss_study):
    st, cfg = loss_study
    done = [t for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert st.directions[0] == optuna.study.StudyDirection.MINIMIZE and len(done) == 6
    for t in done:
        r = TrialRecord.of(t)
        assert len(r.rung_loss_tail) == len(r.rung_psnr) and all(v > 0 for v in r.rung_loss_tail)
        if r.status == "ok":  # the top: the mean over seeds of each seed's last-quarter loss
            assert len(r.seed_loss_tail) == 2 and r.seed_loss_tail[0] == r.rung_loss_tail[-1]
            assert t.values[0] == pytest.approx(r.loss) and r.loss == pytest.approx(sum(r.seed_loss_tail) / 2)
        else:
            assert r.status == SCREENED and r.loss is None and t.values[0] == pytest.approx(r.rung_loss_tail[0])
    # promotions were decided on the loss at rung 0, by the same rule
    seen, baselines = [], []
    for t in sorted(done, key=lambda t: t.number):
        r = TrialRecord.of(t)
        if r.duplicate_of is not None:
            continue
        seen.append([r.rung_loss_tail[0], r.params, r.macs / 1e9])
        baselines.append(r.baseline is not None)
        if r.baseline is None:
            assert (r.status == "ok") == promote(seen, len(seen) - 1, cfg.fidelity.reduction, baselines), t.number


def test_the_report_of_a_loss_study_shows_the_loss_and_says_how_the_front_was_chosen(loss_study):
    st, cfg = loss_study
    rep = build_report(st, list(cfg.objectives), cfg.max_params)
    top = rep.trials[rep.trials["status"] == "ok"]
    pts = top[["loss", "params", "macs"]].to_numpy(dtype=float)
    for _, r in rep.front.iterrows():  # nothing at the top beats a front point on loss, params and Multi-Adds
        me = r[["loss", "params", "macs"]].to_numpy(dtype=float)
        assert not ((pts <= me).all(axis=1) & (pts < me).any(axis=1)).any()
    text, md = front_table(rep), summary_markdown(rep)
    assert "loss" in text.splitlines()[1] and "chosen by the training loss" in text
    assert "| training loss |" in md and f"{rep.front['loss'].iloc[0]:.3f}" in md


# ----- noise in the report ----------------------------------------------------------------------------


def test_front_noise_marks_gaps_within_the_seed_spread():
    front = pd.DataFrame({
        "number": [1, 2, 3, 4], "params": [10, 20, 30, 40], "psnr": [28.0, 28.1, 28.6, 28.7],
        "seeds": pd.array([2, 2, 2, 1], dtype="Int64"), "psnr_min": [27.9, 27.95, 28.55, 28.7],
        "psnr_max": [28.1, 28.3, 28.65, 28.7]})
    n = front_noise(front)
    assert list(n["next"]) == [2, 3, 4]
    assert n["gap_db"].round(3).tolist() == [0.1, 0.5, 0.1]
    assert n["spread_db"].round(3).tolist()[:2] == [0.35, 0.35] and pd.isna(n["spread_db"].iloc[2])
    assert n["within_noise"].tolist() == [True, False, None]  # the last pair: one seed, unmeasured


# ----- the dashboard ------------------------------------------------------------------------------------


def _pareto_plot(dom: str) -> str:
    """The Optuna dashboard's Pareto-front plot, as drawn (its plotly container)."""
    start = dom.find('id="graph-pareto-front"')
    assert start >= 0, "no Pareto-front plot on the page"
    end = dom.find('class="plot-container plotly"', dom.find('class="plot-container plotly"', start) + 1)
    return dom[start:end if end > 0 else None]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_dashboard_draws_no_placeholder_and_marks_screened_designs(mf_study, tmp_path):
    """What a user sees in optuna-dashboard's Pareto plot: no over-budget trial at a placeholder
    score squashing the axis (they are PRUNED: not drawn), and the designs stopped at a lower
    rung drawn apart, in the dashboard's grey 'Infeasible Trial' markers."""
    pytest.importorskip("optuna_dashboard")
    st, _, tmp = mf_study
    assert any(t.user_attrs.get("feasible") is False for t in st.trials)  # there is something to keep out
    with optuna_dashboard(f"sqlite:///{tmp / 'mf.db'}") as base:
        study_id = next(s["study_id"] for s in get_json(f"{base}/api/studies")["study_summaries"]
                        if s["study_name"] == "mf")
        p = chromium_dom(f"{base}/dashboard/studies/{study_id}", tmp_path / "chrome", budget_ms=15000)
    plot = _pareto_plot(p.stdout)
    xticks = [float(v.replace("\u2212", "-")) for v in re.findall(r'class="xtick"><text[^>]*>([^<]*)<', plot)]
    psnr = [t.values[0] for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pad = 0.25 * (max(psnr) - min(psnr)) + 0.5  # plotly's autorange margin, at most
    assert xticks and min(psnr) - pad <= min(xticks) and max(xticks) <= max(psnr) + pad, (xticks, psnr)  # PSNR on x
    grey = plot.count("fill: rgb(204, 204, 204)")
    screened = sum(t.user_attrs.get("status") == SCREENED for t in st.trials)
    assert screened and grey == screened
    drawn = plot.count('class="point"')
    assert drawn == sum(t.state == optuna.trial.TrialState.COMPLETE for t in st.trials)
