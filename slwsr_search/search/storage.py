"""Optuna storage: SQLite made safe for several workers, PostgreSQL for several machines, heartbeats
and retries of a dead worker's trial, and storage URLs whose passwords never show.

Every storage is an Optuna ``RDBStorage`` with heartbeats: a trial whose worker died (kill -9,
power loss) stops beating, is marked FAIL after the grace period by the next worker that looks,
and Optuna's ``RetryHeartbeatStaleTrialCallback`` queues a copy that runs with the same seed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from .resources import default_storage
from .record import StudyRecord, TrialRecord
from .study import FaultTolerance, StudyConfig, make_sampler

#: Environment variable holding the storage URL when ``--storage`` is not given: a database
#: password there stays out of the process list and the shell history.
STORAGE_ENV = "SLWSR_STORAGE"


def resolve_storage(option: str | None, cfg: StudyConfig) -> str:
    """``--storage`` if given, else ``$SLWSR_STORAGE``, else the study's own (``studies/NAME.db``
    under the current folder, unless its TOML names another)."""
    return option or os.environ.get(STORAGE_ENV) or cfg.storage


def mask_url(url: str) -> str:
    """A storage URL with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def rung_dir(url: str, study_name: str) -> Path:
    """Where a multi-fidelity study keeps the continuation files of designs in training: beside a
    SQLite file (``studies/NAME.db`` -> ``studies/NAME.rungs/``), else ``./studies/NAME.rungs/``.
    Local to each machine: a trial retried on another machine trains from its start, to the same
    result."""
    db = sqlite_path(url)
    if db is not None:
        return db.with_name(db.stem + ".rungs")
    return Path("studies") / f"{study_name}.rungs"


