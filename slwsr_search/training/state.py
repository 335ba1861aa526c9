"""One file format for a training's state: trained weights, or a whole training to continue.

A state file is one ``torch.save`` of a dict, loadable with ``torch.load(path, weights_only=True)``:

``format``
    :data:`STATE_FORMAT`, so a foreign file is told apart from ours.
``spec``
    the network's :class:`~slwsr_search.model.spec.ArchSpec`, as compact JSON.
``protocol``
    the training protocol as a dict (:meth:`~.protocol.Protocol.to_dict`; empty when unknown).
``steps``
    optimiser steps the weights have had (0 when unknown).
``training``
    :meth:`.loop.Training.state_dict` (weights ``model``, Adam's ``optimizer`` moments and step
    counts, the patch sampler's RNG ``sampler_rng``, ``steps_done`` and ``segments``, which fix the
    learning rate's schedule position, and the moving average ``ema`` when kept): a training
    loaded from it continues exactly, on CPU with the same thread count, as if never stopped. A
    file of weights only holds ``{"model": weights}``; a file of the caller's progress only, None.
``extra``
    the caller's own data (its progress, timings, scores): plain numbers, strings, lists, dicts.

Who writes and reads it: ``slwsr train --save`` / ``slwsr evaluate --checkpoint``
(:mod:`.checkpoint`, weights only), ``finalize``'s ``state.pt`` every K steps
(:mod:`.finalize`), and a multi-fidelity study's continuation files after every rung
(:class:`~slwsr_search.search.rungs.RungStore`). Files are replaced atomically, so a reader sees
the old state or the new one, never a part. :func:`load_state` also reads the two formats this
one replaced (``checkpoint-1`` and ``finalize-state-1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import is_int, write_atomic
from ..model.network import SLWSR
from ..model.spec import ArchSpec
from .loop import Training

#: The tag every state file holds.
STATE_FORMAT = "slwsr-search/training-state-1"
#: The tags of the formats this one replaced, still read: ``slwsr train --save``'s weights
#: (``state_dict``, ``protocol``, ``extra``) and ``finalize``'s ``state.pt`` (``training``,
#: ``train_s``, ``threads``, ``saved``).
OLD_CHECKPOINT, OLD_FINALIZE = "slwsr-search/checkpoint-1", "slwsr-search/finalize-state-1"
#: The fields of a state file besides ``format``.
FIELDS = ("spec", "protocol", "steps", "training", "extra")


@dataclass(frozen=True)
class TrainingState:
    """What a state file holds (the module docstring says each field's meaning)."""

    spec: ArchSpec
    protocol: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    training: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, training: Training, extra: dict[str, Any] | None = None) -> "TrainingState":
        """The whole state of ``training`` (which has run a segment and not failed)."""
        return cls(training.spec, training.protocol.to_dict(), training.steps_done, training.state_dict(),
                   dict(extra or {}))

    @classmethod
    def of_model(cls, model: SLWSR, protocol: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
                 steps: int = 0) -> "TrainingState":
        """``model``'s weights alone (copied to CPU), with its spec."""
        weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return cls(model.spec, dict(protocol or {}), steps, {"model": weights}, dict(extra or {}))

    @property
    def weights(self) -> dict[str, torch.Tensor] | None:
        """The network's weights, or None for a file of progress only."""
        return None if self.training is None else self.training["model"]

    @property
    def resumable(self) -> bool:
        """Whether a :class:`.loop.Training` can continue from it (more than weights)."""
        return self.training is not None and "optimizer" in self.training

    def payload(self) -> dict[str, Any]:
        """The dict the file holds."""
        return {"format": STATE_FORMAT, "spec": self.spec.to_json(compact=True), "protocol": self.protocol,
                "steps": self.steps, "training": self.training, "extra": self.extra}


def save_state(path: str | Path, state: TrainingState) -> None:
    """Write ``state`` to ``path`` atomically (tensors as they are; :func:`load_state` maps them)."""
    payload = state.payload()
    write_atomic(path, lambda tmp: torch.save(payload, tmp))


