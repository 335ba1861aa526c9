"""What a study run (:func:`.study.run_job`) reports: :class:`JobHooks`, the callbacks that hear it
as it goes, and :class:`JobResult`, how it ended. Kept apart from the run's logic so a front end
(``slwsr run``, a notebook) reads them on their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from optuna.trial import FrozenTrial

from ..model.latency_table import LatencyTable
from ..reporting.compute import Report
from ..search.workers import Started

if TYPE_CHECKING:
    from .study import JobStart


@dataclass(frozen=True)
class JobResult:
    """How a run ended. ``code``: 0 done (or stopped by its timeout), 1 a worker failed, 130
    interrupted; ``states``: the study's trials by state; ``trainings``: those this run finished
    (not priced-only, deduplicated or surplus trials); ``report``: None when interrupted;
    ``report_dir``: where it was written (None: not written); ``evaluator``: what scored the
    designs, the study's ``[evaluator] kind``: "scratch" (``trainings`` are trainings) or
    "supernet" (designs scored, nothing trained)."""

    code: int
    states: dict[str, int]
    n_trials: int
    workers: int
    elapsed_s: float
    trainings: int
    failed_workers: tuple[str, ...] = ()
    report: Report | None = None
    report_dir: Path | None = None
    evaluator: str = "scratch"

    @property
    def finished(self) -> bool:
        """Whether the study holds its ``n_trials`` COMPLETE trials."""
        return self.states.get("COMPLETE", 0) >= self.n_trials

    @property
    def trainings_per_hour(self) -> float:
        return self.trainings / self.elapsed_s * 3600 if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class JobHooks:
    """What a run tells as it goes, each None or a callable. ``worker``: 0 for a run's own trials,
    K for worker K's. ``on_calibrate(parts, path)``: the latency table is measured first;
    ``on_start``: the study is open; ``on_trial(worker, trial)``: a trial ended (surplus trials
    are silent); ``on_wait(worker, counts)``: running trials may complete the study;
    ``on_lost(worker, number)``: a trial whose worker died (it is retried); ``on_stop_requested``:
    the first Ctrl-C of a run without workers; ``on_interrupted(worker, number)``: the trial a
    Ctrl-C cut short (None: none); ``on_worker`` and ``on_stopping_workers``: a worker started, the
    first Ctrl-C of a run with workers; ``on_ran``: the trials are over (not after a Ctrl-C);
    ``on_front_skipped(table, here)`` / ``on_front_measuring(n, table)``: the front is not timed on
    this machine (``here``), or ``n`` points are; ``on_report``: the result, its report not written yet."""

    on_calibrate: Callable[[list, Path], None] | None = None
    on_start: Callable[[JobStart], None] | None = None
    on_trial: Callable[[int, FrozenTrial], None] | None = None
    on_wait: Callable[[int, dict[str, int]], None] | None = None
    on_lost: Callable[[int, int], None] | None = None
    on_stop_requested: Callable[[], None] | None = None
    on_interrupted: Callable[[int, "int | None"], None] | None = None
    on_worker: Callable[[Started], None] | None = None
    on_stopping_workers: Callable[[], None] | None = None
    on_ran: Callable[[JobResult], None] | None = None
    on_front_skipped: Callable[[LatencyTable, str], None] | None = None
    on_front_measuring: Callable[[int, LatencyTable], None] | None = None
    on_report: Callable[[JobResult], None] | None = None
