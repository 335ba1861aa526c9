"""The evaluator seam, the in-memory trial record and the objective table: the runner scores a
design through any :class:`~slwsr_search.search.evaluators.Evaluator`, keeps its record in memory
and writes it as it changes; every fact about an objective comes from its one entry."""

from __future__ import annotations

import dataclasses
import math

import optuna
import pytest

from slwsr_search.reporting.chart import Y_TITLES
from slwsr_search.reporting.compute import COST_AXES, chart_plan, CSV_COLUMNS, QUALITY_COLUMNS, TRIAL_COLUMNS
from slwsr_search.search import rungs as rungs_mod
from slwsr_search.search.evaluators import Evaluation, EvaluationFailed
from slwsr_search.search.objectives import COST, OBJECTIVES, QUALITY, get_objectives
from slwsr_search.search.record import FIELDS, RUNGS_SHORT, SCREENED, TrialLog, TrialRecord
from slwsr_search.search.runner import Runner, run_study
from slwsr_search.search.study import Fidelity, Price, StudyConfig
from slwsr_search.training.loop import OK

optuna.logging.set_verbosity(optuna.logging.WARNING)


class FakeEvaluator:
    """Scores a design from its parameter count, rung by rung, as a training would report it (no
    training): PSNR grows with parameters and with the rung; it asks ``goes_on`` like the real one."""

    def __init__(self, top: int, fail_params: int | None = None) -> None:
        self.top, self.fail_params, self.asked, self.scored = top, fail_params, [], []

    @staticmethod
    def psnr(spec, k: int) -> float:
        return 20.0 + math.log10(spec.n_feats * 1000 + len(spec.arch)) + 0.5 * k

    def evaluate(self, spec, seeds, goes_on, on_progress) -> Evaluation:
        self.scored.append(spec.hash)
        if self.fail_params is not None and spec.n_feats == self.fail_params:
            raise EvaluationFailed(f"cannot score n{spec.n_feats}")
        fields: dict = {"rung_psnr": [], "rung_ssim": [], "rung_loss_tail": [], "promoted": 0, "seeds": list(seeds[:1])}
        for k in range(self.top + 1):
            if k > 0:
                self.asked.append((spec.hash, k - 1))
                if not goes_on(k - 1, fields):
                    return Evaluation(SCREENED, f"not promoted past rung {k - 1}", {"status": SCREENED})
                fields["promoted"] = k
            fields = {**fields, "rung_psnr": fields["rung_psnr"] + [self.psnr(spec, k)],
                      "rung_ssim": fields["rung_ssim"] + [0.5 + 0.01 * k], "rung_loss_tail": fields["rung_loss_tail"] + [9.0 - k]}
            on_progress(fields)
        top = fields["rung_psnr"][-1]
        return Evaluation(OK, None, {"status": OK, "psnr": top, "ssim": fields["rung_ssim"][-1],
                                     "loss": fields["rung_loss_tail"][-1], "train_seconds": 0.0})


def _runner(fidelity: Fidelity, evaluator) -> tuple[Runner, optuna.Study]:
    cfg = dataclasses.replace(StudyConfig.load("smoke"), fidelity=fidelity, baselines=())
    protocol = cfg.protocol_for("cpu")
    runner = Runner(cfg, None, protocol, "cpu", "fake-evaluator", evaluator=evaluator)
    study = optuna.create_study(directions=cfg.directions, sampler=optuna.samplers.RandomSampler(seed=3))
    return runner, study


@pytest.fixture
def no_training(monkeypatch):
    """Any training started fails the test: the evaluator given is the only scorer."""
    monkeypatch.setattr(rungs_mod.Training, "run", lambda *a, **k: pytest.fail("a training ran"))


def test_a_study_scores_through_the_evaluator_it_is_given(no_training):
    fake = FakeEvaluator(top=0)
    runner, study = _runner(Fidelity(), fake)
    run_study(study, runner, n_trials=5, timeout=None)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 5 and len(fake.scored) == len({TrialRecord.of(t).hash for t in done})
    for t in done:
        rec = TrialRecord.of(t)
        assert t.values == pytest.approx([rec.psnr, rec.params, rec.macs / 1e9])
        assert rec.rung_psnr == [rec.psnr] and rec.status == OK and rec.feasible
    # an over-budget design is priced, never scored
    over = [TrialRecord.of(t).hash for t in study.trials if TrialRecord.of(t).feasible is False]
    assert not set(over) & set(fake.scored)


