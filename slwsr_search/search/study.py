"""Studies as data (``studies/*.toml``): what to search, the budget, the protocols, the data, the
sampler, the trial count and the storage; with the seeds and the protocol key derived from them.

A trial is priced before anything is built (:meth:`StudyConfig.violations`); a study whose space
cannot meet its budget is refused before any training (:meth:`StudyConfig.check_space_fits`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import optuna

from ..config import check_keys, is_int, is_number, list_of, read_toml
from ..model.cost import count_cost
from ..deploy.int8_settings import Int8Settings
from ..model.latency_table import LatencyTable, block_key, predict_latency, skeleton_key
from ..model.presets import PRESETS
from ..model.spec import SLOTS, ArchSpec
from ..training.protocol import Protocol
from .objectives import QUALITY, Objective, get_objectives
from .resources import STUDIES, default_storage, find_toml
from .space import SearchSpace, parse_block_choice
from .study_tables import EvaluatorSettings, FaultTolerance, Fidelity, LatencySettings

SAMPLERS = ("NSGAIISampler", "TPESampler", "RandomSampler")


@dataclass(frozen=True)
class Price:
    """What a spec costs before training: ``params``, ``macs`` (at 1280x720 output) and, for a
    study that uses latency, ``latency_ms`` predicted from its table (else None)."""

    params: int
    macs: int
    latency_ms: float | None = None


def trial_seed(study_seed: int, number: int) -> int:
    """The training seed of trial ``number``: a function of the study seed and the trial number
    only (NumPy's ``SeedSequence`` mixes them), so a result never depends on which worker ran it.
    A retried trial uses the seed of the trial it retries."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0] % 2**31)


def top_seeds(study_seed: int, number: int, n: int) -> list[int]:
    """The ``n`` training seeds of trial ``number`` at the top rung: its :func:`trial_seed` first
    (the training the rungs continued), then further seeds mixed from the same numbers."""
    extra = [int(np.random.SeedSequence([study_seed, number, j]).generate_state(1)[0] % 2**31) for j in range(1, n)]
    return [trial_seed(study_seed, number)] + extra


def budget_line(max_params: int | None, max_macs: int | None, max_latency_ms: float | None, le: str = "<=",
                max_int8_drop_db: float | None = None) -> str:
    """A study's limits for people, e.g. ``params <= 150,000, latency <= 40 ms`` (``none`` without limits);
    ``le``: the sign (``&le;`` in HTML). The one wording of a budget: the run's header and every report use it."""
    limits = [f"{name} {le} {value:,}" for name, value in (("params", max_params), ("macs", max_macs)) if value is not None]
    limits += [f"latency {le} {max_latency_ms:g} ms"] if max_latency_ms is not None else []
    limits += [f"dB lost to int8 {le} {max_int8_drop_db:g}"] if max_int8_drop_db is not None else []
    return ", ".join(limits) or "none"


def _limits(table: Any, w: str) -> dict[str, Any]:
    """A study's ``[constraints]``: ``max_params``, ``max_macs`` (positive integers), ``max_latency_ms``
    (ms > 0), ``max_int8_drop_db`` (dB >= 0 a trained design may lose to int8); None when not given."""
    cons = check_keys(table, f"{w}: [constraints]", optional=("max_params", "max_macs", "max_latency_ms", "max_int8_drop_db"))
    limits: dict[str, Any] = {}
    for key in ("max_params", "max_macs"):
        v = cons.get(key)
        if v is not None and (not is_int(v) or v <= 0):
            raise ValueError(f"{w}: constraints.{key}: expected a positive integer, got {v!r}")
        limits[key] = v
    max_ms = cons.get("max_latency_ms")
    if max_ms is not None and (not is_number(max_ms) or not max_ms > 0):
        raise ValueError(f"{w}: constraints.max_latency_ms: expected milliseconds > 0, got {max_ms!r}")
    limits["max_latency_ms"] = None if max_ms is None else float(max_ms)
    drop = cons.get("max_int8_drop_db")
    if drop is not None and (not is_number(drop) or drop < 0):
        raise ValueError(f"{w}: constraints.max_int8_drop_db: expected dB >= 0, got {drop!r}")
    limits["max_int8_drop_db"] = None if drop is None else float(drop)
    return limits


def _protocols(data: dict[str, Any], w: str) -> dict[str, Any]:
    """A study's ``[protocol]``, ``[cpu_protocol]`` and ``[reference_protocol]`` tables."""
    def table(key: str) -> Protocol | None:
        return Protocol.from_dict(data[key], f"{w}: [{key}]") if key in data else None

    ladder = list_of(data.get("reference_ladder", []), int, f"{w}: reference_ladder", non_empty=False)
    if any(not is_int(s) or s < 1 for s in ladder) or ladder != sorted(set(ladder)):
        raise ValueError(f"{w}: reference_ladder: expected ascending steps >= 1, got {ladder!r}")
    return {"protocol": table("protocol"), "cpu_protocol": table("cpu_protocol"),
            "reference_protocol": table("reference_protocol"), "reference_ladder": tuple(ladder)}


def _run_settings(data: dict[str, Any], w: str) -> dict[str, Any]:
    """A study's ``[sampler]``, ``n_trials``, ``timeout``, ``seed`` and ``baselines``, checked."""
    sampler = dict(data.get("sampler", {"name": "NSGAIISampler"}))
    check_keys(sampler, f"{w}: [sampler]", required=("name",), optional=("population_size", "n_startup_trials"))
    if sampler["name"] not in SAMPLERS:
        raise ValueError(f"{w}: sampler.name: unknown sampler {sampler['name']!r}; expected {', '.join(SAMPLERS)}")
    n_trials = data["n_trials"]
    if not is_int(n_trials) or n_trials < 1:
        raise ValueError(f"{w}: n_trials: expected an integer >= 1, got {n_trials!r}")
    timeout = data.get("timeout")
    if timeout is not None and (not is_number(timeout) or timeout <= 0):
        raise ValueError(f"{w}: timeout: expected seconds > 0, got {timeout!r}")
    seed = data.get("seed", 0)
    if not is_int(seed) or seed < 0:
        raise ValueError(f"{w}: seed: expected an integer >= 0, got {seed!r}")
    baselines = list_of(data.get("baselines", []), str, f"{w}: baselines", non_empty=False)
    for b in baselines:
        if b not in PRESETS:
            raise ValueError(f"{w}: baselines: unknown preset {b!r}; known: {', '.join(PRESETS)}")
    return {"sampler": sampler, "n_trials": n_trials, "timeout": float(timeout) if timeout else None, "seed": seed,
            "baselines": tuple(baselines)}


@dataclass(frozen=True)
class StudyConfig:
    """One study (``studies/<name>.toml``, every key in ``docs/search.md``): what to search, under
    which budget, how to train, where it is stored."""

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
    reference_protocol: Protocol | None = None  # the fidelity audit's reference (default: K x the screening steps)
    reference_ladder: tuple[int, ...] = ()  # steps the reference is scored at on the way (none: at its end only)
    fidelity: Fidelity = Fidelity()  # multi-fidelity rungs and seeds at the top (default: one rung, one seed)
    max_latency_ms: float | None = None  # [constraints]: predicted time per image (needs a latency table)
    latency: LatencySettings = LatencySettings()
    max_int8_drop_db: float | None = None  # [constraints]: dB a trained design may lose to int8 (scored after training)
    int8: Int8Settings = Int8Settings()  # [int8]: how a trial's int8 graph is calibrated
    evaluator: EvaluatorSettings = EvaluatorSettings()  # [evaluator]: brief training from scratch, or a supernet

    @property
    def needs_int8(self) -> bool:
        """Whether a trained trial is quantized and scored in int8 (an objective needing it, or a limit)."""
        return any(o.needs_int8 for o in self.objective_table) or self.max_int8_drop_db is not None

    def budget_line(self, le: str = "<=") -> str:
        """This study's limits for people (:func:`budget_line`)."""
        return budget_line(self.max_params, self.max_macs, self.max_latency_ms, le, self.max_int8_drop_db)

    @property
    def needs_latency(self) -> bool:
        """Whether pricing a spec needs a latency table (a ``latency`` objective or limit)."""
        return "latency" in self.objectives or self.max_latency_ms is not None

    @property
    def objective_table(self) -> tuple[Objective, ...]:
        """The study's objectives, from :data:`~slwsr_search.search.objectives.OBJECTIVES`."""
        return get_objectives(self.objectives)

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objective_table]

    @property
    def metric_names(self) -> list[str]:
        return [o.metric_name for o in self.objective_table]

    def protocol_for(self, device_type: str) -> Protocol:
        """The full protocol on a GPU; the lighter ``[cpu_protocol]`` (when given) on a CPU."""
        return self.cpu_protocol if (device_type == "cpu" and self.cpu_protocol is not None) else self.protocol

    def reference_for(self, screening: Protocol, factor: int | None = None) -> Protocol:
        """The fidelity audit's reference: the screening protocol with ``factor`` times the steps
        when a factor is given, else the study's ``[reference_protocol]``, else 10 times the steps."""
        if factor is None:
            if self.reference_protocol is not None:
                return self.reference_protocol
            factor = 10
        if not is_int(factor) or factor < 1:
            raise ValueError(f"--factor: expected an integer >= 1, got {factor!r}")
        return dataclasses.replace(screening, steps=screening.steps * factor)

    @classmethod
    def load(cls, name_or_path: str | Path) -> "StudyConfig":
        """A built-in study by name (``studies/<name>.toml``) or a TOML path; errors name the file and
        the key. A search space given as a relative path is read from the study file's folder."""
        p = find_toml(name_or_path, STUDIES)
        data = read_toml(p)
        w = str(p)
        check_keys(data, w, required=("search_space", "n_trials", "protocol", "constraints"),
                   optional=("description", "objectives", "cpu_protocol", "data", "sampler", "timeout", "seed",
                             "baselines", "storage", "fault_tolerance", "reference_protocol", "reference_ladder",
                             "fidelity", "latency", "int8", "evaluator"))
        try:
            space = SearchSpace.load(data["search_space"], relative_to=p.parent)
        except ValueError as e:
            raise ValueError(f"{w}: search_space: {e}") from None
        objectives = tuple(list_of(data.get("objectives", ["psnr", "params", "macs"]), str, f"{w}: objectives"))
        get_objectives(objectives, f"{w}: objectives")
        limits = _limits(data["constraints"], w)
        fidelity = Fidelity.from_dict(data.get("fidelity", {}), f"{w}: [fidelity]")
        top_only = [o.name for o in get_objectives(objectives) if o.kind == QUALITY and o.rung_field is None]
        if top_only and fidelity.multi:
            raise ValueError(f"{w}: objectives: {top_only[0]} is scored at the top rung only, so a multi-fidelity "
                             "study could not promote by it; use [fidelity] rungs = [1]")
        d = check_keys(data.get("data", {}), f"{w}: [data]", optional=("train", "val"))
        train_src = list_of(d.get("train", ["builtin:train"]), str, f"{w}: data.train")
        val_src = list_of(d.get("val", ["builtin:val"]), str, f"{w}: data.val")
        storage = data.get("storage") or default_storage(p.stem)
        if not isinstance(storage, str):
            raise ValueError(f"{w}: storage: expected a URL string, got {storage!r}")
        cfg = cls(name=p.stem, path=w, description=str(data.get("description", "")), space=space,
                  objectives=objectives, train=tuple(train_src), val=tuple(val_src), storage=storage,
                  **limits, **_protocols(data, w), **_run_settings(data, w),
                  latency=LatencySettings.from_dict(data.get("latency", {}), f"{w}: [latency]", p.parent),
                  fault_tolerance=FaultTolerance.from_dict(data.get("fault_tolerance", {}), f"{w}: [fault_tolerance]"),
                  fidelity=fidelity, int8=Int8Settings.from_dict(data.get("int8", {}), f"{w}: [int8]"),
                  evaluator=EvaluatorSettings.from_dict(data.get("evaluator", {}), f"{w}: [evaluator]", p.parent))
        cfg.evaluator.check([o.name for o in cfg.objective_table if o.kind == QUALITY], fidelity.multi, cfg.needs_int8, w)
        return cfg

    # ----- budget ----------------------------------------------------------------------------------

    def price(self, spec: ArchSpec, table: LatencyTable | None = None) -> Price:
        """``spec``'s cost before training; its latency from ``table`` when the study uses latency
        (``ValueError`` when it does and no table is given)."""
        cost = count_cost(spec)
        latency = None
        if self.needs_latency:
            if table is None:
                raise ValueError(f"{self.path}: pricing a latency needs this machine's latency table "
                                 "(python -m slwsr_search.latency calibrate)")
            latency = round(predict_latency(spec, table).ms, 3)
        return Price(cost.params, cost.macs, latency)

    def violations(self, price: Price) -> dict[str, float]:
        """Optuna constraint values (feasible when all <= 0): how far over each limit a price is."""
        out = {}
        if self.max_params is not None:
            out["params"] = float(price.params - self.max_params)
        if self.max_macs is not None:
            out["macs"] = float(price.macs - self.max_macs)
        if self.max_latency_ms is not None:
            out["latency"] = float(price.latency_ms - self.max_latency_ms)
        return out

    def fits(self, price: Price) -> bool:
        """Whether a price meets every limit of the budget (no violation above 0)."""
        return not any(v > 0 for v in self.violations(price).values())

    def check_space_fits(self, table: LatencyTable | None = None) -> None:
        """``ValueError`` before any training if no spec of the space can meet the budget.

        Cost is a sum over parts, each growing with ``n_feats``: the cheapest spec takes the
        smallest width, the cheapest block choice in every searched slot and a one-source pool.
        The latency limit (with ``table``): per width, the quickest block of each slot and a
        one-source pool, the quickest width.
        """
        sp = self.space
        if self.max_latency_ms is not None and table is not None:
            # activations follow the keep-ratio: the quicker state of each slot bounds it from below
            best = min(table.ms(skeleton_key(n, 1)) + sum(
                min(table.ms(block_key(dataclasses.replace(parse_block_choice(c), act=a), n))
                    for c in (sp.block_choices if slot in sp.block_slots else ("res",)) for a in (True, False))
                for slot in SLOTS) for n in sp.n_feats)
            if best > self.max_latency_ms:
                raise ValueError(f"{self.path}: nothing in search space {sp.name!r} fits the budget: the quickest spec "
                                 f"takes {best:.1f} ms by the latency table, over the limit of {self.max_latency_ms:g} ms")
        n = min(sp.n_feats)
        for what, limit, part in (("parameters", self.max_params, 0), ("Multi-Adds", self.max_macs, 1)):
            if limit is None:
                continue
            cheapest = sp.cheapest(n, part)
            cost = count_cost(cheapest)
            value = cost.macs if part else cost.params
            if value > limit:
                raise ValueError(f"{self.path}: nothing in search space {sp.name!r} fits the budget: the cheapest spec "
                                 f"({cheapest.arch}) has {value:,} {what}, over the limit of {limit:,}")


