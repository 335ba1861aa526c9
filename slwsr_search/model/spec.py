"""The architecture spec: one s-LWSR variant as plain, validated, hashable data.

An :class:`ArchSpec` fully describes a network; :func:`slwsr_search.model.network.build_model`
turns it into a module and :func:`slwsr_search.model.cost.count_cost` prices it. Nothing here
imports torch or optuna.

Topology vocabulary (see ``docs/network.md``):

* nine bunches of residual-block slots: the extractor ``LB1..LB5`` (3, 3, 3, 3, 2 slots)
  and the fusion ``F1..F4`` (3 slots each), 26 slots in all, named ``LB1.b1`` ... ``F4.b3``;
* each slot holds a :class:`BlockSpec`: one of the block types declared in
  :mod:`~.block_types` (the paper's residual block ``res``, a MobileNetV2 inverted residual ``ir``
  with an integer expansion ratio), with its activation kept or removed;
* the information pool concatenates any non-empty subset of ``head`` and the 14 extractor
  block outputs (``LB1.b1`` ... ``LB5.b2``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..config import is_number
from .block_types import block_type, by_letter, find, letters, names, param_keys, param_owners, registered

if TYPE_CHECKING:
    import random

SCALES: tuple[int, ...] = (2, 3, 4)
#: The registered block types' names (:mod:`~.block_types`): ``("res", "ir")``.
BLOCK_TYPES: tuple[str, ...] = names()

#: Bunch names and how many residual-block slots each holds, in forward order.
BUNCHES: tuple[tuple[str, int], ...] = (
    ("LB1", 3), ("LB2", 3), ("LB3", 3), ("LB4", 3), ("LB5", 2),
    ("F1", 3), ("F2", 3), ("F3", 3), ("F4", 3),
)
EXTRACTOR_BUNCHES: tuple[str, ...] = ("LB1", "LB2", "LB3", "LB4", "LB5")
FUSION_BUNCHES: tuple[str, ...] = ("F1", "F2", "F3", "F4")

#: The 26 slot names in forward order: ``LB1.b1`` ... ``LB5.b2``, ``F1.b1`` ... ``F4.b3``.
SLOTS: tuple[str, ...] = tuple(f"{b}.b{i + 1}" for b, k in BUNCHES for i in range(k))
N_SLOTS = len(SLOTS)  # 26
EXTRACTOR_SLOTS: tuple[str, ...] = tuple(s for s in SLOTS if s.startswith("LB"))  # 14

#: Everything the information pool may concatenate, in the (canonical) concat order.
POOL_SOURCES: tuple[str, ...] = ("head",) + EXTRACTOR_SLOTS
#: The published pool (paper Eq. 3): head, LB2.b1, LB3.b1, LB4.b1, LB5.b1, LB5.b2.
PUBLISHED_POOL: tuple[str, ...] = ("head", "LB2.b1", "LB3.b1", "LB4.b1", "LB5.b1", "LB5.b2")

#: Mirrored (U-Net) skips fed to F1..F4 together with the pool.
FUSION_SKIPS: tuple[str, ...] = ("LB4.b3", "LB3.b3", "LB2.b3", "LB1.b3")

#: The authors' intended half-activation mask (True = kept), 12 of 26, slot order.
HALF_ACTIVATION_MASK: tuple[bool, ...] = (
    False, False, True,   # LB1
    False, False, True,   # LB2
    True, False, True,    # LB3
    True, False, True,    # LB4
    True, True,           # LB5
    True, False, False,   # F1
    True, False, False,   # F2
    True, False, False,   # F3
    True, False, False,   # F4
)

_SPEC_KEYS = ("scale", "n_feats", "blocks", "pool", "res_scale")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class BlockSpec:
    """One residual-block slot.

    ``type``: one of :data:`BLOCK_TYPES`, declared in :mod:`~.block_types`: ``"res"`` (conv3x3 ->
    act -> conv3x3, + identity) or ``"ir"`` (MobileNetV2 inverted residual without batch norm).
    ``expand``: the type's integer parameter (the inverted residual's expansion ratio, >= 1; hidden
    width ``expand * n_feats``); ``None`` for a type without one (``res``). ``act``: whether the
    block's activation(s) are kept; a removed activation is an identity (for ``ir`` both of its
    activations go).
    """

    type: str = "res"
    expand: int | None = None
    act: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, where: str = "block") -> None:
        """Raise ``ValueError`` naming ``where`` and the bad field/value."""
        decl = block_type(self.type, f"{where}.type")
        if decl.param is not None:
            object.__setattr__(self, "expand", decl.param.check(self.expand, f"{where}.{decl.param.key}"))
        elif self.expand is not None:
            raise ValueError(f"{where}.expand: only {param_owners()}, got {self.expand!r} on a {self.type!r} block")
        if not isinstance(self.act, bool):
            raise ValueError(f"{where}.act: expected true or false, got {self.act!r}")

    @property
    def token(self) -> str:
        """Arch-string token: ``R``/``r`` res with/without activation, ``I6``/``i6`` ir with ratio 6."""
        return block_type(self.type).token(self.expand, self.act)

    @property
    def kind(self) -> str:
        """The block without its activation, as search spaces and latency tables name it: ``res``
        or ``ir<t>`` (e.g. ``ir6``)."""
        return block_type(self.type).kind(self.expand)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type}
        param = block_type(self.type).param
        if param is not None:
            d[param.key] = self.expand
        d["act"] = self.act
        return d

    @classmethod
    def from_dict(cls, data: Any, where: str = "block") -> "BlockSpec":
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected an object like {{\"type\": \"res\", \"act\": true}}, got {data!r}")
        keys = param_keys()
        unknown = sorted(set(data) - {"type", *keys, "act"})
        if unknown:
            params = "".join(f"{k} ({', '.join(ns)} only), " for k, ns in keys.items())
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; expected type, {params}act")
        for key in ("type", "act"):
            if key not in data:
                raise ValueError(f"{where}: missing key {key!r}")
        decl = find(data["type"])
        if decl is not None and decl.param is not None and decl.param.key not in data:
            raise ValueError(f"{where}: missing key {decl.param.key!r} (required for {decl.name!r} blocks)")
        # a type without a parameter that is given one is refused by validate(), naming it
        own = (decl.param.key,) if decl is not None and decl.param is not None else tuple(keys)
        block = cls.__new__(cls)
        object.__setattr__(block, "type", data["type"])
        object.__setattr__(block, "expand", next((data[k] for k in own if data.get(k) is not None), None))
        object.__setattr__(block, "act", data["act"])
        block.validate(where)
        return block


RES = BlockSpec("res", None, True)


@dataclass(frozen=True)
class ArchSpec:
    """A complete s-LWSR variant. Immutable, hashable, JSON round-trippable.

    ``scale``: upscaling factor, 2, 3 or 4. ``n_feats``: channels of every block (the paper's
    beta). ``blocks``: 26 :class:`BlockSpec` in slot order (:data:`SLOTS`). ``pool``: the
    information-pool sources, a non-empty subset of :data:`POOL_SOURCES`; stored in canonical
    order, which is the concat order. ``res_scale``: the factor on every block's residual
    branch (the paper's alpha; 1 in the release).

    Invalid values raise ``ValueError`` naming the field and the value.
    """

    scale: int = 4
    n_feats: int = 16
    blocks: tuple[BlockSpec, ...] = field(default=(RES,) * N_SLOTS)
    pool: tuple[str, ...] = PUBLISHED_POOL
    res_scale: float = 1.0

    def __post_init__(self) -> None:
        if not _is_int(self.scale) or self.scale not in SCALES:
            raise ValueError(f"scale: unsupported value {self.scale!r}; supported: {', '.join(map(str, SCALES))}")
        if not _is_int(self.n_feats) or self.n_feats <= 0:
            raise ValueError(f"n_feats: expected a positive integer, got {self.n_feats!r}")
        blocks = tuple(self.blocks) if isinstance(self.blocks, (list, tuple)) else self.blocks
        if not isinstance(blocks, tuple) or len(blocks) != N_SLOTS:
            got = len(blocks) if isinstance(blocks, tuple) else repr(blocks)
            raise ValueError(f"blocks: expected {N_SLOTS} block slots, got {got}")
        for name, block in zip(SLOTS, blocks):
            if not isinstance(block, BlockSpec):
                raise ValueError(f"blocks[{name}]: expected a BlockSpec, got {block!r}")
        object.__setattr__(self, "blocks", blocks)
        if isinstance(self.pool, str) or not isinstance(self.pool, Iterable):
            raise ValueError(f"pool: expected a list of sources, got {self.pool!r}")
        pool = list(self.pool)
        if not pool:
            raise ValueError(f"pool: the information pool needs at least one source; choose from {', '.join(POOL_SOURCES)}")
        for src in pool:
            if src not in POOL_SOURCES:
                raise ValueError(f"pool: unknown source {src!r}; expected head or an extractor slot LB1.b1 .. LB5.b2")
        dupes = sorted({s for s in pool if pool.count(s) > 1})
        if dupes:
            raise ValueError(f"pool: source {dupes[0]!r} listed twice")
        # Canonical order: the concat order is part of the function, and one order means one hash.
        object.__setattr__(self, "pool", tuple(s for s in POOL_SOURCES if s in pool))
        rs = self.res_scale
        if not is_number(rs) or not math.isfinite(rs) or rs <= 0:
            raise ValueError(f"res_scale: expected a finite number > 0, got {rs!r}")
        object.__setattr__(self, "res_scale", float(rs))

    # ----- views ---------------------------------------------------------------------------

    def block(self, slot: str) -> BlockSpec:
        """The block in the slot named ``slot`` (e.g. ``"LB3.b2"``)."""
        try:
            return self.blocks[SLOTS.index(slot)]
        except ValueError:
            raise ValueError(f"slot: unknown slot {slot!r}; expected one of {SLOTS[0]} .. {SLOTS[-1]}") from None

    @property
    def n_active(self) -> int:
        """How many of the 26 slots keep their activation."""
        return sum(b.act for b in self.blocks)

    @property
    def n_ir(self) -> int:
        """How many of the 26 slots are inverted residuals."""
        return sum(b.type == "ir" for b in self.blocks)

    @property
    def n_res(self) -> int:
        """How many of the 26 slots are plain residual blocks (with or without their activation)."""
        return sum(b.type == "res" for b in self.blocks)

    def bunches(self) -> dict[str, tuple[BlockSpec, ...]]:
        """Blocks grouped by bunch name, in forward order."""
        out: dict[str, tuple[BlockSpec, ...]] = {}
        i = 0
        for name, k in BUNCHES:
            out[name] = self.blocks[i:i + k]
            i += k
        return out

    # ----- arch string ---------------------------------------------------------------------

    @property
    def arch(self) -> str:
        """The spec as a short, stable, human-readable string; grammar in :meth:`from_arch`.

        s-LWSR16 with the intended half-activation mask is
        ``x4-n16-rrR.rrR.RrR.RrR.RR-Rrr.Rrr.Rrr.Rrr-pool:h,2.1,3.1,4.1,5.1,5.2``.
        """
        groups = self.bunches()
        ext = ".".join("".join(b.token for b in groups[n]) for n in EXTRACTOR_BUNCHES)
        fus = ".".join("".join(b.token for b in groups[n]) for n in FUSION_BUNCHES)
        pool = ",".join("h" if s == "head" else s[2] + "." + s[5] for s in self.pool)
        s = f"x{self.scale}-n{self.n_feats}-{ext}-{fus}-pool:{pool}"
        if self.res_scale != 1.0:
            s += f"-a{self.res_scale:g}"
        return s

    @classmethod
    def from_arch(cls, text: str) -> "ArchSpec":
        """Parse an arch string (the inverse of :attr:`arch`); ``ValueError`` says what is wrong.

        The whole grammar::

            arch     := "x" SCALE "-n" N_FEATS "-" EXTRACT "-" FUSION "-pool:" SOURCES [ "-a" RES_SCALE ]
            EXTRACT  := BUNCH "." BUNCH "." BUNCH "." BUNCH "." BUNCH   LB1..LB5: 3, 3, 3, 3, 2 blocks
            FUSION   := BUNCH "." BUNCH "." BUNCH "." BUNCH             F1..F4: 3 blocks each
            BUNCH    := BLOCK+                                        slot order b1, b2, b3
            BLOCK    := (one line per block type of model/block_types.py, filled in on import)
            SOURCES  := SOURCE ("," SOURCE)*                          information-pool inputs, any order
            SOURCE   := "h"                                           the head conv's output
                      | B "." K                                       block K of extractor bunch LB<B> (1.1 .. 5.2)
            SCALE    := 2 | 3 | 4        N_FEATS := integer >= 1       RES_SCALE := number > 0

        The ``-a`` suffix appears only when ``res_scale != 1`` (written with ``:g``); sources are
        written in canonical (concat) order. Examples: ``x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h,2.1,3.1,4.1,5.1,5.2``
        (s-LWSR16), ``x4-n12-I2i2R.rrR.RrR.RrR.RR-I4rr.Rrr.Rrr.Rrr-pool:h,5.2-a0.5``.
        """
        bunch = rf"([{letters()}\d.]+)"
        m = re.fullmatch(rf"x(\d+)-n(\d+)-{bunch}-{bunch}-pool:([h\d.,]+)(?:-a([0-9.eE+-]+))?", text.strip())
        if not m:
            raise ValueError(
                f"arch: cannot parse {text!r}; expected e.g. x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h,2.1,3.1,4.1,5.1,5.2"
            )
        scale, n_feats, ext, fus, pool_s, alpha = m.groups()
        blocks: list[BlockSpec] = []
        groups = ext.split(".") + fus.split(".")
        if len(groups) != len(BUNCHES):
            raise ValueError(f"arch: expected 5 extractor and 4 fusion bunches, got {len(ext.split('.'))} and {len(fus.split('.'))}")
        for (bname, k), g in zip(BUNCHES, groups):
            toks = re.findall(rf"[{letters()}]\d*", g)
            if "".join(toks) != g or len(toks) != k:
                forms = ", ".join(t.token_forms() for t in registered())
                raise ValueError(f"arch: bunch {bname} must have {k} block tokens ({forms}), got {g!r}")
            for j, tok in enumerate(toks):
                where = f"arch: {bname}.b{j + 1}"
                blocks.append(BlockSpec.from_dict(by_letter(tok[0]).token_fields(tok, where), where=where))
        pool: list[str] = []
        for src in pool_s.split(","):
            if src == "h":
                pool.append("head")
            elif re.fullmatch(r"\d\.\d", src):
                pool.append(f"LB{src[0]}.b{src[2]}")
            else:
                raise ValueError(f"arch: bad pool source {src!r}; expected h or B.K (e.g. 2.1 for LB2.b1)")
        try:
            res_scale = float(alpha) if alpha is not None else 1.0
        except ValueError:
            raise ValueError(f"arch: bad res_scale suffix {alpha!r}") from None
        return cls(scale=int(scale), n_feats=int(n_feats), blocks=tuple(blocks), pool=tuple(pool), res_scale=res_scale)

    # ----- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form; blocks grouped by bunch name so the file reads like the paper."""
        return {
            "scale": self.scale,
            "n_feats": self.n_feats,
            "blocks": {name: [b.to_dict() for b in bs] for name, bs in self.bunches().items()},
            "pool": list(self.pool),
            "res_scale": self.res_scale,
        }

    def to_json(self, compact: bool = False) -> str:
        """JSON text; by default one line per bunch, so a spec file reads (and diffs) like the paper."""
        d = self.to_dict()
        if compact:
            return json.dumps(d, separators=(",", ":"))
        bunches = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in d["blocks"].items())
        return (
            "{\n"
            f'  "scale": {d["scale"]},\n'
            f'  "n_feats": {d["n_feats"]},\n'
            f'  "blocks": {{\n{bunches}\n  }},\n'
            f'  "pool": {json.dumps(d["pool"])},\n'
            f'  "res_scale": {json.dumps(d["res_scale"])}\n'
            "}"
        )

    @classmethod
    def from_dict(cls, data: Any) -> "ArchSpec":
        """Inverse of :meth:`to_dict`. Every key is required; unknown keys are errors."""
        if not isinstance(data, Mapping):
            raise ValueError(f"spec: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_SPEC_KEYS))
        if unknown:
            raise ValueError(f"spec: unknown key {unknown[0]!r}; expected {', '.join(_SPEC_KEYS)}")
        missing = [k for k in _SPEC_KEYS if k not in data]
        if missing:
            raise ValueError(f"spec: missing key {missing[0]!r}")
        raw_blocks = data["blocks"]
        if not isinstance(raw_blocks, Mapping):
            raise ValueError("blocks: expected an object keyed by bunch (LB1..LB5, F1..F4)")
        unknown = sorted(set(raw_blocks) - {b for b, _ in BUNCHES})
        if unknown:
            raise ValueError(f"blocks: unknown bunch {unknown[0]!r}; expected {', '.join(b for b, _ in BUNCHES)}")
        blocks: list[BlockSpec] = []
        for bname, k in BUNCHES:
            if bname not in raw_blocks:
                raise ValueError(f"blocks: missing bunch {bname!r}")
            items = raw_blocks[bname]
            if not isinstance(items, list) or len(items) != k:
                got = len(items) if isinstance(items, list) else repr(items)
                raise ValueError(f"blocks.{bname}: expected a list of {k} blocks, got {got}")
            blocks.extend(BlockSpec.from_dict(item, where=f"blocks[{bname}.b{j + 1}]") for j, item in enumerate(items))
        pool = data["pool"]
        if not isinstance(pool, list):
            raise ValueError(f"pool: expected a list of sources, got {pool!r}")
        return cls(scale=data["scale"], n_feats=data["n_feats"], blocks=tuple(blocks), pool=tuple(pool),
                   res_scale=data["res_scale"])

    @classmethod
    def from_json(cls, text: str) -> "ArchSpec":
        """Parse JSON text; malformed JSON raises ``ValueError`` with line and column."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "ArchSpec":
        """Read a spec JSON file; every error names the file."""
        p = Path(path)
        try:
            text = p.read_text()
        except FileNotFoundError:
            raise ValueError(f"{p}: spec file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"{p}: cannot read spec file ({e})") from None
        try:
            return cls.from_json(text)
        except ValueError as e:
            raise ValueError(f"{p}: {e}") from None

    @property
    def hash(self) -> str:
        """Stable 16-hex-digit content hash of the canonical JSON (same spec, same hash, any run)."""
        canon = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> "ArchSpec":
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def with_activations(self, mask: Iterable[bool]) -> "ArchSpec":
        """A copy whose slots keep (True) or drop (False) their activation per ``mask`` (26 values)."""
        mask = tuple(mask)
        if len(mask) != N_SLOTS:
            raise ValueError(f"mask: expected {N_SLOTS} values, got {len(mask)}")
        return self.replace(blocks=tuple(dataclasses.replace(b, act=bool(a)) for b, a in zip(self.blocks, mask)))


def _with_block_rule(doc: str) -> str:
    """``doc`` with its ``BLOCK`` line replaced by the rule the registered block types make, one
    line each, laid out as the lines around it."""
    lines = doc.split("\n")
    i = next(i for i, line in enumerate(lines) if line.lstrip().startswith("BLOCK    :="))
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    heads = ["BLOCK    := "] + ["          | "] * (len(registered()) - 1)
    rule = [f"{indent}{head}{alt:<46}{what}" for head, (alt, what) in zip(heads, (t.grammar() for t in registered()))]
    return "\n".join(lines[:i] + rule + lines[i + 1:])


if ArchSpec.from_arch.__doc__:  # None under python -OO
    # the whole grammar in one docstring, its BLOCK rule declared once (model/block_types.py)
    ArchSpec.from_arch.__func__.__doc__ = _with_block_rule(ArchSpec.from_arch.__doc__)


def random_spec(rng: "random.Random | int", n_feats: Sequence[int] = (8, 12, 16, 24, 32),
                scales: Sequence[int] = SCALES, max_expand: int = 6, types: Sequence[str] = BLOCK_TYPES) -> ArchSpec:
    """A random valid spec (block types among ``types``, their parameters up to ``max_expand``,
    activations, pool subset, scale, res_scale all drawn independently). For tests and benchmarks;
    the search draws its specs through its search space instead. The draws of a seed depend on
    ``types``: name them to keep a seed's specs when a block type is added."""
    import random

    r = rng if isinstance(rng, random.Random) else random.Random(rng)
    decls = [block_type(t, "types") for t in types]
    blocks = []
    for _ in range(N_SLOTS):
        act = r.random() < 0.5
        decl = decls[int(r.random() * len(decls))]  # with two types: r.random() < 0.5 picks the first
        blocks.append(BlockSpec(decl.name, None if decl.param is None else decl.param.draw(r, max_expand), act))
    pool = [s for s in POOL_SOURCES if r.random() < 0.4] or [r.choice(POOL_SOURCES)]
    return ArchSpec(scale=r.choice(tuple(scales)), n_feats=r.choice(tuple(n_feats)), blocks=tuple(blocks),
                    pool=tuple(pool), res_scale=r.choice((1.0, 0.5, 0.2)))
