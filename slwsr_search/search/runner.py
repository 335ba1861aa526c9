"""The trial loop shared by every worker: price, dedupe, train, record; until the study holds its
target of COMPLETE trials.

A trial is priced before anything is built: over budget, it is recorded as infeasible (Optuna
constraint > 0) and not trained. A spec already trained under the same protocol and data is not
trained again; its result is reused. The paper's designs that fit the budget are enqueued first.
Everything a report needs is stored as the trial's :class:`~.record.TrialRecord`.
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import optuna
from optuna.trial import TrialState

from ..model.latency_table import LatencyTable
from ..model.presets import PRESETS
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from ..training.device import Speedups
from ..training.loop import INTERRUPTED, OK
from ..training.protocol import Protocol
from . import record
from .int8 import INT8_DROP, Int8Failed, int8_constraint, int8_scorer
from .pareto import minimised
from .promotion import promote
from .record import INFEASIBLE, REUSED, RUNG_LISTS, RUNGS_SHORT, SCREENED, SURPLUS, TrialRecord
from .rungs import DesignPlan, DesignProgress, RungStore, run_design
from .storage import covered_before, live_trial, retried_number, retry_callback
from .study import Price, StudyConfig, top_seeds, trial_seed


def _at(values: list[float] | None, k: int) -> float | None:
    """``values[k]``, or None where a record (written before the field existed) lacks it."""
    return values[k] if values is not None and len(values) > k else None


def _rung_raw(r: TrialRecord | DesignProgress, k: int, price: Price) -> dict[str, float | None]:
    """Every objective's raw value for rung ``k`` of a record or a design's progress."""
    # int8 is scored at the top rung only
    return {**{col: _at(getattr(r, field), k) for col, field in RUNG_LISTS.items()}, "int8_psnr": None,
            **_price_raw(price)}


def _price_raw(price: Price) -> dict[str, float | None]:
    """The priced objectives' raw values by column."""
    return {"params": price.params, "macs": price.macs, "latency_ms": price.latency_ms}


class TrainingFailed(Exception):
    """A trial whose training failed (non-finite loss, out of memory): Optuna records it as FAIL."""