def screening_record(protocol: Protocol, fidelity: Fidelity = Fidelity()) -> dict[str, Any]:
    """A study's screening as plain data, as a study and an audit of it remember it: the protocol,
    with the ``fidelity`` table when the study has rungs or several seeds at the top."""
    return {**protocol.to_dict(), **fidelity.settings()}


def protocol_key(protocol: Protocol, train: Sequence[str], val: Sequence[str], scale: int,
                 fidelity: Fidelity = Fidelity(), int8: Int8Settings | None = None, more: dict | None = None) -> str:
    """Identifies 'the same protocol and data' (protocol, data sources, scale, a multi-fidelity
    study's rungs and top seeds, an int8-scoring study's ``int8`` calibration, ``more``: a
    supernet-scored study's supernet): equal keys mean a spec's result can be reused, and a study
    refuses to resume under another key."""
    extra = {**fidelity.settings(), **({"int8": int8.to_dict()} if int8 is not None else {}), **(more or {})}
    return settings_key(protocol.to_dict(), " + ".join(map(str, train)), " + ".join(map(str, val)), scale, extra)


def settings_key(protocol: dict, train: str, val: str, scale: int, extra: dict | None = None) -> str:
    """16 hex digits of the SHA-256 of a protocol (as plain data), the data sources and the scale
    (and ``extra`` settings, when given): the hash behind :func:`protocol_key` and the fidelity
    audit's role keys."""
    blob = json.dumps({"protocol": protocol, "train": train, "val": val, "scale": scale, **(extra or {})},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def protocol_desc(protocol: Protocol, train: Sequence[str], val: Sequence[str], fidelity: Fidelity = Fidelity(),
                  int8: Int8Settings | None = None) -> str:
    """The protocol and data in one line, for people (reports, errors); ``int8``: an int8-scoring study's calibration."""
    rungs = (f"; rungs at {', '.join(str(r * protocol.steps) for r in fidelity.rungs)} steps (best 1/"
             f"{fidelity.reduction} go on), {fidelity.seeds_at_top} seed(s) at the top") if fidelity.multi else ""
    return (f"{protocol.steps} steps x {protocol.batch_size} x {protocol.lr_patch}px, lr {protocol.lr:g} "
            f"{protocol.schedule}, seed {protocol.seed} (+ trial number){rungs}; train {' + '.join(map(str, train))}; "
            f"val {' + '.join(map(str, val))}"
            + (f"; int8 {int8.method} on {int8.patches} patches of {int8.patch} px" if int8 is not None else ""))


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
