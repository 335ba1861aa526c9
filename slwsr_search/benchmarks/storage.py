"""Local Optuna storages under N concurrent processes: errors, trials lost or stuck, trials per
second, and whether the storage has heartbeats (what lets a killed worker's trial be recovered)."""

from __future__ import annotations

import math
import multiprocessing as mp
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Sequence

import optuna

from ..search.record import FIELDS, INFEASIBLE
from ..search.storage import make_storage
from ..search.study import FaultTolerance

STORAGE_KINDS = ("sqlite-wal", "sqlite-default", "journal-file")


def _storage_of(kind: str, folder: str, heartbeat: bool):
    if kind == "sqlite-wal":  # ours: WAL, synchronous=NORMAL, 60 s busy timeout, heartbeats
        return make_storage(f"sqlite:///{folder}/wal.db", FaultTolerance() if heartbeat else None)
    if kind == "sqlite-default":  # Optuna's plain RDBStorage on a SQLite file
        return optuna.storages.RDBStorage(f"sqlite:///{folder}/plain.db")
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(f"{folder}/journal.log"))


def has_heartbeats(storage) -> bool:
    """Whether ``storage`` records heartbeats (Optuna's ``RDBStorage`` does; its journal storage not)."""
    return callable(getattr(storage, "record_heartbeat", None))


def _storage_worker(kind: str, folder: str, n_trials: int, queue, barrier) -> None:
    """One process: ``n_trials`` trials with the writes of a priced, over-budget trial (a suggest,
    nine record fields, two objectives), started together with the others (``barrier``); reports
    (done, errors, seconds from the start line)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    errors: list[str] = []
    done = 0
    try:
        study = optuna.load_study(study_name="bench", storage=_storage_of(kind, folder, heartbeat=True),
                                  sampler=optuna.samplers.RandomSampler())
    except Exception as e:  # noqa: BLE001 - counted, not hidden
        barrier.wait()
        queue.put((0, [f"open: {type(e).__name__}: {e}"], 0.0))
        return
    barrier.wait()
    t0 = time.perf_counter()

    def objective(trial):
        x = trial.suggest_int("n_feats", 4, 64)
        for k in FIELDS[:8]:
            trial.set_user_attr(k, f"{k}-{x}")
        trial.set_user_attr("status", INFEASIBLE)
        return float(x), float(-x)

    for _ in range(n_trials):
        try:
            study.optimize(objective, n_trials=1)
            done += 1
        except Exception as e:  # noqa: BLE001 - counted, not hidden
            errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:120]}")
    queue.put((done, errors, time.perf_counter() - t0))


@dataclass(frozen=True)
class StorageRow:
    """One storage kind: trials stored of those asked, errors (with up to three examples), stored
    trials per second from a common start line, trials left RUNNING, heartbeat support."""

    kind: str
    stored: int
    asked: int
    errors: int
    examples: tuple[str, ...]
    trials_per_s: float
    stuck: int
    heartbeats: bool


def bench_storage(workers: int, trials: int, kinds: Sequence[str]) -> list[StorageRow]:
    """``workers`` processes x ``trials`` trials on one study, for each storage kind."""
    if workers < 1 or trials < 1:
        raise ValueError("--workers and --trials: expected integers >= 1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ctx = mp.get_context("spawn")
    rows = []
    for kind in kinds:
        with tempfile.TemporaryDirectory() as folder:
            storage = _storage_of(kind, folder, heartbeat=False)
            optuna.create_study(study_name="bench", storage=storage, directions=["minimize", "maximize"])
            queue, barrier = ctx.Queue(), ctx.Barrier(workers)
            procs = [ctx.Process(target=_storage_worker, args=(kind, folder, trials, queue, barrier)) for _ in range(workers)]
            for pr in procs:
                pr.start()
            results = [queue.get() for _ in procs]
            for pr in procs:
                pr.join()
            wall = max(r[2] for r in results) or math.inf
            study = optuna.load_study(study_name="bench", storage=_storage_of(kind, folder, heartbeat=False))
            states = [t.state for t in study.get_trials(deepcopy=False)]
            errors = [e for _, errs, _ in results for e in errs]
            stored = sum(st == optuna.trial.TrialState.COMPLETE for st in states)
            rows.append(StorageRow(kind, stored, workers * trials, len(errors), tuple(sorted(set(errors))[:3]),
                                   stored / wall, sum(st == optuna.trial.TrialState.RUNNING for st in states),
                                   has_heartbeats(storage)))
    return rows
