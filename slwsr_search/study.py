"""Studies as data (``studies/*.toml``) and the Optuna multi-objective search over a space.

A trial is priced before anything is built: over budget, it is recorded as infeasible (Optuna
constraint > 0) and not trained. A spec already trained under the same protocol and data is not
trained again; its result is reused. The paper's designs that fit the budget are enqueued first.
Everything a report needs is stored as trial user attrs.

Several workers (processes, machines) share one study through its storage. Every storage is an
Optuna ``RDBStorage`` with heartbeats: a trial whose worker died (kill -9, power loss) stops
beating, is marked FAIL after the grace period by the next worker that looks, and Optuna's
``RetryHeartbeatStaleTrialCallback`` queues a copy that runs with the same training seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from .config import ROOT, check_keys, find_toml, list_of, read_toml
from .cost import block_cost, count_cost
from .data import TrainData
from .presets import PRESETS
from .space import SearchSpace, parse_block_choice
from .spec import ArchSpec, SLOTS
from .train import Protocol, Speedups, TrainResult, train

STUDIES_DIR = ROOT / "studies"

#: Objective name -> (direction, metric name shown by the Optuna dashboard).
OBJECTIVES: dict[str, tuple[str, str]] = {
    "psnr": ("maximize", "PSNR (dB)"),
    "ssim": ("maximize", "SSIM"),
    "params": ("minimize", "parameters"),
    "macs": ("minimize", "Multi-Adds (G)"),
}
SAMPLERS = ("NSGAIISampler", "TPESampler", "RandomSampler")


class TrainingFailed(Exception):
    """A trial whose training failed (non-finite loss, out of memory): Optuna records it as FAIL."""


@dataclass(frozen=True)
class FaultTolerance:
    """``[fault_tolerance]`` of a study: heartbeats and retries (seconds, counts).

    Each running trial writes a heartbeat to the storage every ``heartbeat_interval`` s; one
    silent for ``grace_period`` s is stale: the next worker that looks marks it FAIL and queues a
    retry, up to ``max_retry`` times per original trial (a spec that kills its worker every time,
    say by exhausting memory, is not retried forever).
    """

    heartbeat_interval: int = 10
    grace_period: int = 60
    max_retry: int = 2

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "FaultTolerance":
        check_keys(d, where, optional=("heartbeat_interval", "grace_period", "max_retry"))
        out = cls(**d)
        for f in dataclasses.fields(cls):
            v = getattr(out, f.name)
            low = 0 if f.name == "max_retry" else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{where}: {f.name}: expected an integer >= {low}, got {v!r}")
        if out.grace_period <= out.heartbeat_interval:
            raise ValueError(f"{where}: grace_period: must exceed heartbeat_interval ({out.heartbeat_interval}), "
                             f"got {out.grace_period}")
        return out


def trial_seed(study_seed: int, number: int) -> int:
    """The training seed of trial ``number``: a function of the study seed and the trial number
    only (NumPy's ``SeedSequence`` mixes them), so a result never depends on which worker ran it.
    A retried trial uses the seed of the trial it retries."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0] % 2**31)


#: Environment variable holding the storage URL when ``--storage`` is not given: a database
#: password there stays out of the process list and the shell history.
STORAGE_ENV = "SLWSR_STORAGE"


def resolve_storage(option: str | None, cfg: "StudyConfig") -> str:
    """``--storage`` if given, else ``$SLWSR_STORAGE``, else the study's own (``studies/NAME.db``)."""
    return option or os.environ.get(STORAGE_ENV) or cfg.storage


def mask_url(url: str) -> str:
    """A storage URL with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


@dataclass(frozen=True)
class StudyConfig:
    """One study (``studies/<name>.toml``): what to search, under which budget, how to train."""

    name: str
    path: str
    description: str
    space: SearchSpace
    objectives: tuple[str, ...]
    max_params: int | None
    max_macs: int | None
    protocol: Protocol
    cpu_protocol: Protocol | None
    train: tuple[str, ...]
    val: tuple[str, ...]
    sampler: dict[str, Any]
    n_trials: int
    timeout: float | None
    seed: int
    baselines: tuple[str, ...]
    storage: str
    fault_tolerance: FaultTolerance = FaultTolerance()

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o][0] for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        return [OBJECTIVES[o][1] for o in self.objectives]

    def protocol_for(self, device_type: str) -> Protocol:
        """The full protocol on a GPU; the lighter ``[cpu_protocol]`` (when given) on a CPU."""
        return self.cpu_protocol if (device_type == "cpu" and self.cpu_protocol is not None) else self.protocol

    @classmethod
    def load(cls, name_or_path: str | Path) -> "StudyConfig":
        """A study by name (``studies/<name>.toml``) or path; errors name the file and the key."""
        p = find_toml(name_or_path, STUDIES_DIR, "study")
        data = read_toml(p)
        w = str(p)
        check_keys(data, w, required=("search_space", "n_trials", "protocol", "constraints"),
                   optional=("description", "objectives", "cpu_protocol", "data", "sampler", "timeout", "seed",
                             "baselines", "storage", "fault_tolerance"))
        try:
            space = SearchSpace.load(data["search_space"])
        except ValueError as e:
            raise ValueError(f"{w}: search_space: {e}") from None
        objectives = tuple(list_of(data.get("objectives", ["psnr", "params", "macs"]), str, f"{w}: objectives"))
        for o in objectives:
            if o not in OBJECTIVES:
                raise ValueError(f"{w}: objectives: unknown objective {o!r}; expected {', '.join(OBJECTIVES)}")
        cons = check_keys(data["constraints"], f"{w}: [constraints]", optional=("max_params", "max_macs"))
        limits = {}
        for key in ("max_params", "max_macs"):
            v = cons.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise ValueError(f"{w}: constraints.{key}: expected a positive integer, got {v!r}")
            limits[key] = v
        protocol = Protocol.from_dict(data["protocol"], f"{w}: [protocol]")
        cpu_protocol = Protocol.from_dict(data["cpu_protocol"], f"{w}: [cpu_protocol]") if "cpu_protocol" in data else None
        d = check_keys(data.get("data", {}), f"{w}: [data]", optional=("train", "val"))
        train_src = list_of(d.get("train", ["builtin:train"]), str, f"{w}: data.train")
        val_src = list_of(d.get("val", ["builtin:val"]), str, f"{w}: data.val")
        sampler = dict(data.get("sampler", {"name": "NSGAIISampler"}))
        check_keys(sampler, f"{w}: [sampler]", required=("name",), optional=("population_size", "n_startup_trials"))
        if sampler["name"] not in SAMPLERS:
            raise ValueError(f"{w}: sampler.name: unknown sampler {sampler['name']!r}; expected {', '.join(SAMPLERS)}")
        n_trials = data["n_trials"]
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise ValueError(f"{w}: n_trials: expected an integer >= 1, got {n_trials!r}")
        timeout = data.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ValueError(f"{w}: timeout: expected seconds > 0, got {timeout!r}")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"{w}: seed: expected an integer >= 0, got {seed!r}")
        baselines = list_of(data.get("baselines", []), str, f"{w}: baselines", non_empty=False)
        for b in baselines:
            if b not in PRESETS:
                raise ValueError(f"{w}: baselines: unknown preset {b!r}; known: {', '.join(PRESETS)}")
        storage = data.get("storage") or f"sqlite:///{STUDIES_DIR / (p.stem + '.db')}"
        if not isinstance(storage, str):
            raise ValueError(f"{w}: storage: expected a URL string, got {storage!r}")
        ft = FaultTolerance.from_dict(data.get("fault_tolerance", {}), f"{w}: [fault_tolerance]")
        return cls(name=p.stem, path=w, description=str(data.get("description", "")), space=space,
                   objectives=objectives, max_params=limits["max_params"], max_macs=limits["max_macs"],
                   protocol=protocol, cpu_protocol=cpu_protocol, train=tuple(train_src), val=tuple(val_src),
                   sampler=sampler, n_trials=n_trials, timeout=float(timeout) if timeout else None, seed=seed,
                   baselines=tuple(baselines), storage=storage, fault_tolerance=ft)

    # ----- budget ----------------------------------------------------------------------------------

    def violations(self, params: int, macs: int) -> dict[str, float]:
        """Optuna constraint values (feasible when all <= 0): how far over each limit a cost is."""
        out = {}
        if self.max_params is not None:
            out["params"] = float(params - self.max_params)
        if self.max_macs is not None:
            out["macs"] = float(macs - self.max_macs)
        return out

    def check_space_fits(self) -> None:
        """``ValueError`` before any training if no spec of the space can meet the budget.

        Cost is a sum over parts, each growing with ``n_feats``: the cheapest spec takes the
        smallest width, the cheapest block choice in every searched slot and a one-source pool.
        """
        sp = self.space
        n = min(sp.n_feats)
        checks = (("parameters", self.max_params, 0, lambda c: c.params), ("Multi-Adds", self.max_macs, 1, lambda c: c.macs))
        for what, limit, part, pick in checks:
            if limit is None:
                continue
            blocks = []
            for slot in SLOTS:
                choices = sp.block_choices if slot in sp.block_slots else ("res",)
                # block_cost at one LR pixel ranks the choices by parameters (part 0) or MACs (part 1)
                blocks.append(min((parse_block_choice(c) for c in choices), key=lambda b: block_cost(b, n, 1)[part]))
            cheapest = ArchSpec(sp.scale, n, tuple(blocks), ("head",))
            value = pick(count_cost(cheapest))
            if value > limit:
                raise ValueError(f"{self.path}: nothing in search space {sp.name!r} fits the budget: the cheapest spec "
                                 f"({cheapest.arch}) has {value:,} {what}, over the limit of {limit:,}")


def protocol_key(protocol: Protocol, train_source: str, val_source: str, scale: int) -> str:
    """Identifies 'the same protocol and data': equal keys mean a spec's result can be reused."""
    blob = json.dumps({"protocol": protocol.to_dict(), "train": train_source, "val": val_source, "scale": scale},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sampler_seed(study_seed: int, worker: int, n_existing: int) -> int:
    """The sampler seed of one worker process. A plain run (worker 0) of a fresh study uses the
    study seed itself, so a rerun proposes the same designs; any other worker, and any run that
    joins a study already holding trials, mixes in its worker index and that trial count: workers
    seeded alike would propose the same first designs, and train each of them twice."""
    if worker == 0 and n_existing == 0:
        return study_seed
    return int(np.random.SeedSequence([study_seed, worker, n_existing]).generate_state(1)[0] % 2**31)


def make_sampler(cfg: StudyConfig, seed: int) -> optuna.samplers.BaseSampler:
    """The study's sampler, named and seeded explicitly (Optuna 5 changed the default)."""
    s = cfg.sampler
    if s["name"] == "NSGAIISampler":
        return optuna.samplers.NSGAIISampler(population_size=s.get("population_size", 8), seed=seed)
    if s["name"] == "TPESampler":
        return optuna.samplers.TPESampler(n_startup_trials=s.get("n_startup_trials", 8), seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


# ----- running ---------------------------------------------------------------------------------


def retry_callback(ft: FaultTolerance) -> RetryHeartbeatStaleTrialCallback:
    """Optuna's retry of a failed trial: a WAITING copy with the same parameters and attrs, which
    remembers the original (``failed_trial``), at most ``ft.max_retry`` times per original."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=ft.max_retry)


def worker_id() -> str:
    """Who runs a trial (user attr ``worker``): host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _live(t: optuna.trial.FrozenTrial, grace_period: int) -> bool:
    """A RUNNING trial that counts toward the target: one of ours (it beats, so a dead worker's
    trial goes FAIL after the grace period), or one too young to have said so yet. A RUNNING trial
    of neither kind (left by a crash before heartbeats existed) never ends: it is ignored."""
    if "worker" in t.user_attrs or t.datetime_start is None:
        return True
    return (time.time() - t.datetime_start.timestamp()) < grace_period


def _retried_number(trials: list[optuna.trial.FrozenTrial], number: int) -> int | None:
    """The number of the trial that trial ``number`` retries (first of a chain), or None."""
    for t in trials:
        if t.number == number:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
    return None


def _covered_before(trials: list[optuna.trial.FrozenTrial], number: int, target: int, grace_period: int) -> bool:
    """True when the COMPLETE trials plus the live RUNNING trials numbered below ``number`` already
    make ``target``: then trial ``number`` is surplus. Trial numbers are handed out in creation
    order, so of several workers racing for the last place exactly one finds it free."""
    n = sum(t.number < number and (t.state == TrialState.COMPLETE or (t.state == TrialState.RUNNING
                                                                      and _live(t, grace_period)))
            for t in trials)
    return n >= target


@dataclass
class Runner:
    """Runs trials of one study: price, dedupe, train, record."""

    cfg: StudyConfig
    data: TrainData
    protocol: Protocol
    device: str
    speedups: Speedups = field(default_factory=Speedups)
    progress: bool = False
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None
    target: int | None = None  # the study's n_trials: no trial beyond it is started (see _covered_before)
    should_stop: Callable[[], bool] | None = None  # asked before every training step (Ctrl-C)
    interrupted: int | None = field(default=None, init=False)  # the trial a Ctrl-C ended
    key: str = field(init=False)  # 'the same protocol and data' (protocol_key), fixed for the runner's life

    def __post_init__(self) -> None:
        self.key = protocol_key(self.protocol, self.data.train_source, self.data.val_source, self.data.scale)

    def objective(self, trial: optuna.Trial) -> tuple[float, ...]:
        try:
            return self._objective(trial)
        except KeyboardInterrupt:
            self.interrupted = trial.number
            trial.set_user_attr("status", "interrupted")
            trial.set_user_attr("reason", "interrupted (Ctrl-C)")
            raise

    def _objective(self, trial: optuna.Trial) -> tuple[float, ...]:
        trial.set_user_attr("worker", worker_id())
        # One read of the study serves the surplus check, the retry lookup and the dedupe.
        trials = trial.study.get_trials(deepcopy=False)
        if self.target is not None and _covered_before(trials, trial.number, self.target,
                                                       self.cfg.fault_tolerance.grace_period):
            # Another worker's trials already cover the study's target: this one would overshoot
            # n_trials. Nothing is built or trained; PRUNED trials are ignored by the samplers.
            trial.set_user_attr("status", "surplus")
            raise optuna.TrialPruned("surplus: the study's target is covered by earlier trials")
        spec = self.cfg.space.suggest(trial)
        cost = count_cost(spec)
        original = _retried_number(trials, trial.number)
        seed = trial_seed(self.protocol.seed, trial.number if original is None else original)
        attrs = {"arch": spec.arch, "spec": spec.to_json(compact=True), "hash": spec.hash, "params": cost.params,
                 "macs": cost.macs, "protocol_key": self.key, "train_seed": seed}
        if original is not None:
            attrs["retry_of"] = original
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        violations = self.cfg.violations(cost.params, cost.macs)
        with warnings.catch_warnings():
            # a retried trial inherits its original's (equal) constraint values; Optuna warns on re-setting
            warnings.filterwarnings("ignore", message="The constraint value is ignored")
            for k, v in violations.items():
                trial.set_constraint(k, v)
        if any(v > 0 for v in violations.values()):
            # Over budget: recorded, never built or trained. PSNR/SSIM objectives get 0 as a
            # placeholder; constrained samplers rank infeasible trials by violation, not values.
            trial.set_user_attr("status", "infeasible")
            trial.set_user_attr("feasible", False)
            return self._values(trial, 0.0, 0.0, cost.params, cost.macs)
        trial.set_user_attr("feasible", True)
        previous = self._previous(trials, spec.hash)
        if previous is not None:
            trial.set_user_attr("duplicate_of", previous.number)
            for k in ("psnr", "ssim", "train_seconds", "steps_per_s", "device", "status", "reason", "train_seed"):
                if k in previous.user_attrs:
                    trial.set_user_attr(k, previous.user_attrs[k])
            if previous.state == TrialState.FAIL:
                raise TrainingFailed(f"duplicate of failed trial {previous.number}: {previous.user_attrs.get('reason')}")
            return self._values(trial, previous.user_attrs["psnr"], previous.user_attrs["ssim"], cost.params, cost.macs)
        res = train(spec, self.data, dataclasses.replace(self.protocol, seed=seed), self.device, self.speedups,
                    progress=self.progress, should_stop=self.should_stop)
        if res.status == "interrupted":
            raise KeyboardInterrupt  # here, between two steps: Optuna marks the trial FAIL and re-raises
        self._record(trial, res)
        if not res.ok:
            raise TrainingFailed(f"{res.status}: {res.reason}")
        return self._values(trial, res.psnr, res.ssim, cost.params, cost.macs)

    def _values(self, trial: optuna.Trial, psnr: float, ssim: float, params: int, macs: int) -> tuple[float, ...]:
        if math.isinf(psnr):
            psnr = 100.0  # identical images: a finite stand-in Optuna can store
        by_name = {"psnr": psnr, "ssim": ssim, "params": float(params), "macs": macs / 1e9}
        return tuple(by_name[o] for o in self.cfg.objectives)

    @staticmethod
    def _record(trial: optuna.Trial, res: TrainResult) -> None:
        trial.set_user_attr("status", res.status)
        trial.set_user_attr("reason", res.reason)
        trial.set_user_attr("psnr", res.psnr)
        trial.set_user_attr("ssim", res.ssim)
        trial.set_user_attr("train_seconds", round(res.wall_s, 3))
        trial.set_user_attr("steps_per_s", round(res.steps_per_s, 4))
        trial.set_user_attr("device", res.device)
        trial.set_user_attr("final_loss", res.final_loss)

    def _previous(self, trials: list[optuna.trial.FrozenTrial], spec_hash: str) -> optuna.trial.FrozenTrial | None:
        """The earliest finished trial that trained this spec under this protocol and data."""
        for t in trials:
            a = t.user_attrs
            if (t.state in (TrialState.COMPLETE, TrialState.FAIL) and a.get("hash") == spec_hash
                    and a.get("protocol_key") == self.key and "duplicate_of" not in a
                    and a.get("status") in ("ok", "nonfinite", "oom")):
                return t
        return None


def make_storage(url: str, ft: FaultTolerance | None = None) -> optuna.storages.RDBStorage:
    """The Optuna storage for ``url``, with heartbeats and stale-trial retries when ``ft`` is given.

    SQLite files get write-ahead logging and ``synchronous=NORMAL``: readers never block the
    writer, a commit no longer waits for a full fsync (an over-budget trial is recorded in
    milliseconds instead of ~0.3 s), and a killed process loses nothing committed. A 60 s busy
    timeout lets concurrent workers queue for the write lock instead of failing. Server
    databases (PostgreSQL) get ``pool_pre_ping`` so a dropped connection is replaced, not fatal.
    """
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


def _cannot_open(url: str, e: Exception) -> ValueError:
    """One line for a driver or SQLAlchemy error (unreachable server, bad URL, missing driver),
    with any password masked."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ValueError(f"storage {url}: cannot open ({type(e).__name__}: {mask_url(first)})")


def open_study(cfg: StudyConfig, storage: str, seed: int) -> optuna.Study:
    """Create or load the study in ``storage``; a storage that can't be reached is a one-line ``ValueError``."""
    url = mask_url(storage)
    if storage.startswith("sqlite:///"):
        folder = Path(storage[len("sqlite:///"):]).resolve().parent
        if not folder.is_dir():
            raise ValueError(f"storage {url}: folder {folder} does not exist")
    try:
        study = optuna.create_study(storage=make_storage(storage, cfg.fault_tolerance), study_name=cfg.name,
                                    directions=cfg.directions,
                                    sampler=make_sampler(cfg, seed), load_if_exists=True)
    except Exception as e:  # SQLAlchemy / driver errors
        raise _cannot_open(url, e) from None
    if [d.name.lower() for d in study.directions] != cfg.directions:
        raise ValueError(f"storage {url}: study {cfg.name!r} there has other objectives; use another --storage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(cfg.metric_names)
    return study


def open_existing_study(cfg: StudyConfig, storage: str) -> optuna.Study:
    """Load ``cfg``'s study from ``storage`` without creating anything; one-line ``ValueError``s."""
    url = mask_url(storage)
    if storage.startswith("sqlite:///") and not Path(storage[len("sqlite:///"):]).is_file():
        raise ValueError(f"storage {url}: no such database (run the study first)")
    try:
        return optuna.load_study(study_name=cfg.name, storage=make_storage(storage))
    except KeyError:
        raise ValueError(f"storage {url}: holds no study named {cfg.name!r} (run it first)") from None
    except Exception as e:  # SQLAlchemy / driver errors
        raise _cannot_open(url, e) from None


def enqueue_baselines(study: optuna.Study, cfg: StudyConfig) -> list[str]:
    """Enqueue the study's baselines that fit its budget and are not in the study yet; returns
    the names enqueued now. Baselines over budget are skipped (they would only be priced)."""
    present = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False)}
    added = []
    for name in cfg.baselines:
        spec = PRESETS[name]
        cost = count_cost(spec)
        if any(v > 0 for v in cfg.violations(cost.params, cost.macs).values()) or name in present:
            continue
        params = cfg.space.encode(spec, f"baseline {name}")
        study.enqueue_trial(params, user_attrs={"baseline": name}, skip_if_exists=True)
        added.append(name)
    return added


def count_states(study: optuna.Study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


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
        if ft.state == TrialState.PRUNED:  # surplus: nothing ran
            return
        failures_in_a_row = failures_in_a_row + 1 if ft.state == TrialState.FAIL else 0
        if runner.on_trial:
            runner.on_trial(ft)

    def lost(trials: list[optuna.trial.FrozenTrial]) -> set[int]:  # FAIL trials that never said why: worker died
        return {t.number for t in trials if t.state == TrialState.FAIL and "status" not in t.user_attrs}

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
        running = sum(t.state == TrialState.RUNNING and _live(t, grace) for t in trials)
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
