"""Training a weight-sharing supernet (:class:`~slwsr_search.model.supernet.SuperNet`) and scoring
a design with the weights it inherits (issue 35).

Each step trains paths drawn by one of :data:`SAMPLINGS`:

* ``fair``: FairNAS's strict fairness (arXiv 1907.01845): ``m`` paths, where ``m`` is the number
  of block choices, each slot's ``m`` choices each used once (a random permutation per slot);
  their gradients are accumulated and applied in one update;
* ``uniform``: one path, every slot's choice drawn uniformly (single-path one-shot, SPOS);
* ``sandwich``: BigNAS's sandwich rule with in-place distillation (arXiv 2003.11142): the largest
  and the smallest path and two drawn ones; the largest learns from the ground truth, the others
  from its output (detached).

Everything a path holds besides its blocks (width, activations, pool) comes from ``draw``, the
study's design draw, so paths stay within what the study searches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..model.spec import ArchSpec, BlockSpec
from ..model.supernet import SuperNet
from ..sr.data import ImagePair, PatchSampler
from ..sr.evaluate import evaluate_pairs, model_upscaler

SAMPLINGS: tuple[str, ...] = ("fair", "uniform", "sandwich")
#: ``draw(rng)``: a design of the study's space (its width, activations and pool are a path's).
Draw = Callable[[random.Random], ArchSpec]


@dataclass(frozen=True)
class SupernetPlan:
    """How a supernet is trained: ``steps`` updates of L1 loss with Adam at ``lr`` (cosine to 0),
    ``batch_size`` patches of ``lr_patch`` LR pixels, paths by ``sampling``, seeded by ``seed``."""

    steps: int
    batch_size: int = 16
    lr_patch: int = 48
    lr: float = 2e-3
    sampling: str = "fair"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling: expected one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        for name in ("steps", "batch_size", "lr_patch"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")


def with_blocks(spec: ArchSpec, kinds: Sequence[BlockSpec]) -> ArchSpec:
    """``spec`` with each slot's block type and expansion from ``kinds`` (its activations kept as drawn)."""
    return spec.replace(blocks=tuple(BlockSpec(k.type, k.expand, b.act) for k, b in zip(kinds, spec.blocks)))


def fair_paths(draw: Draw, choices: Sequence[BlockSpec], rng: random.Random) -> list[ArchSpec]:
    """Strict fairness: ``len(choices)`` paths in which every slot uses each choice exactly once."""
    m = len(choices)
    base = [draw(rng) for _ in range(m)]
    perms = [rng.sample(range(m), m) for _ in base[0].blocks]  # one permutation per slot
    return [with_blocks(base[j], [choices[p[j]] for p in perms]) for j in range(m)]


def uniform_path(draw: Draw, choices: Sequence[BlockSpec], rng: random.Random) -> ArchSpec:
    """One path, each slot's choice drawn uniformly."""
    spec = draw(rng)
    return with_blocks(spec, [rng.choice(choices) for _ in spec.blocks])


def train_supernet(net: SuperNet, train: Sequence[ImagePair], plan: SupernetPlan, draw: Draw,
                   choices: Sequence[BlockSpec], extremes: tuple[ArchSpec, ArchSpec] | None = None,
                   on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Train ``net`` in place on patches of ``train`` for ``plan.steps`` updates; returns each step's
    mean loss (L1 on 0..255). ``choices``: the block choices of a slot; ``extremes``: the largest and
    smallest path (the sandwich rule's; required for it). ``on_step(step, loss)``: after each update."""
    if plan.sampling == "sandwich" and extremes is None:
        raise ValueError("sampling 'sandwich': needs the largest and the smallest path (extremes)")
    torch.manual_seed(plan.seed)
    rng = random.Random(plan.seed)
    patches = PatchSampler(train, net.scale, plan.lr_patch, plan.batch_size, seed=plan.seed)
    opt = torch.optim.Adam(net.parameters(), lr=plan.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, plan.steps)
    losses = []
    net.train()
    for step in range(plan.steps):
        lr_img, hr_img = patches.sample()
        opt.zero_grad(set_to_none=True)
        loss = _step(net, lr_img, hr_img, plan.sampling, draw, choices, extremes, rng)
        opt.step()
        sched.step()
        losses.append(loss)
        if on_step is not None:
            on_step(step + 1, loss)
    return losses


def _step(net: SuperNet, lr_img: torch.Tensor, hr_img: torch.Tensor, sampling: str, draw: Draw,
          choices: Sequence[BlockSpec], extremes: tuple[ArchSpec, ArchSpec] | None, rng: random.Random) -> float:
    """One update's gradients (accumulated over its paths); returns their mean loss."""
    if sampling == "fair":
        paths = fair_paths(draw, choices, rng)
    elif sampling == "uniform":
        paths = [uniform_path(draw, choices, rng)]
    else:
        paths = [*extremes, uniform_path(draw, choices, rng), uniform_path(draw, choices, rng)]
    target, total = hr_img, 0.0
    for i, spec in enumerate(paths):
        out = net(lr_img, spec)
        loss = F.l1_loss(out, target) / len(paths)
        loss.backward()
        total += loss.item()
        if sampling == "sandwich" and i == 0:
            target = out.detach()  # in-place distillation: the largest path teaches the others
    return total


def score_design(net: SuperNet, spec: ArchSpec, pairs: Sequence[ImagePair]) -> tuple[float, float]:
    """``(PSNR dB, SSIM)`` of ``spec`` with the weights it inherits from ``net``, on ``pairs`` (Y
    channel, border of ``scale`` pixels cropped: :mod:`slwsr_search.sr.metrics`)."""
    model = net.extract(spec).eval()
    res = evaluate_pairs(pairs, model_upscaler(model), spec.scale)
    return res.psnr, res.ssim
