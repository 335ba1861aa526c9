"""The trial loop shared by every worker: price, dedupe, train, record; until the study holds its
target of COMPLETE trials.

A trial is priced before anything is built: over budget, it is recorded as infeasible (Optuna
constraint > 0) and not trained. A spec already trained under the same protocol and data is not
trained again; its result is reused. The paper's designs that fit the budget are enqueued first.
Everything a report needs is stored as the trial's :class:`~.record.TrialRecord`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from ..model.latency_table import LatencyTable
from ..model.presets import PRESETS
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from ..training.device import Speedups
from ..training.loop import INTERRUPTED
from ..training.protocol import Protocol
from .evaluators import EvaluationFailed, Evaluator, ScratchTraining
from .int8 import INT8_DROP, int8_constraint, int8_scorer
from .objectives import COST, of_kind
from .pareto import minimised
from .promotion import promote
from .record import INFEASIBLE, REUSED, RUNGS_SHORT, SCREENED, SURPLUS, TrialLog, TrialRecord
from .rungs import RungStore
from .storage import covered_before, live_trial, retried_number, retry_callback
from .study import Price, StudyConfig, top_seeds, trial_seed


class TrainingFailed(Exception):
    """A trial whose training failed (non-finite loss, out of memory): Optuna records it as FAIL."""


def worker_id() -> str:
    """Who runs a trial (user attr ``worker``): host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runner:
    """Runs trials of one study: price, dedupe, score (its ``evaluator``), record. ``key``: the run's
    :func:`~.study.protocol_key`, computed once by the entry point. A trial's record is built in
    memory as it runs (:class:`~.record.TrialLog`) and written as it changes."""

    cfg: StudyConfig
    data: TrainData
    protocol: Protocol
    device: str
    key: str
    speedups: Speedups = field(default_factory=Speedups)
    progress: bool = False
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None
    target: int | None = None  # the study's n_trials: no trial beyond it is started (see storage.covered_before)
    should_stop: Callable[[], bool] | None = None  # asked before every training step (Ctrl-C)
    rung_store: RungStore | None = None  # continuation files of a multi-fidelity study's designs
    latency_table: LatencyTable | None = None  # prices latencies, for a study that uses them
    evaluator: Evaluator | None = None  # how a trial scores a design (None: brief training from scratch)
    interrupted: int | None = field(default=None, init=False)  # the trial a Ctrl-C ended
    _int8_scorer: Callable | None = field(default=None, init=False, repr=False)

    def objective(self, trial: optuna.Trial) -> tuple[float, ...]:
        log = TrialLog(trial)
        try:
            return self._objective(log)
        except KeyboardInterrupt:
            self.interrupted = trial.number
            log.update(status=INTERRUPTED, reason="interrupted (Ctrl-C)")
            raise

    def _objective(self, log: TrialLog) -> tuple[float, ...]:
        trial = log.trial
        log.update(worker=worker_id())
        # One read of the study serves the surplus check, the retry lookup and the dedupe.
        trials = trial.study.get_trials(deepcopy=False)
        if self.target is not None and covered_before(trials, trial.number, self.target,
                                                       self.cfg.fault_tolerance.grace_period):
            # Another worker's trials already cover the study's target: this one would overshoot
            # n_trials. Nothing is built or trained; PRUNED trials are ignored by the samplers.
            log.update(status=SURPLUS)
            raise optuna.TrialPruned("surplus: the study's target is covered by earlier trials")
        spec = self.cfg.space.suggest(trial)
        cost = self.cfg.price(spec, self.latency_table)
        original = retried_number(trials, trial.number)
        constraints = self._priced(log, spec, cost, original)
        previous = self._previous(trials, spec.hash)
        if previous is None:
            return self._evaluate(log, trials, spec, original, constraints)
        log.update(duplicate_of=previous.number, **{k: previous.user_attrs[k] for k in REUSED if k in previous.user_attrs})
        if previous.state == TrialState.FAIL:
            raise TrainingFailed(f"duplicate of failed trial {previous.number}: {previous.user_attrs.get('reason')}")
        self._settle(log, constraints)
        return self._scores(log.record)

    def _priced(self, log: TrialLog, spec: ArchSpec, cost: Price, original: int | None) -> dict[str, float]:
        """Record the design and its price; its constraint values, or PRUNED when over budget."""
        seed = trial_seed(self.protocol.seed, log.trial.number if original is None else original)
        log.update(arch=spec.arch, spec=spec.to_json(compact=True), hash=spec.hash, protocol_key=self.key,
                   train_seed=seed)
        # every cost objective's value, under its own column (a latency only where the study prices one)
        log.update(**{o.column: getattr(cost, o.column) for o in of_kind(COST) if getattr(cost, o.column) is not None})
        if original is not None:
            log.update(retry_of=original)
        constraints = self.cfg.violations(cost)
        if self.cfg.fidelity.multi:
            constraints[RUNGS_SHORT] = 0.0  # set for real once the design stops (see _settle)
        if self.cfg.max_int8_drop_db is not None:
            constraints[INT8_DROP] = 0.0  # set for real once trained and quantized
        if not self.cfg.fits(cost):
            # Over budget: recorded, never built or trained, and PRUNED rather than COMPLETE, so no
            # placeholder score is drawn (the dashboard's Pareto plot shows every COMPLETE trial);
            # its constraint values still tell a constrained sampler (TPE) where the budget ends.
            self._set_constraints(log.trial, constraints)
            log.update(status=INFEASIBLE, feasible=False)
            raise optuna.TrialPruned("over budget: priced, not trained")
        log.update(feasible=True)
        return constraints

    def _evaluate(self, log: TrialLog, trials: list[optuna.trial.FrozenTrial], spec: ArchSpec, original: int | None,
                  constraints: dict[str, float]) -> tuple[float, ...]:
        """Score the design with the study's evaluator, up the rungs it is granted, and record it."""
        first = log.trial.number if original is None else original
        seeds = top_seeds(self.protocol.seed, first, self.cfg.fidelity.seeds_at_top)
        granted = self._granted(trials, original)
        baseline = log.record.baseline is not None  # baselines always reach the top

        def goes_on(k: int, fields: dict[str, Any]) -> bool:
            return baseline or k < granted or self._promoted(log, k, dataclasses.replace(log.record, **fields))

        try:
            ev = self.evaluator_for().evaluate(spec, seeds, goes_on, lambda fields: log.update(**fields))
        except EvaluationFailed as e:  # this trial fails, recorded with why; the run goes on
            log.update(reason=str(e))
            raise TrainingFailed(str(e)) from None
        if ev.interrupted:
            raise KeyboardInterrupt  # here, between two steps: Optuna marks the trial FAIL and re-raises
        log.update(**ev.fields)
        if not ev.scored:
            raise TrainingFailed(f"{ev.status}: {ev.reason}")
        self._settle(log, constraints)
        return self._scores(log.record)

    def evaluator_for(self) -> Evaluator:
        """The study's evaluator: the one given, else a brief training from scratch (:class:`~.evaluators.ScratchTraining`)."""
        if self.evaluator is not None:
            return self.evaluator
        fid = self.cfg.fidelity
        return ScratchTraining(self.data, self.protocol, fid.segments(self.protocol.steps), self.device, self.speedups,
                               self._int8_scorer, self.rung_store if fid.multi else None, self.key, self.progress,
                               self.should_stop)

    def __post_init__(self) -> None:
        # built before any training, so calibration images too small for the patches fail at once
        if self.cfg.needs_int8 and self.evaluator is None:
            self._int8_scorer = int8_scorer(self.data, self.cfg.int8, self.speedups.threads)

    def _settle(self, log: TrialLog, constraints: dict[str, float]) -> None:
        """Set the constraints of a scored design: rungs short of the top, dB lost to int8 beyond
        the limit (a design over it is recorded infeasible: off the front)."""
        rec = log.record
        if RUNGS_SHORT in constraints:
            constraints = {**constraints, RUNGS_SHORT: float(self.cfg.fidelity.top - (rec.rung or 0))}
        constraints = int8_constraint(constraints, rec.int8_drop_db, self.cfg.max_int8_drop_db, rec.status == SCREENED)
        if constraints.get(INT8_DROP, 0.0) > 0:
            log.update(feasible=False)  # over the int8 limit: off the front (trained, so not "over budget")
        self._set_constraints(log.trial, constraints)

    @staticmethod
    def _set_constraints(trial: optuna.Trial, constraints: dict[str, float]) -> None:
        """Optuna's named constraints (what its samplers read), and the same values as the list
        the Optuna dashboard reads (system attr ``constraints``; it ignores the named form), so the
        dashboard marks over-budget and screened-only trials infeasible too."""
        with warnings.catch_warnings():
            # a retried trial inherits its original's (equal) constraint values; Optuna warns on re-setting
            warnings.filterwarnings("ignore", message="The constraint value is ignored")
            for k, v in constraints.items():
                trial.set_constraint(k, v)
        trial.storage.set_trial_system_attr(trial._trial_id, "constraints", list(constraints.values()))

    def _scores(self, rec: TrialRecord) -> tuple[float, ...]:
        """The trial's values: the top-rung scores (means over seeds), or the highest rung's scores of
        a design stopped lower (marked infeasible by its constraint, so never mixed into the front)."""
        return self._values(rec, None if rec.psnr is not None else rec.rung)

    def _granted(self, trials: list[optuna.trial.FrozenTrial], original: int | None) -> int:
        """The highest rung already granted to the trial a retry repeats (a promotion its dead
        worker had started is honoured, not decided again)."""
        for t in trials:
            if original is not None and t.number == original:
                return TrialRecord.of(t).promoted or 0
        return 0

    def _promoted(self, log: TrialLog, k: int, candidate: TrialRecord) -> bool:
        """The promotion rule (:func:`.promotion.promote`) for the design ``candidate`` records at rung
        ``k``, against every result that rung holds now: one per design, of this protocol and data, any state."""
        points, exempt, seen = [], [], {candidate.hash}
        for t in log.trial.study.get_trials(deepcopy=False):
            r = TrialRecord.of(t)
            if (r.protocol_key == self.key and r.duplicate_of is None and r.rung_psnr and len(r.rung_psnr) > k
                    and r.hash not in seen):
                seen.add(r.hash)
                points.append(self._minimised(r, k))
                exempt.append(r.baseline is not None)  # baselines go on anyway: they take no place
        points.append(self._minimised(candidate, k))
        return promote(points, len(points) - 1, self.cfg.fidelity.reduction, exempt + [False])

    def _minimised(self, rec: TrialRecord, rung: int | None) -> list[float]:
        """A record's result (at ``rung``; None: its final one) as the study's objectives, each turned
        into 'smaller is better'."""
        return minimised(self._values(rec, rung), self.cfg.objective_table).tolist()

    def _values(self, rec: TrialRecord, rung: int | None) -> tuple[float, ...]:
        """The study's values from a record (at ``rung``; None: its final ones); a value it lacks: NaN."""
        raws = (o.raw(rec, rung) for o in self.cfg.objective_table)
        return tuple(o.study_value(math.nan if r is None else r) for o, r in zip(self.cfg.objective_table, raws))

    def _previous(self, trials: list[optuna.trial.FrozenTrial], spec_hash: str) -> optuna.trial.FrozenTrial | None:
        """The earliest finished trial that scored this spec under this protocol and data."""
        for t in trials:
            r = TrialRecord.of(t)
            if (t.state in (TrialState.COMPLETE, TrialState.FAIL) and r.hash == spec_hash
                    and r.protocol_key == self.key and r.trained):
                return t
        return None


