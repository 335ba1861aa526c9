"""Training protocols: everything that changes a training's result, as frozen data."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..config import check_keys, is_int, is_number

SCHEDULES = ("cosine", "step", "constant")


@dataclass(frozen=True)
class Protocol:
    """How one spec is trained and scored. Everything that changes the result is here.

    ``steps`` optimiser steps of ``batch_size`` LR patches of ``lr_patch`` x ``lr_patch`` pixels;
    Adam (0.9, 0.999, eps 1e-8) at ``lr``; schedule ``cosine`` (to 0 over ``steps``, for short
    runs), ``step`` (the paper's: halve every ``halve_every`` steps) or ``constant``; ``seed``
    fixes the initial weights and the patch stream; ``eval_every`` > 0 also scores the validation
    set every that many steps (0: only at the end).
    """

    steps: int = 300
    batch_size: int = 16
    lr_patch: int = 48
    lr: float = 1e-3  # the paper's 1e-4 does not beat bicubic within 300 steps (docs/training.md)
    schedule: str = "cosine"
    halve_every: int = 200_000
    seed: int = 0
    augment: bool = True
    eval_every: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "lr_patch", "halve_every"):
            v = getattr(self, name)
            if not is_int(v) or v < 1:
                raise ValueError(f"protocol.{name}: expected an integer >= 1, got {v!r}")
        for name in ("seed", "eval_every"):
            v = getattr(self, name)
            if not is_int(v) or v < 0:
                raise ValueError(f"protocol.{name}: expected an integer >= 0, got {v!r}")
        if not is_number(self.lr) or not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"protocol.lr: expected a finite number > 0, got {self.lr!r}")
        object.__setattr__(self, "lr", float(self.lr))
        if self.schedule not in SCHEDULES:
            raise ValueError(f"protocol.schedule: unknown schedule {self.schedule!r}; expected one of {', '.join(SCHEDULES)}")
        if not isinstance(self.augment, bool):
            raise ValueError(f"protocol.augment: expected true or false, got {self.augment!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "protocol") -> "Protocol":
        """Build from plain data; unknown keys are errors (missing keys take the defaults)."""
        return cls(**check_keys(data, where, optional=[f.name for f in dataclasses.fields(cls)]))

    def lr_at(self, step: int) -> float:
        """Learning rate for optimiser step ``step`` (0-based)."""
        if self.schedule == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * step / self.steps))
        if self.schedule == "step":
            return self.lr * 0.5 ** (step // self.halve_every)
        return self.lr


#: Named protocols. ``short`` (the default, the search's trials): 300 steps, lr 1e-3 with cosine
#: decay, which beats bicubic within 300 CPU steps where the paper's 1e-4 does not (docs/training.md).
#: ``long`` (``finalize`` on a CPU): 5,000 steps of 16 x 48 px, lr 1e-3 with cosine decay; about an
#: hour for s-LWSR16 on one core of this project's machines, twice that for designs rich in inverted
#: residuals (docs/results/2026-11-29-finalize-head-to-head-avx512.md).
#: ``paper``: the paper's full schedule, lr 1e-4 halved every 200,000 of 1,000,000 steps.
PROTOCOLS: dict[str, Protocol] = {
    "short": Protocol(),
    "long": Protocol(steps=5000),
    "paper": Protocol(steps=1_000_000, lr=1e-4, schedule="step", halve_every=200_000),
}

#: What ``--protocol auto`` (``finalize``'s default) means per device type: ``long`` on a CPU,
#: ``paper`` (1,000,000 steps) on a CUDA GPU. The command says which in its help
#: and in its header line before training.
AUTO_PROTOCOL: dict[str, str] = {"cpu": "long", "cuda": "paper"}


def auto_protocol(device: Any) -> str:
    """The name of the protocol ``auto`` means for ``device``: a ``torch.device`` or its name
    (``cpu``, ``cuda``, ``cuda:1``); ``ValueError`` for another device type. Takes no torch: the
    device's ``type`` (or its name before any ``:``) is all it reads."""
    kind = str(getattr(device, "type", device)).split(":")[0]
    if kind not in AUTO_PROTOCOL:
        raise ValueError(f"protocol auto: no protocol for device type {kind!r}; expected one of {', '.join(AUTO_PROTOCOL)}")
    return AUTO_PROTOCOL[kind]
