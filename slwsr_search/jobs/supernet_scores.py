"""Designs scored with the weights they inherit from a trained supernet, optionally after a short
fine-tune from them (:func:`score_designs`), and those scores audited against a long reference
(:func:`audit_supernet`): what ``slwsr supernet score`` and ``slwsr supernet audit`` do
(docs/supernet.md)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..audit.proxy import proxy_rows
from ..model.cost import count_cost
from ..model.spec import ArchSpec
from ..model.supernet import SuperNet
from ..sr.data import ImagePair, TrainData
from ..sr.evaluate import evaluate_pairs, model_upscaler
from ..sr.metrics import quantize
from ..training.loop import Training
from ..training.protocol import Protocol

#: A fine-tune from inherited weights (``steps`` set per call): the long protocol's patches, a
#: tenth of its learning rate, since the weights start trained.
FINETUNE = Protocol(steps=100, batch_size=16, lr_patch=48, lr=1e-4, schedule="cosine")


@dataclass(frozen=True)
class DesignScore:
    """One design scored with inherited weights (after ``finetune`` steps from them, when > 0): PSNR
    (dB) and SSIM on Y with ``scale`` pixels cropped per border, L1 (mean absolute error on 0..255
    RGB, same crop), on the validation images; seconds it took."""

    label: str
    arch: str
    params: int
    psnr: float
    ssim: float
    l1: float
    finetune: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_network(model: torch.nn.Module, val: Sequence[ImagePair], scale: int,
                  device: str = "cpu") -> tuple[float, float, float]:
    """``(psnr, ssim, l1)`` of ``model`` on ``val`` (see :class:`DesignScore`), run on ``device``."""
    outs: list[np.ndarray] = []
    run = model_upscaler(model, device)

    def keep(lr: np.ndarray) -> np.ndarray:
        outs.append(run(lr))
        return outs[-1]
    res = evaluate_pairs(val, keep, scale)
    c = scale
    # on the 8-bit output the PSNR and SSIM score, so the three describe one picture
    l1 = float(np.mean([np.abs(quantize(o)[c:-c, c:-c].astype(np.float32) - p.hr[c:-c, c:-c].astype(np.float32)).mean()
                        for o, p in zip(outs, val)]))
    return res.psnr, res.ssim, l1


def finetuned(spec: ArchSpec, weights: dict[str, torch.Tensor], train: Sequence[ImagePair], val: Sequence[ImagePair],
              protocol: Protocol, device: str = "cpu") -> torch.nn.Module:
    """The network of ``spec`` trained ``protocol.steps`` steps on ``train`` starting from
    ``weights`` (not from scratch), on ``device``, in eval mode."""
    data = TrainData(list(train), list(val), spec.scale, "finetune", "finetune")
    training = Training(spec, data, protocol, device=device)
    training.load_state_dict({"model": weights})  # weights alone: a new training starting from them
    result = training.run(protocol.steps, score=False)
    if not result.ok:
        raise ValueError(f"{spec.arch}: the fine-tune failed ({result.reason})")
    return training.model.eval()


def holder(nets: Sequence[SuperNet], spec: ArchSpec) -> SuperNet:
    """The first of ``nets`` that holds ``spec`` (one supernet per width: the one of its width);
    ``ValueError`` with each one's reason (``supernet K: ...``, in the order given) when none does."""
    reasons = []
    for k, net in enumerate(nets, 1):
        try:
            net.check(spec)
            return net
        except ValueError as e:
            reasons.append(f"supernet {k}: {e}" if len(nets) > 1 else str(e))
    raise ValueError("; ".join(reasons))


def score_designs(nets: SuperNet | Sequence[SuperNet], designs: Sequence[tuple[str, ArchSpec]], val: Sequence[ImagePair],
                  finetune: int = 0, train: Sequence[ImagePair] = (), protocol: Protocol | None = None,
                  on_design: Callable[[DesignScore], None] | None = None, device: str = "cpu") -> list[DesignScore]:
    """Each ``(label, spec)`` scored on ``val`` with the weights it inherits from ``nets`` (one
    supernet, or several such as one per width: the first holding the design; after
    ``finetune`` steps of ``protocol`` on ``train`` from them, when > 0), on ``device`` (scoring
    in fp32); ``on_design`` hears each as it is done. ``ValueError`` naming the design the supernet does not hold."""
    if finetune and not train:
        raise ValueError("finetune: needs training images")
    nets = [nets] if isinstance(nets, SuperNet) else list(nets)
    out = []
    for label, spec in designs:
        t0 = time.perf_counter()
        try:
            model = holder(nets, spec).extract(spec)
        except ValueError as e:
            raise ValueError(f"{label}: {e}") from None
        if finetune:
            p = dataclasses.replace(protocol or FINETUNE, steps=finetune)
            model = finetuned(spec, model.state_dict(), train, val, p, device)
        psnr, ssim, l1 = score_network(model.eval(), val, spec.scale, device)
        row = DesignScore(label, spec.arch, count_cost(spec).params, psnr, ssim, l1, finetune, time.perf_counter() - t0)
        out.append(row)
        if on_design:
            on_design(row)
    return out


#: The score columns an audit of a supernet adds to the reference table (higher ranks higher).
AUDIT_SCORES: tuple[str, ...] = ("supernet_psnr", "supernet_ssim", "supernet_neg_l1")


@dataclass(frozen=True)
class SupernetAudit:
    """A supernet's scores against a long reference: ``table`` (one row per design: label, arch,
    params, macs, reference, the :data:`AUDIT_SCORES`, seconds) and ``rows``, one
    :class:`~..audit.proxy.ProxyRow` per score (parameters and Multi-Adds alone among them)."""

    table: Any
    rows: list
    horizon: int | None
    finetune: int
    level: float = 0.9  # of every interval in ``rows``

    def to_dict(self) -> dict[str, Any]:
        return {"horizon": self.horizon, "finetune": self.finetune, "level": self.level,
                "designs": self.table.to_dict("records"),
                "scores": [r.to_dict() for r in self.rows]}


def audit_supernet(nets: SuperNet | Sequence[SuperNet], reference: Any, val: Sequence[ImagePair], horizon: int | None = None,
                   finetune: int = 0, train: Sequence[ImagePair] = (), level: float = 0.9, n_boot: int = 2000,
                   on_design: Callable[[DesignScore], None] | None = None, device: str = "cpu") -> SupernetAudit:
    """Score each design of ``reference`` (:func:`~..audit.proxy.read_reference`'s table) with
    the weights it inherits from ``nets`` (see :func:`score_designs`; after ``finetune`` steps,
    when > 0) on ``val``, and each score against the reference (:func:`~..audit.proxy.proxy_rows`)."""
    designs = [(r.label, ArchSpec.from_arch(r.arch)) for r in reference.itertuples()]
    scored = score_designs(nets, designs, val, finetune, train, on_design=on_design, device=device)
    table = reference.copy()
    table["supernet_psnr"] = [s.psnr for s in scored]
    table["supernet_ssim"] = [s.ssim for s in scored]
    table["supernet_neg_l1"] = [-s.l1 for s in scored]
    table["seconds"] = [s.seconds for s in scored]
    return SupernetAudit(table, proxy_rows(table, [*AUDIT_SCORES, "macs"], level=level, n_boot=n_boot), horizon, finetune,
                         level)