def enqueue_baselines(study: optuna.Study, cfg: StudyConfig, latency_table: LatencyTable | None = None) -> list[str]:
    """Enqueue the study's baselines that fit its budget and are not in the study yet; returns
    the names enqueued now. Baselines over budget are skipped (they would only be priced)."""
    present = {TrialRecord.of(t).baseline for t in study.get_trials(deepcopy=False)}
    added = []
    for name in cfg.baselines:
        spec = PRESETS[name]
        if not cfg.fits(cfg.price(spec, latency_table)) or name in present:
            continue
        params = cfg.space.encode(spec, f"baseline {name}")
        study.enqueue_trial(params, user_attrs=TrialRecord(baseline=name).attrs(), skip_if_exists=True)
        added.append(name)
    return added


def run_study(study: optuna.Study, runner: Runner, n_trials: int, timeout: float | None,
              max_failures: int | None = None, poll: float = 1.0,
              on_wait: Callable[[dict[str, int]], None] | None = None,
              on_lost: Callable[[int], None] | None = None) -> None:
    """Run trials, one at a time, until the study holds ``n_trials`` COMPLETE trials, ``timeout``
    seconds pass (no trial starts after it), or ``max_failures`` trainings fail in a row (default
    ``n_trials``). Safe with any number of workers on one storage: a worker starts a trial only
    while COMPLETE + live RUNNING trials fall short of ``n_trials``, and otherwise waits (every
    ``poll`` s) for the others' trials to end; a trial that fails, or whose worker dies (heartbeat
    gone stale: failed and retried here), reopens a place. ``on_wait`` hears once per wait;
    ``on_lost`` hears the number of each trial found FAIL because its worker died.
    """
    start = time.monotonic()
    limit_failures = max_failures if max_failures is not None else n_trials
    failures_in_a_row = 0
    runner.target = n_trials
    grace = runner.cfg.fault_tolerance.grace_period

    def callback(st: optuna.Study, ft: optuna.trial.FrozenTrial) -> None:
        nonlocal failures_in_a_row
        if ft.state == TrialState.PRUNED:  # nothing ran: surplus (silent), or priced over budget
            if runner.on_trial and TrialRecord.of(ft).status == INFEASIBLE:
                runner.on_trial(ft)
            return
        failures_in_a_row = failures_in_a_row + 1 if ft.state == TrialState.FAIL else 0
        if runner.on_trial:
            runner.on_trial(ft)

    def lost(trials: list[optuna.trial.FrozenTrial]) -> set[int]:  # FAIL trials that never said why: worker died
        return {t.number for t in trials if t.state == TrialState.FAIL and TrialRecord.of(t).status is None}

    known_lost = lost(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))  # before this run's first look
    waiting = False
    while True:
        if runner.should_stop is not None and runner.should_stop():
            raise KeyboardInterrupt  # asked to stop (Ctrl-C) between trials: nothing is cut short
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a dead worker's trial: FAIL, and a retry queued
        trials = study.get_trials(deepcopy=False)
        if on_lost is not None:
            now_lost = lost(trials)
            for n in sorted(now_lost - known_lost):
                on_lost(n)
            known_lost = now_lost
        done = sum(t.state == TrialState.COMPLETE for t in trials)
        running = sum(t.state == TrialState.RUNNING and live_trial(t, grace) for t in trials)
        left = None if timeout is None else timeout - (time.monotonic() - start)
        if done >= n_trials or (left is not None and left <= 0) or failures_in_a_row >= limit_failures:
            return
        if done + running >= n_trials:
            if not waiting and on_wait is not None:
                on_wait({"COMPLETE": done, "RUNNING": running})
            waiting = True
            time.sleep(poll)
            continue
        waiting = False
        study.optimize(runner.objective, n_trials=1, catch=(TrainingFailed,), callbacks=[callback],
                       gc_after_trial=False, show_progress_bar=False)


def requeue_interrupted(study: optuna.Study, runner: Runner) -> int | None:
    """After a Ctrl-C: queue a copy of the trial it ended (Optuna marked it FAIL), as a heartbeat
    retry would, so a resumed run trains that spec first, with the same seed. Returns the
    interrupted trial's number, or None when no trial was cut short."""
    n = runner.interrupted
    if n is None:
        return None
    for t in study.get_trials(deepcopy=True, states=(TrialState.FAIL,)):
        if t.number == n:
            retry_callback(runner.cfg.fault_tolerance)(study, t)
            return n
    return None  # still RUNNING (the Ctrl-C hit while it was being stored): its heartbeat will go stale