def retry_callback(ft: FaultTolerance) -> RetryHeartbeatStaleTrialCallback:
    """Optuna's retry of a failed trial: a WAITING copy with the same parameters and attrs, which
    remembers the original (``failed_trial``), at most ``ft.max_retry`` times per original."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=ft.max_retry)


def make_storage(url: str, ft: FaultTolerance | None = None) -> optuna.storages.RDBStorage:
    """The Optuna storage for ``url``, with heartbeats and stale-trial retries when ``ft`` is given.

    SQLite files get write-ahead logging and ``synchronous=NORMAL``: readers never block the
    writer, a commit no longer waits for a full fsync (an over-budget trial is recorded in
    milliseconds instead of ~0.3 s), and a killed process loses nothing committed. A 60 s busy
    timeout lets concurrent workers queue for the write lock instead of failing. Server
    databases (PostgreSQL) get ``pool_pre_ping`` so a dropped connection is replaced, not fatal.
    """
    check_driver(url)
    sqlite = url.startswith("sqlite:///")
    engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        kwargs: dict[str, Any] = {}
        if ft is not None:
            kwargs = {"heartbeat_interval": ft.heartbeat_interval, "grace_period": ft.grace_period,
                      "heartbeat_stale_trial_callback": retry_callback(ft)}
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
    if sqlite:
        from sqlalchemy import event

        @event.listens_for(storage.engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        storage.engine.dispose()  # reconnect, so every pooled connection gets the pragmas
    return storage


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, else None."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


@contextlib.contextmanager
def setup_lock(cfg: StudyConfig, url: str) -> Iterator[None]:
    """Hold an exclusive lock while a run creates or opens its study in a SQLite file and records
    what a first run records (protocol, baselines): two runs started at once on a new file would
    otherwise race to create Optuna's tables ('table ... already exists'); the second waits and
    joins. The lock is an advisory ``flock`` on the database's folder: never on the database file
    itself, whose POSIX locks SQLite would lose the moment another descriptor of it closed, and
    with no lock file left behind. A no-op for server databases (their DDL runs in transactions)
    and where ``fcntl`` is missing (Windows)."""
    db = sqlite_path(url)
    if db is not None and url == default_storage(cfg.name):
        db.parent.mkdir(parents=True, exist_ok=True)  # ./studies/ is ours to make (open_study makes it too)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    folder = db.resolve().parent if db is not None else None
    if folder is None or fcntl is None or not folder.is_dir():
        yield  # a missing folder is reported by open_study, with the URL
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


#: The pip package of each SQLAlchemy driver (``dialect.driver``) a storage URL may name, for the
#: one-line error when it is missing. ``postgresql://`` is psycopg (3) under SQLAlchemy 2.1 and
#: psycopg2 under 2.0; both are dependencies. Drivers not listed are named by their module.
DRIVER_PACKAGES = {
    "psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pg8000": "pg8000",
    "mysqldb": "mysqlclient", "pymysql": "PyMySQL", "mysqlconnector": "mysql-connector-python",
    "mariadbconnector": "mariadb", "oracledb": "oracledb", "cx_oracle": "cx_Oracle",
    "pyodbc": "pyodbc", "pymssql": "pymssql",
}


def check_driver(url: str) -> None:
    """Refuse, in one line naming what to install, a storage URL whose database driver is missing
    (``mysql://`` without mysqlclient) or that names an asyncio driver Optuna's storage cannot use
    (``postgresql+asyncpg://``), and a database or driver SQLAlchemy does not know (``postgres://``).
    Optuna would say only "Failed to import DB access module ...". A URL SQLAlchemy cannot parse
    is left to open_study's error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        u = make_url(url)
    except ArgumentError:
        return
    shown = mask_url(url)
    try:
        dialect = u.get_dialect()
    except NoSuchModuleError:
        hint = " (PostgreSQL's is postgresql://)" if u.get_backend_name() == "postgres" else ""
        raise ValueError(f"storage {shown}: SQLAlchemy knows no database driver {u.drivername!r}{hint}") from None
    backend = u.get_backend_name()
    if getattr(dialect, "is_async", False):
        raise ValueError(f"storage {shown}: {dialect.driver} is an asyncio driver, which Optuna's storage cannot "
                         f"use; write {backend}:// (its default driver) instead")
    try:
        dialect.import_dbapi()
    except ImportError as e:
        package = DRIVER_PACKAGES.get(dialect.driver, e.name or dialect.driver)
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"storage {shown}: its database driver {dialect.driver} is not installed ({why}): "
                         f"pip install {shlex.quote(package)}") from None


def _cannot_open(url: str, e: Exception) -> ValueError:
    """One line for a driver or SQLAlchemy error (unreachable server, bad URL, missing driver),
    with any password masked."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ValueError(f"storage {url}: cannot open ({type(e).__name__}: {mask_url(first)})")


def open_study(cfg: StudyConfig, storage: str, seed: int) -> optuna.Study:
    """Create or load the study in ``storage``; a storage that can't be reached is a one-line ``ValueError``."""
    url = mask_url(storage)
    db = sqlite_path(storage)
    if db is not None:
        folder = db.resolve().parent
        if storage == default_storage(cfg.name):
            folder.mkdir(parents=True, exist_ok=True)  # ./studies/ is ours to make; a user's --storage is not
        if not folder.is_dir():
            raise ValueError(f"storage {url}: folder {folder} does not exist")
    check_driver(storage)
    try:
        study = optuna.create_study(storage=make_storage(storage, cfg.fault_tolerance), study_name=cfg.name,
                                    directions=cfg.directions,
                                    sampler=make_sampler(cfg, seed), load_if_exists=True)
    except Exception as e:  # SQLAlchemy / driver errors
        raise _cannot_open(url, e) from None
    stored = study.metric_names  # None for a study made before metric names were recorded
    if [d.name.lower() for d in study.directions] != cfg.directions or (stored is not None and stored != cfg.metric_names):
        there = ", ".join(stored) if stored else ", ".join(d.name.lower() for d in study.directions)
        raise ValueError(f"storage {url}: study {cfg.name!r} there has other objectives ({there}; this study file: "
                         f"{', '.join(cfg.metric_names)}); {_elsewhere(storage, cfg.name)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(cfg.metric_names)
    return study


def open_existing_study(cfg: StudyConfig, storage: str) -> optuna.Study:
    """Load ``cfg``'s study from ``storage`` without creating anything; one-line ``ValueError``s."""
    url = mask_url(storage)
    db = sqlite_path(storage)
    if db is not None and not db.is_file():
        raise ValueError(f"storage {url}: no such database (run the study first)")
    check_driver(storage)
    try:
        return optuna.load_study(study_name=cfg.name, storage=make_storage(storage))
    except KeyError:
        raise ValueError(f"storage {url}: holds no study named {cfg.name!r} (run it first)") from None
    except Exception as e:  # SQLAlchemy / driver errors
        raise _cannot_open(url, e) from None


def count_states(study: optuna.Study) -> dict[str, int]:
    """How many trials the study holds in each state, by state name."""
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def _elsewhere(storage: str, name: str) -> str:
    """How to start afresh beside a study that cannot be resumed with these settings."""
    db = sqlite_path(storage)
    if db is not None:
        return (f"give another --storage, or move {db} aside to start afresh "
                "(a study made by an earlier version of its file)")
    return f"give another --storage, or another study name than {name!r}"


def claim_protocol(study: optuna.Study, storage: str, key: str, desc: str, protocol: dict, data: list[str],
                   record: bool) -> None:
    """Refuse to run ``study`` under another protocol key than the one it remembers (``ValueError``
    naming the storage and the recorded protocol); a study that remembers none records this one
    when ``record`` (the first run's parent does; its workers only check)."""
    known = StudyRecord.of(study)
    if known.protocol_key is not None and known.protocol_key != key:
        raise ValueError(f"study {study.study_name!r} in {mask_url(storage)} was run with another protocol or data "
                         f"({known.protocol_desc or '?'}; this run: {desc}); resume it with the same settings, or "
                         + _elsewhere(storage, study.study_name))
    if known.protocol_key is None and record:
        StudyRecord(key, desc, protocol, data).write(study)


# ----- counting trials toward the target, with workers that may die ------------------------------


def live_trial(t: optuna.trial.FrozenTrial, grace_period: int) -> bool:
    """A RUNNING trial that counts toward the target: one of ours (it beats, so a dead worker's
    trial goes FAIL after the grace period), or one too young to have said so yet. A RUNNING trial
    of neither kind (left by a crash before heartbeats existed) never ends: it is ignored."""
    if TrialRecord.of(t).worker is not None or t.datetime_start is None:
        return True
    return (time.time() - t.datetime_start.timestamp()) < grace_period


def retried_number(trials: list[optuna.trial.FrozenTrial], number: int) -> int | None:
    """The number of the trial that trial ``number`` retries (first of a chain), or None."""
    for t in trials:
        if t.number == number:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
    return None


def covered_before(trials: list[optuna.trial.FrozenTrial], number: int, target: int, grace_period: int) -> bool:
    """True when the COMPLETE trials plus the live RUNNING trials numbered below ``number`` already
    make ``target``: then trial ``number`` is surplus. Trial numbers are handed out in creation
    order, so of several workers racing for the last place exactly one finds it free."""
    n = sum(t.number < number and (t.state == TrialState.COMPLETE or (t.state == TrialState.RUNNING
                                                                      and live_trial(t, grace_period)))
            for t in trials)
    return n >= target