def worker_id() -> str:
    """Who runs a trial (user attr ``worker``): host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runner:
    """Runs trials of one study: price, dedupe, train, record. ``key``: the run's
    :func:`~.study.protocol_key`, computed once by the entry point."""

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
    interrupted: int | None = field(default=None, init=False)  # the trial a Ctrl-C ended
    _int8_scorer: Callable | None = field(default=None, init=False, repr=False)

    def objective(self, trial: optuna.Trial) -> tuple[float, ...]:
        try:
            return self._objective(trial)
        except KeyboardInterrupt:
            self.interrupted = trial.number
            record.write(trial, status=INTERRUPTED, reason="interrupted (Ctrl-C)")
            raise

    def _objective(self, trial: optuna.Trial) -> tuple[float, ...]:
        record.write(trial, worker=worker_id())
        # One read of the study serves the surplus check, the retry lookup and the dedupe.
        trials = trial.study.get_trials(deepcopy=False)
        if self.target is not None and covered_before(trials, trial.number, self.target,
                                                       self.cfg.fault_tolerance.grace_period):
            # Another worker's trials already cover the study's target: this one would overshoot
            # n_trials. Nothing is built or trained; PRUNED trials are ignored by the samplers.
            record.write(trial, status=SURPLUS)
            raise optuna.TrialPruned("surplus: the study's target is covered by earlier trials")
        spec = self.cfg.space.suggest(trial)
        cost = self.cfg.price(spec, self.latency_table)
        original = retried_number(trials, trial.number)
        constraints = self._priced(trial, spec, cost, original)
        previous = self._previous(trials, spec.hash)
        if previous is not None:
            record.write(trial, duplicate_of=previous.number,
                         **{k: previous.user_attrs[k] for k in REUSED if k in previous.user_attrs})
            if previous.state == TrialState.FAIL:
                raise TrainingFailed(f"duplicate of failed trial {previous.number}: {previous.user_attrs.get('reason')}")
            prev = TrialRecord.of(previous)
            self._settle(trial, constraints, prev)
            return self._scores(prev, cost)
        return self._train(trial, trials, spec, cost, original, constraints)

    def _priced(self, trial: optuna.Trial, spec: ArchSpec, cost: Price, original: int | None) -> dict[str, float]:
        """Record the design and its price; its constraint values, or PRUNED when over budget."""
        seed = trial_seed(self.protocol.seed, trial.number if original is None else original)
        record.write(trial, arch=spec.arch, spec=spec.to_json(compact=True), hash=spec.hash, params=cost.params,
                     macs=cost.macs, protocol_key=self.key, train_seed=seed)
        if cost.latency_ms is not None:
            record.write(trial, latency_ms=cost.latency_ms)
        if original is not None:
            record.write(trial, retry_of=original)
        constraints = self.cfg.violations(cost)
        if self.cfg.fidelity.multi:
            constraints[RUNGS_SHORT] = 0.0  # set for real once the design stops (see _set_constraints)
        if self.cfg.max_int8_drop_db is not None:
            constraints[INT8_DROP] = 0.0  # set for real once trained and quantized
        if not self.cfg.fits(cost):
            # Over budget: recorded, never built or trained, and PRUNED rather than COMPLETE, so no
            # placeholder score is drawn (the dashboard's Pareto plot shows every COMPLETE trial);
            # its constraint values still tell a constrained sampler (TPE) where the budget ends.
            self._set_constraints(trial, constraints)
            record.write(trial, status=INFEASIBLE, feasible=False)
            raise optuna.TrialPruned("over budget: priced, not trained")
        record.write(trial, feasible=True)
        return constraints

    def _train(self, trial: optuna.Trial, trials: list[optuna.trial.FrozenTrial], spec: ArchSpec, cost: Price,
               original: int | None, constraints: dict[str, float]) -> tuple[float, ...]:
        """Train the design up the rungs it is granted (:func:`.rungs.run_design`) and record it."""
        fid = self.cfg.fidelity
        first = trial.number if original is None else original
        seeds = top_seeds(self.protocol.seed, first, fid.seeds_at_top)
        granted = self._granted(trials, original)
        baseline = TrialRecord.of(trial).baseline is not None  # baselines always reach the top

        def goes_on(k: int, prog: DesignProgress) -> bool:
            return baseline or k < granted or self._promoted(trial, spec.hash, k, prog, cost)

        def on_progress(prog: DesignProgress) -> None:
            record.write(trial, **prog.attrs(seeds))

        plan = DesignPlan(spec, self.data, self.protocol, fid.segments(self.protocol.steps), seeds, self.device,
                          self.speedups, int8=self._int8_scorer)
        try:
            run = run_design(plan, goes_on, on_progress, self.rung_store if fid.multi else None, self.key,
                             self.progress, self.should_stop)
        except Int8Failed as e:  # this trial fails, recorded with why; the run goes on
            record.write(trial, reason=str(e))
            raise TrainingFailed(str(e)) from None
        on_progress(run.progress)
        if run.status == INTERRUPTED:
            raise KeyboardInterrupt  # here, between two steps: Optuna marks the trial FAIL and re-raises
        record.write(trial, **run.attrs())
        rec = TrialRecord.of(trial)
        if run.status not in (OK, SCREENED):
            raise TrainingFailed(f"{run.status}: {run.reason}")
        self._settle(trial, constraints, rec)
        return self._scores(rec, cost)

    def __post_init__(self) -> None:
        # built before any training, so calibration images too small for the patches fail at once
        if self.cfg.needs_int8:
            self._int8_scorer = int8_scorer(self.data, self.cfg.int8, self.speedups.threads)

    def _settle(self, trial: optuna.Trial, constraints: dict[str, float], rec: TrialRecord) -> None:
        """Set the constraints of a trained design: rungs short of the top, dB lost to int8 beyond
        the limit (a design over it is recorded infeasible: off the front)."""
        if RUNGS_SHORT in constraints:
            constraints = {**constraints, RUNGS_SHORT: float(self.cfg.fidelity.top - (rec.rung or 0))}
        constraints = int8_constraint(constraints, rec.int8_drop_db, self.cfg.max_int8_drop_db, rec.status == SCREENED)
        if constraints.get(INT8_DROP, 0.0) > 0:
            record.write(trial, feasible=False)  # over the int8 limit: off the front (trained, so not "over budget")
        self._set_constraints(trial, constraints)

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

    def _scores(self, rec: TrialRecord, price: Price) -> tuple[float, ...]:
        """The trial's values: the top-rung score (mean over seeds), or the highest rung's score of a
        design stopped lower (marked infeasible by its constraint, so never mixed into the front)."""
        if rec.psnr is not None:
            return self._values({"psnr": rec.psnr, "ssim": rec.ssim, "loss": rec.loss, "int8_psnr": rec.int8_psnr,
                                 **_price_raw(price)})
        return self._values(_rung_raw(rec, rec.rung, price))

    def _granted(self, trials: list[optuna.trial.FrozenTrial], original: int | None) -> int:
        """The highest rung already granted to the trial a retry repeats (a promotion its dead
        worker had started is honoured, not decided again)."""
        for t in trials:
            if original is not None and t.number == original:
                return TrialRecord.of(t).promoted or 0
        return 0

    def _promoted(self, trial: optuna.Trial, spec_hash: str, k: int, prog: DesignProgress, price: Price) -> bool:
        """The promotion rule (:func:`.promotion.promote`) for this design at rung ``k``, against
        every result that rung holds now: one per design, of this protocol and data, any state."""
        points, exempt, seen = [], [], {spec_hash}
        for t in trial.study.get_trials(deepcopy=False):
            r = TrialRecord.of(t)
            if (r.protocol_key == self.key and r.duplicate_of is None and r.rung_psnr and len(r.rung_psnr) > k
                    and r.hash not in seen):
                seen.add(r.hash)
                points.append(self._minimised(_rung_raw(r, k, Price(r.params, r.macs, r.latency_ms))))
                exempt.append(r.baseline is not None)  # baselines go on anyway: they take no place
        points.append(self._minimised(_rung_raw(prog, k, price)))
        return promote(points, len(points) - 1, self.cfg.fidelity.reduction, exempt + [False])

    def _minimised(self, raw: dict[str, float | None]) -> list[float]:
        """A result as the study's objectives, each turned into 'smaller is better'."""
        return minimised(self._values(raw), self.cfg.objective_table).tolist()

    def _values(self, raw: dict[str, float | None]) -> tuple[float, ...]:
        """The study's values from raw objective values by column (None, a value a record lacks: NaN)."""
        return tuple(o.study_value(math.nan if raw[o.column] is None else raw[o.column]) for o in self.cfg.objective_table)

    def _previous(self, trials: list[optuna.trial.FrozenTrial], spec_hash: str) -> optuna.trial.FrozenTrial | None:
        """The earliest finished trial that trained this spec under this protocol and data."""
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
