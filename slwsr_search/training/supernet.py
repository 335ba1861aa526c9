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

Everything a path holds besides its searched slots' blocks (width, activations, pool, the blocks
of slots the study does not search) comes from ``draw``, the study's design draw, so paths stay
within what the study searches; only the searched slots (``slots``) vary. ``keep`` (the study's budget,
when paths are "feasible") redraws a uniform or sandwich path until it fits; strict fairness's
paths are not filtered, since every choice must be trained once per slot at each step.
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from ..model.spec import ArchSpec, BlockSpec
from ..model.supernet import SuperNet
from ..sr.data import ImagePair, PatchSampler
from .device import Speedups, validation_scores

SAMPLINGS: tuple[str, ...] = ("fair", "uniform", "sandwich")
#: Where paths come from: the study's designs inside its budget, or its whole space.
PATHS: tuple[str, ...] = ("feasible", "space")
#: ``draw(rng)``: a design of the study's space (its width, activations and pool are a path's).
Draw = Callable[[random.Random], ArchSpec]


def supernet_speedups(device_type: str) -> Speedups:
    """A supernet training's per-training switches on a ``device_type`` device: on CUDA channels_last
    and bf16 autocast, as a design's training uses them there (:class:`~.device.Speedups`; not yet
    measured for the supernet, whose sliced weights no GPU here has timed); on a CPU neither
    (fp32, contiguous: what every supernet figure so far was measured with)."""
    on_gpu = device_type == "cuda"
    return Speedups(channels_last=on_gpu, bf16=on_gpu, cpu_bf16=False)


@dataclass(frozen=True)
class SupernetPlan:
    """How a supernet is trained: ``steps`` updates of L1 loss with Adam at ``lr`` (cosine to 0 over the steps),
    ``batch_size`` patches of ``lr_patch`` LR pixels, paths by ``sampling``, seeded by ``seed``."""

    steps: int
    batch_size: int = 16
    lr_patch: int = 48
    lr: float = 1e-3  # the long reference's
    sampling: str = "fair"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling: expected one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        for name in ("steps", "batch_size", "lr_patch"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or not (0 < self.lr < math.inf):
            raise ValueError(f"lr: expected a finite number > 0, got {self.lr!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SupernetPlan":
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"supernet plan: unknown key {unknown[0]!r}")
        return cls(**d)


def with_blocks(spec: ArchSpec, kinds: dict[int, BlockSpec]) -> ArchSpec:
    """``spec`` with the block type and expansion of each slot in ``kinds`` (slot index -> choice),
    the other slots and every activation kept as drawn."""
    return spec.replace(blocks=tuple(BlockSpec(kinds[i].type, kinds[i].expand, b.act) if i in kinds else b
                                     for i, b in enumerate(spec.blocks)))


def fair_paths(draw: Draw, choices: Sequence[BlockSpec], rng: random.Random,
               slots: Sequence[int] | None = None) -> list[ArchSpec]:
    """Strict fairness: ``len(choices)`` paths in which every searched slot (``slots``, indices;
    None: all) uses each choice exactly once."""
    m = len(choices)
    base = [draw(rng) for _ in range(m)]
    slots = range(len(base[0].blocks)) if slots is None else slots
    perms = {i: rng.sample(range(m), m) for i in slots}  # one permutation per searched slot
    return [with_blocks(base[j], {i: choices[p[j]] for i, p in perms.items()}) for j in range(m)]


def uniform_path(draw: Draw, choices: Sequence[BlockSpec], rng: random.Random,
                 keep: Callable[[ArchSpec], bool] | None = None, max_tries: int = 1000,
                 slots: Sequence[int] | None = None) -> ArchSpec:
    """One path, each searched slot's choice drawn uniformly; redrawn until ``keep`` accepts it (when given)."""
    for _ in range(max_tries):
        spec = draw(rng)
        spec = with_blocks(spec, {i: rng.choice(choices) for i in (range(len(spec.blocks)) if slots is None else slots)})
        if keep is None or keep(spec):
            return spec
    raise ValueError(f"paths: no uniform path inside the budget in {max_tries:,} draws")


class SupernetTraining:
    """A supernet's training that can be stopped and continued: :meth:`run` trains up to ``until``
    steps of ``plan``; the learning rate follows the cosine over ``plan.steps`` at the overall
    step, so a training run in pieces equals an uninterrupted one (on CPU, same thread count;
    ``tests/test_supernet.py``). :meth:`state_dict` holds the weights, Adam's moments, the patch
    stream's and the path draw's RNG states, the steps done and each step's loss. ``device`` (the
    net is moved there) and ``speedups`` (default :func:`supernet_speedups`): where and how it runs;
    the paths and patches drawn do not depend on them."""

    def __init__(self, net: SuperNet, train: Sequence[ImagePair], plan: SupernetPlan, draw: Draw,
                 choices: Sequence[BlockSpec], extremes: tuple[ArchSpec, ArchSpec] | None = None,
                 keep: Callable[[ArchSpec], bool] | None = None, slots: Sequence[int] | None = None,
                 device: str | torch.device = "cpu", speedups: Speedups | None = None) -> None:
        if plan.sampling == "sandwich" and extremes is None:
            raise ValueError("sampling 'sandwich': needs the largest and the smallest path (extremes)")
        self.dev = torch.device(device)
        sp = speedups or supernet_speedups(self.dev.type)
        fmt = torch.channels_last if sp.channels_last else torch.contiguous_format
        self.net, self.plan, self.draw, self.choices, self.extremes = net.to(self.dev, memory_format=fmt), plan, draw, \
            tuple(choices), extremes
        self.keep, self.slots = keep, slots
        self.autocast = (torch.autocast(self.dev.type, dtype=torch.bfloat16) if sp.train_bf16(self.dev.type)
                         else contextlib.nullcontext())
        self.rng = random.Random(f"paths-{plan.seed}")  # its own stream, apart from the patches' (seeded plan.seed)
        self.patches = PatchSampler(train, net.scale, plan.lr_patch, plan.batch_size, self.dev, seed=plan.seed,
                                    channels_last=sp.channels_last)
        self.opt = torch.optim.Adam(net.parameters(), lr=plan.lr)
        self.steps_done, self.losses = 0, []

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based): cosine from ``plan.lr`` to 0 over ``plan.steps``."""
        return 0.5 * self.plan.lr * (1 + math.cos(math.pi * step / self.plan.steps))

    def run(self, until: int | None = None, on_step: Callable[[int, float], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> list[float]:
        """Train up to overall step ``until`` (default ``plan.steps``), asking ``should_stop`` before
        each step; returns the losses of the steps run (L1 on 0..255 against the ground truth, as
        ``_step`` logs it). ``on_step(step, loss)``:
        after each update, ``step`` counted from the start of the training."""
        until = self.plan.steps if until is None else min(until, self.plan.steps)
        self.net.train()
        ran = []
        while self.steps_done < until and not (should_stop is not None and should_stop()):
            for g in self.opt.param_groups:
                g["lr"] = self.lr_at(self.steps_done)
            lr_img, hr_img = self.patches.sample()
            self.opt.zero_grad(set_to_none=True)
            loss = _step(self, lr_img, hr_img)
            self.opt.step()
            self.steps_done += 1
            self.losses.append(loss)
            ran.append(loss)
            if on_step is not None:
                on_step(self.steps_done, loss)
        return ran

    def state_dict(self) -> dict[str, Any]:
        """Everything a continuation needs (the weights under ``model``, as the state file expects)."""
        return {"model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                "sampler_rng": self.patches.rng.getstate(), "path_rng": self.rng.getstate(),
                "steps_done": self.steps_done, "losses": list(self.losses)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a training of the same supernet, data and plan."""
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.patches.rng.setstate(_rng_state(state["sampler_rng"]))
        self.rng.setstate(_rng_state(state["path_rng"]))
        self.steps_done, self.losses = int(state["steps_done"]), [float(v) for v in state["losses"]]