def load_state(path: str | Path, map_location: str | torch.device = "cpu",
               spec: ArchSpec | None = None) -> TrainingState:
    """The state in ``path``, its tensors on ``map_location``; ``spec``: refuse a state of another.

    ``ValueError`` naming the file for a missing, corrupt or foreign file, a field of the wrong
    kind, or another spec.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: checkpoint not found")
    try:
        raw = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a foreign or corrupt file
        first = str(e).splitlines()[0] if str(e) else ""
        raise ValueError(f"{p}: cannot load checkpoint ({type(e).__name__}: {first})") from None
    tag = raw.get("format") if isinstance(raw, dict) else None
    if tag not in (STATE_FORMAT, OLD_CHECKPOINT, OLD_FINALIZE):
        raise ValueError(f"{p}: not an slwsr-search checkpoint (format tag {tag!r}, expected {STATE_FORMAT!r})")
    state = _parse(p, _upgrade(raw) if tag != STATE_FORMAT else raw)
    if spec is not None and state.spec.hash != spec.hash:
        raise ValueError(f"{p}: holds spec {state.spec.hash} ({state.spec.arch}), not {spec.hash} ({spec.arch})")
    return state


def _upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """A file of a replaced format as this format's dict (fields it lacks left to :func:`_parse`)."""
    if raw["format"] == OLD_CHECKPOINT:
        model = raw.get("state_dict")
        return {"spec": raw.get("spec"), "protocol": raw.get("protocol", {}), "steps": 0,
                "training": None if model is None else {"model": model}, "extra": raw.get("extra", {})}
    training = raw.get("training")
    steps = training.get("steps_done", 0) if isinstance(training, dict) else 0
    return {"spec": raw.get("spec"), "protocol": {}, "steps": steps, "training": training,
            "extra": {k: raw[k] for k in ("train_s", "threads", "saved") if k in raw}}


def _parse(p: Path, raw: dict[str, Any]) -> TrainingState:
    missing = [k for k in FIELDS if k not in raw]
    if missing:
        raise ValueError(f"{p}: missing field {missing[0]!r}")
    if not isinstance(raw["spec"], str):
        raise ValueError(f"{p}: spec: expected the spec's JSON text, got {type(raw['spec']).__name__}")
    try:
        spec = ArchSpec.from_json(raw["spec"])
    except (ValueError, TypeError) as e:
        raise ValueError(f"{p}: spec: {e}") from None
    protocol, steps, training, extra = raw["protocol"], raw["steps"], raw["training"], raw["extra"]
    if not isinstance(protocol, dict):
        raise ValueError(f"{p}: protocol: expected a dict, got {type(protocol).__name__}")
    if not is_int(steps) or steps < 0:
        raise ValueError(f"{p}: steps: expected an integer >= 0, got {steps!r}")
    if training is not None and not (isinstance(training, dict) and isinstance(training.get("model"), dict)):
        raise ValueError(f"{p}: training: expected None or a dict with the weights ('model')")
    if not isinstance(extra, dict):
        raise ValueError(f"{p}: extra: expected a dict, got {type(extra).__name__}")
    return TrainingState(spec, protocol, steps, training, extra)


def resume(training: Training, path: str | Path, map_location: str | torch.device = "cpu") -> TrainingState:
    """Load the state in ``path`` into ``training`` (a training of the same spec, data and
    protocol, not yet run) and return it. Refused, with a ``ValueError`` naming the file, when it
    holds another spec, another protocol (where it records one), or no training to continue."""
    state = load_state(path, map_location, spec=training.spec)
    if not state.resumable:
        raise ValueError(f"{path}: holds {'weights' if state.training else 'progress'} only, no training to continue")
    asked = training.protocol.to_dict()
    if state.protocol and state.protocol != asked:
        diff = "; ".join(f"{k} {state.protocol.get(k)!r} -> {v!r}" for k, v in asked.items()
                         if state.protocol.get(k) != v)
        raise ValueError(f"{path}: holds a training of another protocol ({diff or 'other keys'})")
    training.load_state_dict(state.training)
    return state