def test_promotion_works_on_what_any_evaluator_reports(no_training):
    fake = FakeEvaluator(top=1)
    runner, study = _runner(Fidelity(rungs=(1, 3), reduction=2), fake)
    run_study(study, runner, n_trials=6, timeout=None)
    recs = [(t, TrialRecord.of(t)) for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    screened = [(t, r) for t, r in recs if r.status == SCREENED]
    top = [(t, r) for t, r in recs if r.status == OK]
    assert screened and top and fake.asked
    for t, r in screened:  # stopped at rung 0: scored there, marked one rung short (off the front)
        assert r.rung == 0 and t.constraints[RUNGS_SHORT] == 1.0
        assert t.values[0] == pytest.approx(r.rung_psnr[0]) and r.psnr is None
    for t, r in top:
        assert r.rung == 1 and r.promoted == 1 and t.values[0] == pytest.approx(r.psnr) and t.constraints[RUNGS_SHORT] == 0.0


def test_an_evaluation_that_fails_is_a_failed_trial_with_its_reason(no_training):
    runner, study = _runner(Fidelity(), FakeEvaluator(top=0, fail_params=4))
    study.enqueue_trial({"n_feats": 4})
    run_study(study, runner, n_trials=1, timeout=None, max_failures=1)
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.FAIL and t.user_attrs["reason"] == "cannot score n4"


class _Trial:
    """The two things :class:`TrialLog` uses of an Optuna trial, counting the writes."""

    def __init__(self, attrs: dict) -> None:
        self.user_attrs, self.writes = dict(attrs), []

    def set_user_attr(self, key, value) -> None:
        self.writes.append(key)
        self.user_attrs[key] = value


def test_the_trial_log_writes_what_changed_and_keeps_its_own_copy():
    trial = _Trial({"baseline": "s-lwsr16"})
    log = TrialLog(trial)
    assert log.record.baseline == "s-lwsr16"  # what the trial was enqueued with
    rungs = [30.0]
    log.update(rung_psnr=rungs, reason=None)
    rungs.append(31.0)  # the caller's list grows: the record does not
    assert log.record.rung_psnr == [30.0] and trial.user_attrs["rung_psnr"] == [30.0]
    log.update(rung_psnr=rungs, reason=None)  # reason unchanged (None, already written): not written again
    assert trial.writes == ["rung_psnr", "reason", "rung_psnr"] and log.record.rung_psnr == [30.0, 31.0]
    with pytest.raises(KeyError, match="'rung_psrn' is not a TrialRecord field"):
        log.update(rung_psrn=[1.0])
    assert TrialRecord.of(trial) == log.record  # memory and trial agree


# ----- the objective table: one entry each, everything else derived --------------------------


@pytest.mark.parametrize("o", list(OBJECTIVES.values()), ids=list(OBJECTIVES))
def test_every_objective_is_wired_by_its_entry(o):
    assert o.column in FIELDS and o.kind in (QUALITY, COST) and o.direction in ("maximize", "minimize")
    assert o.column in TRIAL_COLUMNS and o.column in CSV_COLUMNS and set(o.companions) <= set(TRIAL_COLUMNS)
    if o.kind == COST:
        assert o.column in {f.name for f in dataclasses.fields(Price)} and o.column in COST_AXES
        assert o.raw(TrialRecord(**{o.column: 7}), rung=2) == 7  # a price holds at every rung
        # its chart: in a study that names it; in every study only when every trial is priced by it
        assert any(c.x == o.column for c in chart_plan(["psnr", o.name]))
        assert any(c.x == o.column for c in chart_plan(["psnr", "params"])) == o.axis_always
    else:
        assert o.column in QUALITY_COLUMNS and o.column in Y_TITLES
        assert o.rung_field is None or o.rung_field in FIELDS
        rec = TrialRecord(**{o.column: 1.5, **({o.rung_field: [1.0, 1.25]} if o.rung_field else {})})
        assert o.raw(rec) == 1.5 and o.raw(rec, rung=1) == (1.25 if o.rung_field else None)
        assert o.raw(rec, rung=5) is None
    assert get_objectives([o.name]) == (o,)
