"""Studies as data (``studies/*.toml``) and the Optuna multi-objective search over a space.

A trial is priced before anything is built: over budget, it is recorded as infeasible (Optuna
constraint > 0) and not trained. A spec already trained under the same protocol and data is not
trained again; its result is reused. The paper's designs that fit the budget are enqueued first.
Everything a report needs is stored as trial user attrs.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
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
                             "baselines", "storage"))
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
        return cls(name=p.stem, path=w, description=str(data.get("description", "")), space=space,
                   objectives=objectives, max_params=limits["max_params"], max_macs=limits["max_macs"],
                   protocol=protocol, cpu_protocol=cpu_protocol, train=tuple(train_src), val=tuple(val_src),
                   sampler=sampler, n_trials=n_trials, timeout=float(timeout) if timeout else None, seed=seed,
                   baselines=tuple(baselines), storage=storage)

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


def make_sampler(cfg: StudyConfig, seed: int) -> optuna.samplers.BaseSampler:
    """The study's sampler, named and seeded explicitly (Optuna 5 changed the default)."""
    s = cfg.sampler
    if s["name"] == "NSGAIISampler":
        return optuna.samplers.NSGAIISampler(population_size=s.get("population_size", 8), seed=seed)
    if s["name"] == "TPESampler":
        return optuna.samplers.TPESampler(n_startup_trials=s.get("n_startup_trials", 8), seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


# ----- running ---------------------------------------------------------------------------------


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

    @property
    def key(self) -> str:
        return protocol_key(self.protocol, self.data.train_source, self.data.val_source, self.data.scale)

    def objective(self, trial: optuna.Trial) -> tuple[float, ...]:
        spec = self.cfg.space.suggest(trial)
        cost = count_cost(spec)
        attrs = {"arch": spec.arch, "spec": spec.to_json(compact=True), "hash": spec.hash, "params": cost.params,
                 "macs": cost.macs, "protocol_key": self.key}
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        violations = self.cfg.violations(cost.params, cost.macs)
        for k, v in violations.items():
            trial.set_constraint(k, v)
        if any(v > 0 for v in violations.values()):
            # Over budget: recorded, never built or trained. PSNR/SSIM objectives get 0 as a
            # placeholder; constrained samplers rank infeasible trials by violation, not values.
            trial.set_user_attr("status", "infeasible")
            trial.set_user_attr("feasible", False)
            return self._values(trial, 0.0, 0.0, cost.params, cost.macs)
        trial.set_user_attr("feasible", True)
        previous = self._previous(trial, spec.hash)
        if previous is not None:
            trial.set_user_attr("duplicate_of", previous.number)
            for k in ("psnr", "ssim", "train_seconds", "steps_per_s", "device", "status", "reason"):
                if k in previous.user_attrs:
                    trial.set_user_attr(k, previous.user_attrs[k])
            if previous.state == TrialState.FAIL:
                raise TrainingFailed(f"duplicate of failed trial {previous.number}: {previous.user_attrs.get('reason')}")
            return self._values(trial, previous.user_attrs["psnr"], previous.user_attrs["ssim"], cost.params, cost.macs)
        res = train(spec, self.data, self.protocol, self.device, self.speedups, progress=self.progress)
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

    def _previous(self, trial: optuna.Trial, spec_hash: str) -> optuna.trial.FrozenTrial | None:
        """The earliest finished trial that trained this spec under this protocol and data."""
        for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
            a = t.user_attrs
            if (a.get("hash") == spec_hash and a.get("protocol_key") == self.key and "duplicate_of" not in a
                    and a.get("status") in ("ok", "nonfinite", "oom")):
                return t
        return None


def make_storage(url: str) -> optuna.storages.BaseStorage | str:
    """The Optuna storage for ``url``. SQLite files get write-ahead logging and ``synchronous=NORMAL``:
    a commit no longer waits for a full fsync (an over-budget trial is priced and recorded in
    milliseconds instead of ~0.3 s), and a crash of the process loses nothing committed."""
    if not url.startswith("sqlite:///"):
        return url
    from sqlalchemy import event

    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})

    @event.listens_for(storage.engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    storage.engine.dispose()  # reconnect, so every pooled connection gets the pragmas
    return storage


def open_study(cfg: StudyConfig, storage: str, seed: int, create: bool = True) -> optuna.Study:
    """Create or load the study in ``storage``; a storage that can't be reached is a one-line ``ValueError``."""
    url = mask_url(storage)
    if storage.startswith("sqlite:///"):
        folder = Path(storage[len("sqlite:///"):]).resolve().parent
        if not folder.is_dir():
            raise ValueError(f"storage {url}: folder {folder} does not exist")
    try:
        study = optuna.create_study(storage=make_storage(storage), study_name=cfg.name, directions=cfg.directions,
                                    sampler=make_sampler(cfg, seed), load_if_exists=True)
    except Exception as e:  # SQLAlchemy / driver errors: unreachable server, bad URL, missing driver
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"storage {url}: cannot open ({type(e).__name__}: {mask_url(first)})") from None
    if list(study.directions) != [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else optuna.study.StudyDirection.MINIMIZE
                                  for d in cfg.directions]:
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
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"storage {url}: cannot open ({type(e).__name__}: {mask_url(first)})") from None


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
              max_failures: int | None = None) -> None:
    """Run trials until the study holds ``n_trials`` COMPLETE trials, ``timeout`` seconds pass, or
    ``max_failures`` trainings fail in a row (default ``n_trials``)."""
    start = time.monotonic()
    limit_failures = max_failures if max_failures is not None else n_trials
    failures_in_a_row = 0

    def callback(st: optuna.Study, ft: optuna.trial.FrozenTrial) -> None:
        nonlocal failures_in_a_row
        failures_in_a_row = failures_in_a_row + 1 if ft.state == TrialState.FAIL else 0
        if runner.on_trial:
            runner.on_trial(ft)
        if failures_in_a_row >= limit_failures:
            st.stop()

    stop_at_complete = optuna.study.MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))
    while True:
        done = count_states(study).get("COMPLETE", 0)
        left = None if timeout is None else timeout - (time.monotonic() - start)
        if done >= n_trials or (left is not None and left <= 0) or failures_in_a_row >= limit_failures:
            return
        study.optimize(runner.objective, n_trials=n_trials - done, timeout=left, catch=(TrainingFailed,),
                       callbacks=[callback, stop_at_complete], gc_after_trial=False, show_progress_bar=False)