def _rng_state(s: Any) -> tuple:
    """A ``random.Random`` state as ``getstate`` gives it (a saved one comes back with lists)."""
    return (s[0], tuple(s[1]), s[2])


def train_supernet(net: SuperNet, train: Sequence[ImagePair], plan: SupernetPlan, draw: Draw,
                   choices: Sequence[BlockSpec], extremes: tuple[ArchSpec, ArchSpec] | None = None,
                   on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Train ``net`` in place for ``plan.steps`` updates in one go (:class:`SupernetTraining`);
    returns each step's logged loss (L1 on 0..255 against the ground truth). ``net``'s initial
    weights are the caller's: seed before building it (as :func:`..jobs.supernet.train_supernet_job`
    does); torch's global generator is seeded here again for what the training itself draws."""
    torch.manual_seed(plan.seed)
    return SupernetTraining(net, train, plan, draw, choices, extremes).run(on_step=on_step)


def _step(t: SupernetTraining, lr_img: torch.Tensor, hr_img: torch.Tensor) -> float:
    """One update's gradients (accumulated over its paths); returns the L1 against the ground truth
    (0..255) it logs: the paths' mean, or the sandwich rule's largest path's (the others learn from
    its output, so their L1 is to it, not to the ground truth)."""
    if t.plan.sampling == "fair":
        paths = fair_paths(t.draw, t.choices, t.rng, t.slots)
    elif t.plan.sampling == "uniform":
        paths = [uniform_path(t.draw, t.choices, t.rng, t.keep, slots=t.slots)]
    else:
        paths = [*t.extremes, *(uniform_path(t.draw, t.choices, t.rng, t.keep, slots=t.slots) for _ in range(2))]
    target, logged = hr_img, torch.zeros((), device=hr_img.device)
    for i, spec in enumerate(paths):
        with t.autocast:
            out = t.net(lr_img, spec).float()
        loss = F.l1_loss(out, target)
        (loss / len(paths)).backward()
        if t.plan.sampling != "sandwich":
            logged += loss.detach() / len(paths)
        elif i == 0:
            logged, target = loss.detach(), out.detach()  # in-place distillation: the largest path teaches the others
    return float(logged)  # one read per step (on CUDA: one wait)


def score_design(net: SuperNet, spec: ArchSpec, pairs: Sequence[ImagePair], device: str = "cpu") -> tuple[float, float]:
    """``(PSNR dB, SSIM)`` of ``spec`` with the weights it inherits from ``net``, on ``pairs`` (Y
    channel, border of ``scale`` pixels cropped: :mod:`slwsr_search.sr.metrics`), run on
    ``device`` in fp32 (as every validation, :func:`~.device.validation_scores`)."""
    return validation_scores(net.extract(spec), pairs, spec.scale, torch.device(device))
