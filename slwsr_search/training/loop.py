"""One short, deterministic training of one spec: random LR/HR patches
(:class:`~slwsr_search.sr.data.PatchSampler`), the L1 loss minimised with Adam, PSNR/SSIM scored on the
validation images with the literature's convention. It never raises for a failed training: a non-finite
loss or running out of GPU memory ends it with a :class:`TrainResult` whose ``status`` says so (the
search records a failed trial and goes on).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..model.network import SLWSR, build_model
from ..model.spec import ArchSpec
from ..sr.data import PatchSampler, TrainData
from .device import Speedups, is_oom, resolve_device, synchronize, validation_scores
from .outcomes import INTERRUPTED, NONFINITE, OK, OOM  # noqa: F401 (re-exported for callers of the loop)
from .protocol import Protocol

#: The share of the last steps whose mean training loss is :attr:`TrainResult.loss_tail`: a cheap
#: estimate of how well a design trains (a lower tail loss, a better design), beside validation PSNR.
TAIL_SHARE = 0.25


@dataclass
class TrainResult:
    """What one training produced. ``status``: one of :data:`OUTCOMES`. Scores are on the validation
    set (PSNR dB / SSIM, Y channel, ``scale`` px crop, fp32); ``None`` when the training failed. Times
    in seconds: ``data_s`` drawing batches, ``compute_s`` forward/backward/update, ``eval_s``
    validation, ``wall_s`` all of it."""

    status: str
    reason: str | None
    psnr: float | None
    ssim: float | None
    steps_done: int
    final_loss: float | None
    wall_s: float
    data_s: float
    compute_s: float
    eval_s: float
    device: str
    history: list[dict] = field(default_factory=list)
    model: SLWSR | None = field(default=None, repr=False, compare=False)
    loss_mean: float | None = None  # mean training loss (L1, 0..255 pixels) over every step
    loss_tail: float | None = None  # ... over the last quarter of the steps (TAIL_SHARE)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def steps_per_s(self) -> float:
        train_s = self.data_s + self.compute_s
        return self.steps_done / train_s if train_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "model"}
        d["steps_per_s"] = self.steps_per_s
        return d


def setup(spec: ArchSpec, dev: torch.device, protocol: Protocol, speedups: Speedups):
    """``(model, forward, optimizer, autocast)`` for one training, seeded."""
    torch.manual_seed(protocol.seed)
    memory_format = torch.channels_last if speedups.channels_last else torch.contiguous_format
    model = build_model(spec).to(dev).to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=protocol.lr, betas=(0.9, 0.999), eps=1e-8)
    fwd = torch.compile(model) if speedups.compile else model
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16) if speedups.train_bf16(dev.type) else contextlib.nullcontext()
    return model, fwd, optimizer, autocast


def train_step(fwd, optimizer, lr_img: torch.Tensor, hr_img: torch.Tensor, autocast) -> torch.Tensor:
    """One L1 step; returns the loss tensor (not synchronised)."""
    with autocast:
        loss = F.l1_loss(fwd(lr_img).float(), hr_img)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


@dataclass
class _Segment:
    """One :meth:`Training.run` under way: what it was asked, and the counts its result reports."""

    protocol: Protocol  # the training's, with the segment's steps
    whole_schedule: bool
    score: bool
    should_stop: Callable[[], bool] | None
    on_step: Callable[[int, float], None] | None
    on_eval: Callable[[dict], None] | None
    bar: Any = None  # the progress bar (tqdm), when asked for
    t_start: float = field(default_factory=time.perf_counter)
    step: int = 0  # the step under way; the segment's steps once done
    last_loss: float | None = None
    data_s: float = 0.0
    compute_s: float = 0.0
    eval_s: float = 0.0
    history: list[dict] = field(default_factory=list)


class _LossSums:
    """A segment's loss sums, kept on the device: read every few steps (``running``, for the
    finiteness check and ``on_step``) and once at the end (``total``, ``tail``)."""

    def __init__(self, dev: torch.device, steps: int) -> None:
        self.running, self.total, self.tail = (torch.zeros((), device=dev) for _ in range(3))
        self.running_steps = 0
        self.tail_start = steps - max(1, round(TAIL_SHARE * steps))

    def add(self, loss: torch.Tensor, step: int) -> None:
        self.running = self.running + loss
        self.running_steps += 1
        self.total += loss
        if step >= self.tail_start:
            self.tail += loss

    def take_mean(self) -> float:
        """The mean loss of the steps since the last call (a sync), and start it again."""
        value = float(self.running) / self.running_steps
        self.running, self.running_steps = torch.zeros_like(self.running), 0
        return value


class Training:
    """One training that can be continued: each :meth:`run` trains that many more steps, as one
    segment with its own learning-rate schedule (``protocol.schedule`` over the segment's steps:
    with ``cosine``, warm restarts at each segment, as SGDR), then scores the validation set.

    The first ``run(protocol.steps)`` is exactly :func:`train`. Weights, optimiser moments and the
    patch stream carry over from segment to segment, and :meth:`state_dict` holds all of them, so a
    training saved after a segment and loaded in another process continues exactly (on CPU, same
    thread count) as it would have. After a failed segment (non-finite loss, out of memory) it
    cannot continue.
    """

    def __init__(self, spec: ArchSpec, data: TrainData, protocol: Protocol = Protocol(), device: str = "auto",
                 speedups: Speedups = Speedups(), ema_decay: float = 0.0) -> None:
        if spec.scale != data.scale:
            raise ValueError(f"scale: the spec is x{spec.scale} but the data was prepared for x{data.scale}")
        if not (0.0 <= ema_decay < 1.0):
            raise ValueError(f"ema_decay: expected 0 (off) or a number in (0, 1), got {ema_decay!r}")
        self.spec, self.data, self.protocol, self.speedups = spec, data, protocol, speedups
        self.ema_decay = float(ema_decay)
        self.ema: dict[str, torch.Tensor] | None = None  # the weights' moving average, when ema_decay > 0
        self.dev = resolve_device(device)
        self.loss_every = speedups.loss_reads_every(self.dev.type)
        self.steps_done = 0  # over every segment
        self.segments = 0
        self.failed = False
        self.model = self.fwd = self.optimizer = self.sampler = None
        self.autocast = contextlib.nullcontext()

    def _build(self) -> None:
        # Built on the first run (inside its out-of-memory guard), in the order train() always used.
        self.model, self.fwd, self.optimizer, self.autocast = setup(self.spec, self.dev, self.protocol, self.speedups)
        p = self.protocol
        self.sampler = PatchSampler(self.data.train, self.data.scale, p.lr_patch, p.batch_size, self.dev, seed=p.seed,
                                    augment=p.augment, channels_last=self.speedups.channels_last)
        if self.ema_decay > 0:
            self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self._ema_pairs = [(self.ema[k], v) for k, v in self.model.state_dict().items() if v.is_floating_point()]

    @torch.no_grad()
    def _update_ema(self) -> None:
        # BasicSR's model_ema: ema = decay * ema + (1 - decay) * weights, after every optimiser step.
        for e, v in self._ema_pairs:
            e.mul_(self.ema_decay).add_(v.detach(), alpha=1 - self.ema_decay)

    def ema_model(self) -> SLWSR:
        """A copy of the network holding the moving average of the weights (eval mode, on the device)."""
        if self.ema is None:
            raise ValueError("ema_model: this training keeps no moving average (ema_decay is 0)")
        model = build_model(self.spec).to(self.dev)
        model.load_state_dict(self.ema)
        return model.eval()

    def state_dict(self) -> dict[str, Any]:
        """Everything a continuation needs: weights, optimiser state, the patch stream's RNG, counts."""
        if self.model is None or self.failed:
            raise ValueError("state_dict: the training has not run a segment, or it failed")
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "sampler_rng": self.sampler.rng.getstate(), "steps_done": self.steps_done, "segments": self.segments}
        if self.ema is not None:
            state["ema"] = self.ema
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a training of the same spec, data and protocol; from
        weights alone (``{"model": ...}``), start a new training from them (a fine-tune)."""
        if self.model is None:
            self._build()
        self.model.load_state_dict(state["model"])
        if "optimizer" not in state:
            return
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.rng.setstate(state["sampler_rng"])
        self.steps_done, self.segments = int(state["steps_done"]), int(state["segments"])
        if (self.ema is None) != ("ema" not in state):
            raise ValueError("load_state_dict: the saved training and this one differ in keeping a moving average (ema_decay)")
        if self.ema is not None:
            for k, v in state["ema"].items():
                self.ema[k].copy_(v)

    def run(self, steps: int, progress: bool = False, on_eval: Callable[[dict], None] | None = None,
            should_stop: Callable[[], bool] | None = None, whole_schedule: bool = False,
            score: bool = True, on_step: Callable[[int, float], None] | None = None) -> TrainResult:
        """Train ``steps`` more steps (one segment), then score; never raises for a failed training.
        Times and loss estimators in the result are the segment's; ``history`` steps count from the
        start of the training.

        ``whole_schedule``: the learning rate follows ``protocol``'s schedule over ``protocol.steps``
        at the training's overall step, instead of restarting it for the segment: one long training
        run in pieces (``finalize``) then has exactly the schedule of an uninterrupted one.
        ``score=False``: no validation at the end (``psnr``/``ssim`` None). ``on_step(step, loss)``
        after each step, on every device: the overall step and the float loss last read (the mean
        since the read before; read at the segment's first and last steps and every
        ``speedups.loss_reads_every`` steps: 1 on a CPU, each step's own loss; 10 on CUDA)."""
        if self.failed:
            raise ValueError("run: this training failed; it cannot continue")
        seg = _Segment(dataclasses.replace(self.protocol, steps=steps), whole_schedule, score, should_stop, on_step,
                       on_eval)
        try:
            if self.model is None:
                self._build()
            return self._run_segment(seg, progress)
        except BaseException as e:
            if not is_oom(e):
                raise
        # Out of memory. Handled here, past the except block, so that the traceback (and the
        # tensors its frames hold) is gone before the cache is emptied.
        return self._out_of_memory(seg)

    def _run_segment(self, seg: _Segment, progress: bool) -> TrainResult:
        """The segment's steps, then its score (inside :meth:`run`'s out-of-memory guard)."""
        steps = seg.protocol.steps
        it = range(steps)
        if progress:
            from tqdm import tqdm

            it = seg.bar = tqdm(it, desc=self.spec.arch[:40], unit="step", file=sys.stderr, disable=None, leave=False)
        sums = _LossSums(self.dev, steps)
        for step in it:
            seg.step = step
            if seg.should_stop is not None and seg.should_stop():
                return self._result(seg, INTERRUPTED, f"interrupted at step {self.steps_done + step}")
            failed = self._step(seg, sums, step)
            if failed is not None:
                return failed
            self._after_step(seg, step)
        seg.step = steps
        self.steps_done += steps
        self.segments += 1
        p = s = None
        if seg.score:
            p, s = self._validate(seg)
            seg.history.append({"step": self.steps_done, "psnr": p, "ssim": s, "loss": seg.last_loss})
            if seg.on_eval:
                seg.on_eval(seg.history[-1])
        return self._result(seg, OK, None, p, s, float(sums.total) / steps, float(sums.tail) / (steps - sums.tail_start))

    def _step(self, seg: _Segment, sums: _LossSums, step: int) -> TrainResult | None:
        """Step ``step`` of the segment, timed; the failed result when the loss became non-finite."""
        dev = self.dev
        t0 = time.perf_counter()
        lr_img, hr_img = self.sampler.sample()
        synchronize(dev)
        t1 = time.perf_counter()
        lr_now = self.protocol.lr_at(self.steps_done + step) if seg.whole_schedule else seg.protocol.lr_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr_now
        loss = train_step(self.fwd, self.optimizer, lr_img, hr_img, self.autocast)
        if self.ema is not None:
            self._update_ema()
        sums.add(loss.detach(), step)
        # A read waits for the device (a GPU's every step would stall it); the first gives on_step a float.
        if step == 0 or (step + 1) % self.loss_every == 0 or step + 1 == seg.protocol.steps:
            value = sums.take_mean()
            if not math.isfinite(value):
                seg.compute_s += time.perf_counter() - t1
                seg.step = step + 1
                return self._result(seg, NONFINITE, f"loss became non-finite ({value}) by step {self.steps_done + step + 1}")
            seg.last_loss = value
            if seg.bar is not None:
                seg.bar.set_postfix(loss=f"{value:.2f}", refresh=False)
        synchronize(dev)
        seg.compute_s += time.perf_counter() - t1
        seg.data_s += t1 - t0
        return None

    def _after_step(self, seg: _Segment, step: int) -> None:
        """``on_step``, and the intermediate score every ``eval_every`` steps (not at the last)."""
        if seg.on_step is not None:
            seg.on_step(self.steps_done + step + 1, seg.last_loss)  # a float: read at the segment's first step
        every = seg.protocol.eval_every
        if every and (step + 1) % every == 0 and step + 1 < seg.protocol.steps:
            p, s = self._validate(seg)
            point = {"step": self.steps_done + step + 1, "psnr": p, "ssim": s, "loss": seg.last_loss}
            seg.history.append(point)
            if seg.on_eval:
                seg.on_eval(point)

    def _validate(self, seg: _Segment) -> tuple[float, float]:
        """PSNR/SSIM of the weights on the validation set (timed into the segment's ``eval_s``)."""
        t = time.perf_counter()
        scores = validation_scores(self.model, self.data.val, self.data.scale, self.dev)
        self.model.train()
        seg.eval_s += time.perf_counter() - t
        return scores

    def _result(self, seg: _Segment, status: str, reason: str | None, psnr: float | None = None,
                ssim: float | None = None, loss_mean: float | None = None, loss_tail: float | None = None) -> TrainResult:
        if status in (NONFINITE, OOM):
            self.failed = True
        return TrainResult(status, reason, psnr, ssim, seg.step, seg.last_loss, time.perf_counter() - seg.t_start,
                           seg.data_s, seg.compute_s, seg.eval_s, str(self.dev), seg.history,
                           self.model if status == OK else None, loss_mean, loss_tail)

    def _out_of_memory(self, seg: _Segment) -> TrainResult:
        # Drop every reference to device memory before returning, so the next trial starts clean.
        self.model = self.optimizer = self.fwd = self.sampler = None
        if self.dev.type == "cuda":
            torch.cuda.empty_cache()
        return self._result(seg, OOM, f"out of memory on {self.dev} at step {self.steps_done + seg.step}")


def train(spec: ArchSpec, data: TrainData, protocol: Protocol = Protocol(), device: str = "auto",
          speedups: Speedups = Speedups(), progress: bool = False,
          on_eval: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train ``spec`` on ``data`` under ``protocol``; never raises for a failed training.

    Deterministic on CPU: the same spec, data, protocol (seed) and thread count give the same
    weights and scores. Only the per-training fields of ``speedups`` are used here (memory format,
    bf16, compile); the process-wide ones are the entry point's (:func:`.device.configure_device`).
    ``on_eval`` receives each intermediate score (``eval_every``). ``should_stop`` is asked before
    every step; when it says so, the training ends at once with ``status="interrupted"`` (how a
    search stops on Ctrl-C at a clean point). A training to continue later: :class:`Training`.
    """
    return Training(spec, data, protocol, device, speedups).run(protocol.steps, progress, on_eval, should_stop)
