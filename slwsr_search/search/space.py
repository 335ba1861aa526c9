"""Search spaces: TOML data mapped onto :class:`~slwsr_search.model.spec.ArchSpec`.

The encoding is fixed-length: every trial suggests every parameter, so NSGA-II (which only
evolves parameters present in every trial) and TPE both work. This module holds the only
``suggest_*`` calls of the package (:meth:`SearchSpace.suggest`). Two encodings of the blocks
(``[blocks] encoding``):

``per-slot`` (the default)
    ``n_feats``, ``res_scale``, one ``block:<slot>`` per searchable slot (each slot picks among
    the choices on its own), ``keep``, one ``pool:<source>`` per toggled source. With five
    choices a drawn design has 1 residual block in 5 on average: all-residual layouts (the
    paper's s-LWSR16) practically never come up.
``mix``
    the block mix first: ``res_count`` (how many searchable slots hold a residual block, 0..all,
    uniform), one ``order:<slot>`` float in [0, 1] per slot (the ``res_count`` slots with the
    lowest values hold the residual blocks; ties in slot order), one ``ir:<slot>`` per slot (its
    inverted residual's expansion, where it holds one), then ``n_feats``, ``res_scale``, ``keep``
    and the pool as above. Every block mix is as likely as every other.

    In general, for the block types among the choices in the registry's order
    (:mod:`~..model.block_types`; ``res`` first, which a mix needs): ``<type>_count`` for every
    type but the last, the ``order:`` ranking giving each type its count of slots in turn (the
    last type the rest), and ``<type>:<slot>`` (its choice among the type's, where it holds one)
    for every type with a parameter.

Activation keep-ratio rule (``keep``): slots keep their activation in this priority order, and a
setting keeps the first k of them::

    F1.b1 F2.b1 F3.b1 F4.b1                 the block after each fusion 1x1
    LB1.b3 LB2.b3 LB3.b3 LB4.b3 LB5.b2      the last block of each extractor bunch   (9: "1/3")
    LB3.b1 LB4.b1 LB5.b1                                                              (12: "1/2")
    F1.b2 F2.b2 F3.b2 F4.b2 LB1.b1                                                    (17: "2/3")
    LB2.b1 LB3.b2 LB4.b2 LB1.b2 LB2.b2 F1.b3 F2.b3 F3.b3 F4.b3                        (26: "all")

so "1/2" is exactly the authors' intended half mask. "rare" keeps only the first and the last
block (LB1.b1 and F4.b3), the paper's "only the first and last layers".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..config import check_keys, list_of, read_toml
from ..model.block_types import BlockType, block_type, registered
from ..model.cost import block_cost
from ..model.spec import POOL_SOURCES, RES, SCALES, SLOTS, ArchSpec, BlockSpec
from .resources import SPACES, find_toml

KEEP_PRIORITY: tuple[str, ...] = (
    "F1.b1", "F2.b1", "F3.b1", "F4.b1",
    "LB1.b3", "LB2.b3", "LB3.b3", "LB4.b3", "LB5.b2",
    "LB3.b1", "LB4.b1", "LB5.b1",
    "F1.b2", "F2.b2", "F3.b2", "F4.b2", "LB1.b1",
    "LB2.b1", "LB3.b2", "LB4.b2", "LB1.b2", "LB2.b2", "F1.b3", "F2.b3", "F3.b3", "F4.b3",
)
#: The encodings of the blocks (module doc).
ENCODINGS: tuple[str, ...] = ("per-slot", "mix")
#: Keep-ratio setting -> how many slots (of 26) keep their activation.
KEEP_COUNTS: dict[str, int] = {"rare": 2, "1/3": 9, "1/2": 12, "2/3": 17, "all": 26}


def keep_mask(setting: str) -> tuple[bool, ...]:
    """Per-slot activation mask (slot order) for a keep-ratio setting (see the module doc)."""
    if setting == "rare":
        kept = {"LB1.b1", "F4.b3"}
    elif setting in KEEP_COUNTS:
        kept = set(KEEP_PRIORITY[:KEEP_COUNTS[setting]])
    else:
        raise ValueError(f"keep: unknown setting {setting!r}; expected one of {', '.join(KEEP_COUNTS)}")
    return tuple(slot in kept for slot in SLOTS)


def parse_block_choice(choice: str, where: str = "blocks.choices") -> BlockSpec:
    """A block type's kind (:meth:`~..model.block_types.BlockType.kind`: ``"res"``, ``"ir<t>"``, an
    inverted residual with expansion t) -> a BlockSpec (activation kept)."""
    hit = next((h for t in registered() if (h := t.parse_kind(choice)) is not None), None)
    if hit is None:
        forms = " or ".join(t.kind_form() for t in registered())
        example = next((t.kind(t.param.example) for t in registered() if t.param is not None), None)
        raise ValueError(f"{where}: unknown block choice {choice!r}; expected {forms}"
                         + (f" such as {example!r}" if example else ""))
    return BlockSpec(*hit, True)


@dataclass(frozen=True)
class SearchSpace:
    """One search space (see ``search_spaces/*.toml`` and the module doc for the encoding)."""

    name: str
    description: str
    scale: int
    n_feats: tuple[int, ...]
    res_scale: tuple[float, ...]
    block_choices: tuple[str, ...]
    block_slots: tuple[str, ...]
    keep: tuple[str, ...]
    pool_sources: tuple[str, ...]
    encoding: str = "per-slot"

    @property
    def choices_by_type(self) -> dict[BlockType, tuple[str, ...]]:
        """The block choices grouped by block type, the types in the registry's order, the choices in
        the space's: ``{res: ("res",), ir: ("ir1", "ir2", "ir4", "ir6")}``."""
        types = [parse_block_choice(c).type for c in self.block_choices]
        return {t: tuple(c for c, n in zip(self.block_choices, types) if n == t.name)
                for t in registered() if t.name in types}

    def _mix_params(self) -> tuple[list[str], list[tuple[BlockType, tuple[str, ...]]]]:
        """The ``mix`` encoding's block parameters: its ``<type>_count`` names, and the types (with
        their choices) that get a ``<type>:<slot>`` per slot."""
        groups = list(self.choices_by_type.items())
        return [f"{t.name}_count" for t, _ in groups[:-1]], [(t, c) for t, c in groups if t.param is not None]

    @property
    def param_names(self) -> list[str]:
        """Every parameter a trial suggests, in order (the same for every trial)."""
        if self.encoding == "mix":
            counts, typed = self._mix_params()
            blocks = counts + [f"order:{s}" for s in self.block_slots]
            blocks += [f"{t.name}:{s}" for t, _ in typed for s in self.block_slots]
        else:
            blocks = [f"block:{s}" for s in self.block_slots]
        return ["n_feats", "res_scale"] + blocks + ["keep"] + [f"pool:{s}" for s in self.pool_sources]

    # ----- the trial -> spec mapping -----------------------------------------------------------

    def suggest(self, trial) -> ArchSpec:
        """Suggest every parameter on an Optuna ``trial`` and return the spec they encode."""
        params: dict[str, Any] = {
            "n_feats": trial.suggest_categorical("n_feats", list(self.n_feats)),
            "res_scale": trial.suggest_categorical("res_scale", list(self.res_scale)),
        }
        if self.encoding == "mix":
            counts, typed = self._mix_params()
            for name in counts:
                params[name] = trial.suggest_int(name, 0, len(self.block_slots))
            for slot in self.block_slots:
                params[f"order:{slot}"] = trial.suggest_float(f"order:{slot}", 0.0, 1.0)
            for t, choices in typed:
                for slot in self.block_slots:
                    params[f"{t.name}:{slot}"] = trial.suggest_categorical(f"{t.name}:{slot}", list(choices))
        else:
            for slot in self.block_slots:
                params[f"block:{slot}"] = trial.suggest_categorical(f"block:{slot}", list(self.block_choices))
        params["keep"] = trial.suggest_categorical("keep", list(self.keep))
        for src in self.pool_sources:
            params[f"pool:{src}"] = trial.suggest_categorical(f"pool:{src}", [False, True])
        return self.decode(params)

    def cheapest(self, n: int, part: int) -> ArchSpec:
        """The spec of width ``n`` with the fewest parameters (``part`` 0) or Multi-Adds (1): each
        searched slot's cheapest choice, a one-source pool (each part's cost grows with ``n``)."""
        # block_cost at one LR pixel ranks the choices by parameters (part 0) or MACs (part 1)
        blocks = [min((parse_block_choice(c) for c in (self.block_choices if slot in self.block_slots else ("res",))),
                      key=lambda b: block_cost(b, n, 1)[part]) for slot in SLOTS]
        return ArchSpec(self.scale, n, tuple(blocks), ("head",))

    def draw(self, rng: random.Random) -> ArchSpec:
        """A design drawn with ``rng`` from the space's prior: each parameter :meth:`suggest` asks
        for drawn uniformly over its choices or range, as Optuna's RandomSampler draws it, without
        a study (a supernet's paths: :mod:`slwsr_search.training.supernet`)."""
        return self.suggest(_Draws(rng))

    def decode(self, params: dict[str, Any]) -> ArchSpec:
        """The spec a full parameter dict encodes. An empty pool is repaired to ``head`` alone
        (so every point of the space is a valid spec)."""
        missing = [n for n in self.param_names if n not in params]
        if missing:
            raise ValueError(f"params: missing {missing[0]!r}")
        chosen = {slot: parse_block_choice(c) for slot, c in self._block_choices(params).items()}
        mask = keep_mask(params["keep"])
        blocks = tuple(BlockSpec(chosen.get(slot, RES).type, chosen.get(slot, RES).expand, act)
                       for slot, act in zip(SLOTS, mask))
        pool = [src for src in self.pool_sources if params[f"pool:{src}"]] or ["head"]
        return ArchSpec(scale=self.scale, n_feats=int(params["n_feats"]), blocks=blocks, pool=tuple(pool),
                        res_scale=float(params["res_scale"]))

    def _block_choices(self, params: dict[str, Any]) -> dict[str, str]:
        """Each searchable slot's block choice (``res`` / ``ir<t>``) from a parameter dict."""
        if self.encoding != "mix":
            return {slot: params[f"block:{slot}"] for slot in self.block_slots}
        slots = self.block_slots
        ranked = [slots[i] for i in sorted(range(len(slots)), key=lambda i: (params[f"order:{slots[i]}"], i))]
        types = list(self.choices_by_type)
        chosen: dict[str, str] = {}
        start = 0
        for t in types:  # each type its count of slots in ranked order, the last type the rest
            end = start + int(params[f"{t.name}_count"]) if t is not types[-1] else len(slots)
            for slot in ranked[start:end]:
                chosen[slot] = params[f"{t.name}:{slot}"] if t.param is not None else t.kind(None)
            start = end
        return {slot: chosen[slot] for slot in slots}

    def _encode_blocks(self, choices: dict[str, str]) -> dict[str, Any]:
        """The block parameters of this encoding for each searchable slot's choice."""
        if self.encoding != "mix":
            return {f"block:{slot}": c for slot, c in choices.items()}
        groups = self.choices_by_type
        types = list(groups)
        of = {slot: block_type(parse_block_choice(c).type) for slot, c in choices.items()}
        out: dict[str, Any] = {f"{t.name}_count": sum(o is t for o in of.values()) for t in types[:-1]}
        # each type's slots ranked together, in the types' order: 0.0 for the first, 1.0 for the last
        out.update({f"order:{slot}": types.index(of[slot]) / (len(types) - 1) for slot in choices})
        for t, _ in self._mix_params()[1]:  # a slot of another type holds the type's first choice, unread
            out.update({f"{t.name}:{slot}": c if of[slot] is t else groups[t][0] for slot, c in choices.items()})
        return out

    def encode(self, spec: ArchSpec, label: str = "spec") -> dict[str, Any]:
        """The parameters that :meth:`decode` maps to ``spec`` (to enqueue a baseline);
        ``ValueError`` naming what does not fit when the spec lies outside the space."""
        where = f"{label} is outside search space {self.name!r}"
        if spec.scale != self.scale:
            raise ValueError(f"{where}: scale x{spec.scale} (the space is x{self.scale})")
        if spec.n_feats not in self.n_feats:
            raise ValueError(f"{where}: n_feats {spec.n_feats} not in {list(self.n_feats)}")
        if spec.res_scale not in self.res_scale:
            raise ValueError(f"{where}: res_scale {spec.res_scale:g} not in {list(self.res_scale)}")
        params: dict[str, Any] = {"n_feats": spec.n_feats, "res_scale": spec.res_scale}
        choices = {}
        for slot in SLOTS:
            choice = spec.block(slot).kind
            if slot in self.block_slots:
                if choice not in self.block_choices:
                    raise ValueError(f"{where}: block {slot} {choice!r} not in {list(self.block_choices)}")
                choices[slot] = choice
            elif choice != RES.kind:
                raise ValueError(f"{where}: block {slot} is {choice!r} but that slot is not searched")
        params.update(self._encode_blocks(choices))
        mask = tuple(b.act for b in spec.blocks)
        matches = [k for k in self.keep if keep_mask(k) == mask]
        if not matches:
            raise ValueError(f"{where}: its activation mask is none of the keep settings {list(self.keep)}")
        params["keep"] = matches[0]
        extra = [s for s in spec.pool if s not in self.pool_sources]
        if extra:
            raise ValueError(f"{where}: pool source {extra[0]} is not a toggled source")
        for src in self.pool_sources:
            params[f"pool:{src}"] = src in spec.pool
        return params

    # ----- loading -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any], where: str) -> "SearchSpace":
        check_keys(data, where, required=("n_feats", "blocks", "activations", "pool"),
                   optional=("description", "scale", "res_scale"))
        scale = data.get("scale", 4)
        if scale not in SCALES or isinstance(scale, bool):
            raise ValueError(f"{where}: scale: unsupported value {scale!r}; supported: 2, 3, 4")
        n_feats = list_of(data["n_feats"], int, f"{where}: n_feats")
        if any(n <= 0 for n in n_feats):
            raise ValueError(f"{where}: n_feats: expected positive integers, got {n_feats}")
        res_scale = [float(v) for v in list_of(data.get("res_scale", [1.0]), (int, float), f"{where}: res_scale")]
        if any(not v > 0 for v in res_scale):
            raise ValueError(f"{where}: res_scale: expected numbers > 0, got {res_scale}")
        blocks = check_keys(data["blocks"], f"{where}: [blocks]", required=("choices",), optional=("slots", "encoding"))
        choices = list_of(blocks["choices"], str, f"{where}: blocks.choices")
        for c in choices:
            parse_block_choice(c, f"{where}: blocks.choices")
        encoding = blocks.get("encoding", "per-slot")
        if encoding not in ENCODINGS:
            raise ValueError(f"{where}: blocks.encoding: unknown encoding {encoding!r}; expected {' or '.join(ENCODINGS)}")
        if encoding == "mix" and (RES.kind not in choices or len(choices) < 2):
            others = " or ".join(t.noun for t in registered() if t.name != RES.type)
            raise ValueError(f"{where}: blocks.encoding: \"mix\" needs \"{RES.kind}\" and at least one {others} "
                             f"among blocks.choices, got {choices}")
        slots = blocks.get("slots", "all")
        slots = list(SLOTS) if slots == "all" else list_of(slots, str, f"{where}: blocks.slots", non_empty=False)
        for s in slots:
            if s not in SLOTS:
                raise ValueError(f"{where}: blocks.slots: unknown slot {s!r}; expected LB1.b1 .. F4.b3 or \"all\"")
        acts = check_keys(data["activations"], f"{where}: [activations]", required=("keep",))
        keep = list_of(acts["keep"], str, f"{where}: activations.keep")
        for k in keep:
            if k not in KEEP_COUNTS:
                raise ValueError(f"{where}: activations.keep: unknown setting {k!r}; expected {', '.join(KEEP_COUNTS)}")
        pool = check_keys(data["pool"], f"{where}: [pool]", required=("sources",))
        sources = pool["sources"]
        sources = list(POOL_SOURCES) if sources == "all" else list_of(sources, str, f"{where}: pool.sources")
        for s in sources:
            if s not in POOL_SOURCES:
                raise ValueError(f"{where}: pool.sources: unknown source {s!r}; expected head, LB1.b1 .. LB5.b2 or \"all\"")
        dup = next((v for v in (n_feats, choices, slots, keep, sources) if len(set(v)) != len(v)), None)
        if dup is not None:
            raise ValueError(f"{where}: a list repeats a value: {dup}")
        return cls(name=name, description=str(data.get("description", "")), scale=scale, n_feats=tuple(n_feats),
                   res_scale=tuple(res_scale), block_choices=tuple(choices),
                   block_slots=tuple(s for s in SLOTS if s in slots), keep=tuple(keep),
                   pool_sources=tuple(s for s in POOL_SOURCES if s in sources), encoding=encoding)

    @classmethod
    def load(cls, name_or_path: str | Path, relative_to: Path | None = None) -> "SearchSpace":
        """A built-in space by name (``search_spaces/<name>.toml``) or a TOML path (relative paths
        from ``relative_to`` when given); errors name the file."""
        p = find_toml(name_or_path, SPACES, relative_to)
        return cls.from_dict(p.stem, read_toml(p), str(p))


class _Draws:
    """The trial :meth:`SearchSpace.suggest` asks, answered by uniform draws of a ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def suggest_categorical(self, name: str, choices: list) -> Any:
        return self.rng.choice(choices)

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def suggest_float(self, name: str, low: float, high: float) -> float:
        return self.rng.uniform(low, high)


def draw_specs(space: SearchSpace, n: int, seed: int, keep: Callable[[ArchSpec], bool] | None = None,
               seen: Iterable[str] = (), max_tries: int = 10_000, distinct: bool = True) -> list[ArchSpec]:
    """Up to ``n`` distinct specs drawn from ``space`` by Optuna's seeded random sampler (the same
    arguments give the same specs): each draw is kept when ``keep`` accepts it (default: all) and
    its hash is neither in ``seen`` nor drawn before (``distinct=False``: repeats kept, the
    sampler's prior as it is). Stops after ``max_tries`` draws, so fewer than ``n`` come back when
    the space holds too few: the caller says what it needed. The one seeded draw of the package
    (the fidelity audit's designs, the latency table's validation, the block-mix benchmark)."""
    import optuna

    hashes = set(seen)
    out: list[ArchSpec] = []
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(max_tries):
        if len(out) >= n:
            break
        trial = study.ask()
        spec = space.suggest(trial)
        study.tell(trial, 0.0)
        if (not distinct or spec.hash not in hashes) and (keep is None or keep(spec)):
            hashes.add(spec.hash)
            out.append(spec)
    return out
