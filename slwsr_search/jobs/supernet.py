"""Supernet jobs (issue 35): train a weight-sharing supernet for a study's search space, crash-safe
and resumable (:func:`train_supernet_job`), and load it (:func:`load_supernet`): what ``slwsr supernet train``
does (docs/supernet.md). Scoring designs with it: :mod:`.supernet_scores`.

A supernet file is a training-state file (:mod:`..training.state`): ``spec`` is the widest path
(the supernet's extent), ``protocol`` the :class:`~..training.supernet.SupernetPlan`, ``training``
the :class:`~..training.supernet.SupernetTraining` state, and ``extra["supernet"]`` the
:class:`SupernetSetup` it was trained as (tagged :data:`SUPERNET_KIND`, so a design's checkpoint
is told apart).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..config import is_int
from ..machine import cpu_label
from ..model.cost import block_cost, count_cost
from ..model.spec import N_SLOTS, POOL_SOURCES, RES, SLOTS, ArchSpec, BlockSpec
from ..model.supernet import EXPANSIONS, SuperNet
from ..search.space import keep_mask, parse_block_choice
from ..search.study import StudyConfig
from ..sr.data import load_pairs
from ..training.state import TrainingState, load_state, save_state
from ..training.supernet import PATHS, Draw, SupernetPlan, SupernetTraining

#: The tag of ``extra["supernet"]`` in a supernet's state file.
SUPERNET_KIND = "slwsr-search/supernet-1"


def default_path(study: StudyConfig) -> Path:
    """Where a study's supernet lives unless named: ``studies/<study>.supernet.pt`` under the
    folder the command runs in (beside the study's database)."""
    return Path("studies") / f"{study.name}.supernet.pt"


@dataclass(frozen=True)
class SupernetSetup:
    """What a supernet holds and is trained on: ``study``'s space at ``scale``, paths of the widths
    ``widths`` and the block ``choices`` (the space's; inverted residuals up to ``max_expand``),
    drawn from the study's budget (``paths`` "feasible") or the whole space ("space"), trained on
    the image sources ``train``; ``slots``: the slots the space searches; ``expansions``: whether
    the inverted residuals' expansions share one weight or hold one each
    (:data:`~..model.supernet.EXPANSIONS`); ``pool_sources``: the pool sources its paths can use
    (the space's toggled ones, and the head, which a design with none toggled pools)."""

    study: str
    scale: int
    widths: tuple[int, ...]
    choices: tuple[str, ...]
    max_expand: int
    paths: str
    train: tuple[str, ...]
    slots: tuple[str, ...] = SLOTS  # the searched slots (the others hold a residual block in every design)
    expansions: str = "shared"
    pool_sources: tuple[str, ...] = POOL_SOURCES  # files before: every source
    prior: str = ""  # the space and budget the paths are drawn from (:func:`paths_digest`); files before: ""

    def __post_init__(self) -> None:
        if self.expansions not in EXPANSIONS:
            raise ValueError(f"expansions: expected one of {', '.join(EXPANSIONS)}, got {self.expansions!r}")
        if self.paths not in PATHS:
            raise ValueError(f"paths: expected one of {', '.join(PATHS)}, got {self.paths!r}")
        if not self.widths or any(not is_int(w) or w < 1 for w in self.widths):
            raise ValueError(f"widths: expected integers >= 1, got {list(self.widths)!r}")
        if not self.train:
            raise ValueError("train: no training images named")

    @property
    def max_feats(self) -> int:
        return max(self.widths)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": SUPERNET_KIND, **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "supernet") -> "SupernetSetup":
        if not isinstance(d, dict) or d.get("kind") != SUPERNET_KIND:
            raise ValueError(f"{where}: not a supernet (expected {SUPERNET_KIND!r})")
        try:
            return cls(d["study"], int(d["scale"]), tuple(d["widths"]), tuple(d["choices"]), int(d["max_expand"]),
                       d["paths"], tuple(d["train"]), tuple(d.get("slots", SLOTS)),  # files before slots: all searched
                       d.get("expansions", "shared"),  # files before separate expansions: shared
                       tuple(d.get("pool_sources", POOL_SOURCES)), str(d.get("prior", "")))
        except KeyError as e:
            raise ValueError(f"{where}: missing field {e.args[0]!r}") from None

    def build(self) -> SuperNet:
        """The supernet, refusing designs of other widths, block choices (in each slot) or pool
        sources than it trains."""
        searched = tuple((b.type, b.expand) for b in map(parse_block_choice, self.choices))
        fixed = ((RES.type, RES.expand),)  # a slot the space does not search holds a residual block
        blocks = searched + (fixed if len(self.slots) < N_SLOTS else ())
        return SuperNet(self.scale, self.max_feats, self.max_expand, self.widths, blocks, self.expansions,
                        tuple(searched if s in self.slots else fixed for s in SLOTS), self.pool_sources)

    @property
    def slot_indices(self) -> tuple[int, ...]:
        return tuple(SLOTS.index(s) for s in self.slots)


def feasible_widths(cfg: StudyConfig) -> tuple[int, ...]:
    """The widths of ``cfg``'s space at which some design meets the parameter and Multi-Adds limits
    (its cheapest design at that width does; the latency limit is not looked at)."""
    def fits(n: int) -> bool:
        c = (count_cost(cfg.space.cheapest(n, 0)), count_cost(cfg.space.cheapest(n, 1)))
        return (cfg.max_params is None or c[0].params <= cfg.max_params) and (cfg.max_macs is None or c[1].macs <= cfg.max_macs)
    return tuple(n for n in cfg.space.n_feats if fits(n))


def setup_for(cfg: StudyConfig, widths: Sequence[int] | None = None, paths: str = "feasible",
              train: Sequence[str] = ("builtin:train",), expansions: str = "shared") -> SupernetSetup:
    """The supernet of ``cfg``'s space: every width with a design inside the budget (``paths``
    "feasible"; the latency limit is not looked at) or every width (``"space"``), unless ``widths``
    names some (each must be one of the space's)."""
    space = cfg.space
    if widths is None:
        widths = feasible_widths(cfg) if paths == "feasible" else space.n_feats
        if not widths:
            raise ValueError(f"study {cfg.name!r}: no width of search space {space.name!r} has a design inside the budget")
    bad = [w for w in widths if w not in space.n_feats]
    if bad:
        raise ValueError(f"widths: {bad[0]} is not a width of search space {space.name!r} ({list(space.n_feats)})")
    blocks = [parse_block_choice(c) for c in space.block_choices]
    other = [c for c, b in zip(space.block_choices, blocks) if b.type not in ("res", "ir")]
    if other:
        raise ValueError(f"blocks.choices: {other[0]!r}: the supernet holds res and ir blocks only")
    max_expand = max((b.expand for b in blocks if b.type == "ir"), default=1)
    sources = tuple(s for s in POOL_SOURCES if s in space.pool_sources or s == "head")  # none toggled: the head
    return SupernetSetup(cfg.name, space.scale, tuple(sorted(widths)), tuple(space.block_choices), max_expand, paths,
                         tuple(str(t) for t in train), tuple(space.block_slots), expansions, sources, paths_digest(cfg))


def paths_digest(cfg: StudyConfig) -> str:
    """16 hex digits of the SHA-256 of what a path is drawn from: the study's space (its prior:
    widths, res_scale, blocks, keep, pool, encoding) and its parameter and Multi-Adds limits."""
    space = {k: v for k, v in asdict(cfg.space).items() if k not in ("name", "description")}
    blob = json.dumps({"space": space, "max_params": cfg.max_params, "max_macs": cfg.max_macs}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def budget(cfg: StudyConfig, setup: SupernetSetup) -> Callable[[ArchSpec], bool] | None:
    """Whether a path is inside the study's parameter and Multi-Adds limits (None: paths from the
    whole space)."""
    if setup.paths == "space":
        return None

    def fits(spec: ArchSpec) -> bool:
        c = count_cost(spec)
        return all(lim is None or v <= lim for lim, v in ((cfg.max_params, c.params), (cfg.max_macs, c.macs)))
    return fits


def path_draw(cfg: StudyConfig, setup: SupernetSetup, max_tries: int = 10_000) -> Draw:
    """``draw(rng)``: a design of the study's space (its prior) of one of the setup's widths, inside
    the budget when paths are "feasible" (:func:`budget`)."""
    keep = budget(cfg, setup)

    def draw(rng) -> ArchSpec:
        for _ in range(max_tries):
            spec = cfg.space.draw(rng)
            if spec.n_feats in setup.widths and (keep is None or keep(spec)):
                return spec
        raise ValueError(f"study {cfg.name!r}: no design of widths {list(setup.widths)} inside the budget "
                         f"in {max_tries:,} draws")
    return draw


def extremes(cfg: StudyConfig, setup: SupernetSetup) -> tuple[ArchSpec, ArchSpec]:
    """The sandwich rule's largest and smallest paths, both designs of the space: the widest width
    with each searched slot's choice of the most parameters and every pool source of the space; the
    narrowest with the fewest and one source; activations by the space's first keep setting."""
    sp, blocks = cfg.space, [parse_block_choice(c) for c in setup.choices]
    acts = keep_mask(sp.keep[0])

    def path(n: int, pick, pool: tuple[str, ...]) -> ArchSpec:
        b = pick(blocks, key=lambda k: block_cost(k, n, 1)[0])
        return ArchSpec(setup.scale, n, tuple(BlockSpec(b.type, b.expand, a) if s in setup.slots else BlockSpec("res", None, a)
                                              for s, a in zip(SLOTS, acts)), pool, sp.res_scale[0])
    return path(setup.max_feats, max, tuple(sp.pool_sources)), path(min(setup.widths), min, tuple(sp.pool_sources[:1]))


@dataclass(frozen=True)
class SupernetStart:
    """A training about to run: from step ``resumed_at`` (0: a new one) of ``plan.steps``;
    ``params``: the supernet's weights; ``train_images``: how many pairs it trains on."""

    setup: SupernetSetup
    plan: SupernetPlan
    out: Path
    resumed_at: int
    params: int
    train_images: int


@dataclass
class SupernetHooks:
    """What a training tells as it goes, each None or a callable: ``on_start``; ``on_step(step,
    loss)`` after each update; ``on_checkpoint(step, path)`` after each state file written."""

    on_start: Callable[[SupernetStart], None] | None = None
    on_step: Callable[[int, float], None] | None = None
    on_checkpoint: Callable[[int, Path], None] | None = None


@dataclass(frozen=True)
class SupernetTrained:
    """The training's end: ``steps_done`` of ``steps`` (fewer when stopped), seconds trained in
    this run, the mean loss of the last 100 steps, the state file."""

    out: Path
    steps_done: int
    steps: int
    seconds: float
    loss_tail: float

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.steps


def train_supernet_job(cfg: StudyConfig, setup: SupernetSetup, plan: SupernetPlan, out: str | Path,
                       hooks: SupernetHooks = SupernetHooks(), checkpoint_every: int = 100,
                       snapshots: Sequence[int] = (), should_stop: Callable[[], bool] | None = None,
                       device: str = "cpu") -> SupernetTrained:
    """Train ``setup``'s supernet under ``plan`` into the state file ``out``, continuing the
    training that file holds (refused, naming the field, when it was another setup or plan). The
    file is rewritten atomically every ``checkpoint_every`` steps, at the end and when
    ``should_stop`` says so; at each step of ``snapshots`` a copy is kept beside it
    (``<out>.step<N>.pt``); trained on ``device`` (:func:`~..training.supernet.supernet_speedups`).
    ``ValueError`` naming the file or field at fault."""
    if not is_int(checkpoint_every) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every: expected an integer >= 1, got {checkpoint_every!r}")
    bad = [k for k in snapshots if not is_int(k) or not 1 <= k <= plan.steps]
    if bad:
        raise ValueError(f"snapshots: {bad[0]!r} is not a step of this training (1..{plan.steps})")
    out = Path(out)
    training, extra, n_train = _resumed(cfg, setup, plan, out, device)
    net = training.net
    gone = [k for k in snapshots if k < training.steps_done and not snapshot_path(out, k).exists()]
    if gone:
        warnings.warn(f"{out}: continues at step {training.steps_done:,}, past snapshot step(s) {gone}: "
                      "those weights cannot be kept now", stacklevel=2)
    if hooks.on_start:
        hooks.on_start(SupernetStart(setup, plan, out, training.steps_done, sum(p.numel() for p in net.parameters()),
                                     n_train))
    t0, spent = time.perf_counter(), float(extra["train_seconds"])
    marks = sorted({*range(checkpoint_every, plan.steps, checkpoint_every), *snapshots, plan.steps})

    def save(path: Path, training_state: dict[str, Any]) -> None:
        extra["train_seconds"] = spent + time.perf_counter() - t0
        out.parent.mkdir(parents=True, exist_ok=True)
        save_state(path, TrainingState(largest_path(setup), plan.to_dict(), training.steps_done, training_state, extra))

    saved_at = training.steps_done
    if saved_at in snapshots and not snapshot_path(out, saved_at).exists():  # lost to a kill, or newly asked for: these weights
        save(snapshot_path(out, saved_at), {"model": net.state_dict()})
    for mark in (m for m in marks if m > training.steps_done):
        training.run(until=mark, on_step=hooks.on_step, should_stop=should_stop)
        if training.steps_done == mark and mark in snapshots:
            # before the state file: a kill between the two redoes these steps, and so the snapshot
            save(snapshot_path(out, mark), {"model": net.state_dict()})
        if training.steps_done > saved_at:  # once per step count: a stop right at a mark saves nothing more
            save(out, training.state_dict())
            saved_at = training.steps_done
            if hooks.on_checkpoint:
                hooks.on_checkpoint(training.steps_done, out)
        if training.steps_done < mark:  # stopped
            break
    tail = training.losses[-100:]
    return SupernetTrained(out, training.steps_done, plan.steps, time.perf_counter() - t0,
                           float(np.mean(tail)) if tail else math.nan)


def _resumed(cfg: StudyConfig, setup: SupernetSetup, plan: SupernetPlan, out: Path,
             device: str) -> tuple[SupernetTraining, dict[str, Any], int]:
    """The training of ``setup`` under ``plan`` on its data, continued from ``out`` where that file
    holds one; the state file's ``extra`` (seconds trained so far, every CPU trained on); how many
    training pairs it reads."""
    train = [p for src in setup.train for p in load_pairs(src, setup.scale, min_lr_size=plan.lr_patch, progress=False)]
    torch.manual_seed(plan.seed)
    training = SupernetTraining(setup.build(), train, plan, path_draw(cfg, setup),
                                [parse_block_choice(c) for c in setup.choices],
                                extremes(cfg, setup) if plan.sampling == "sandwich" else None, budget(cfg, setup),
                                setup.slot_indices, device)
    extra: dict[str, Any] = {"supernet": setup.to_dict(), "train_seconds": 0.0, "cpus": [], "threads": torch.get_num_threads()}
    if out.exists():
        state = _matching_state(out, setup, plan)
        training.load_state_dict(state.training)
        extra.update({k: state.extra[k] for k in ("train_seconds", "cpus", "runs_on") if k in state.extra})
    if cpu_label() not in extra["cpus"]:
        extra["cpus"] = [*extra["cpus"], cpu_label()]
    here = f"{training.dev.type}, {torch.get_num_threads()} thread(s)"  # a continuation elsewhere is not exact
    if extra.get("runs_on", [None])[-1] != here:
        extra["runs_on"] = [*extra.get("runs_on", []), here]
    return training, extra, len(train)


def snapshot_path(out: Path, step: int) -> Path:
    """Where a training into ``out`` keeps its weights at ``step``: ``<out>.step<N>.pt``."""
    return out.with_name(f"{out.stem}.step{step}.pt")


def largest_path(setup: SupernetSetup) -> ArchSpec:
    """The spec a supernet file records as its extent: the widest width, every slot an inverted
    residual of the largest expansion, every pool source."""
    return ArchSpec(setup.scale, setup.max_feats, tuple(BlockSpec("ir", setup.max_expand, True) for _ in range(N_SLOTS)),
                    POOL_SOURCES)


def _matching_state(path: Path, setup: SupernetSetup, plan: SupernetPlan) -> TrainingState:
    """The state in ``path``, refused (naming the field) when it is not a training of ``setup``
    under ``plan``."""
    state = load_state(path)
    have = SupernetSetup.from_dict(state.extra.get("supernet"), str(path))
    if state.training is None or "optimizer" not in state.training:
        raise ValueError(f"{path}: holds a supernet's weights only, no training to continue")
    if not have.prior:  # a file from before the digest: where its paths came from is not checked
        have = replace(have, prior=setup.prior)
    for name, a, b in [*((k, getattr(have, k), getattr(setup, k)) for k in asdict(setup)),
                       *((k, state.protocol.get(k), v) for k, v in plan.to_dict().items())]:
        if a != b:
            what = (f"its paths were drawn from another search space or budget than study {setup.study!r} has now "
                    f"(prior {a}, now {b})" if name == "prior" else f"holds a supernet trained with {name} {a!r}, not {b!r}")
            raise ValueError(f"{path}: {what}; name another file to train a new one")
    return state


def load_supernet(path: str | Path) -> tuple[SuperNet, SupernetSetup, TrainingState]:
    """The trained supernet in ``path`` (eval mode), its setup and the state it came from."""
    state = load_state(path)
    setup = SupernetSetup.from_dict(state.extra.get("supernet"), str(path))
    net = setup.build()
    try:
        net.load_state_dict(state.weights)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit its supernet ({str(e).splitlines()[0]})") from None
    return net.eval(), setup, state
