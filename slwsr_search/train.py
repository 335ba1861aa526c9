"""Short, deterministic trainings of one spec, and the ``train`` command.

A training draws random LR/HR patches (:class:`~slwsr_search.data.PatchSampler`), minimises the L1
loss with Adam, and scores PSNR/SSIM on the validation images with the literature's convention.
It never raises for a failed training: a non-finite loss or running out of GPU memory ends it
with a :class:`TrainResult` whose ``status`` says so (the search records a failed trial and goes on).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from .config import check_keys
from .data import PatchSampler, TrainData
from .evaluate import evaluate_pairs, model_upscaler
from .model import SLWSR, build_model
from .spec import ArchSpec

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
    lr: float = 1e-3  # the paper's 1e-4 does not beat bicubic within 300 steps (README)
    schedule: str = "cosine"
    halve_every: int = 200_000
    seed: int = 0
    augment: bool = True
    eval_every: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "lr_patch", "halve_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"protocol.{name}: expected an integer >= 1, got {v!r}")
        for name in ("seed", "eval_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"protocol.{name}: expected an integer >= 0, got {v!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not (self.lr > 0 and math.isfinite(self.lr)):
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
#: decay, which beats bicubic within 300 CPU steps where the paper's 1e-4 does not (README).
#: ``paper``: the paper's full schedule, lr 1e-4 halved every 200,000 of 1,000,000 steps.
PROTOCOLS: dict[str, Protocol] = {
    "short": Protocol(),
    "paper": Protocol(steps=1_000_000, lr=1e-4, schedule="step", halve_every=200_000),
}


@dataclass
class TrainResult:
    """What one training produced. ``status``: ``ok``, ``nonfinite``, ``oom`` or ``interrupted``.

    Scores are on the validation set (PSNR dB / SSIM, Y channel, ``scale`` px crop); ``None``
    when the training failed. Times in seconds: ``data_s`` drawing batches, ``compute_s``
    forward/backward/update, ``eval_s`` validation, ``wall_s`` all of it.
    """

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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def steps_per_s(self) -> float:
        train_s = self.data_s + self.compute_s
        return self.steps_done / train_s if train_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "model"}
        d["steps_per_s"] = self.steps_per_s
        return d


# ----- devices ---------------------------------------------------------------------------------


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:i``; ``ValueError`` otherwise."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device: unknown device {name!r}; expected auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: unsupported device {name!r}; expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {name!r} requested but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device: {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return dev


_MALLOC_TUNED = False


def tune_cpu_allocator() -> bool:
    """Keep freed memory in glibc's heap instead of returning it to the OS (no mmap, no trim).

    PyTorch's CPU allocator asks malloc for every activation; glibc serves large blocks with
    fresh mmaps, so each step pays page faults for ~40 MB tensors. Process-wide and idempotent;
    a no-op off glibc. Returns whether it was applied.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_mmap_max, m_trim_threshold = -4, -1
        _MALLOC_TUNED = bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False
    return _MALLOC_TUNED


@dataclass(frozen=True)
class Speedups:
    """Device settings that change speed, not results (beyond float rounding). Each is kept on
    by default only where ``bench train`` measured a gain (see the README).

    ``channels_last``: NHWC memory format (CPU and CUDA). ``malloc_tuning``: :func:`tune_cpu_allocator`
    (CPU). ``flush_denormal``: treat denormal floats as zero (CPU; tiny gradients otherwise take
    the slow microcode path: ~9% faster steps in paired runs). ``bf16``: bfloat16 autocast (CUDA
    only; on an AVX2 CPU without bf16 units it ran 10x slower). ``tf32``: TF32 matmuls/convs
    (CUDA). ``compile``: ``torch.compile`` (measured slower on a 2-core CPU: 0.83 s vs 0.67 s per
    step, plus ~48 s of compiling). ``threads``: CPU threads (None: PyTorch's default, one per core).
    """

    channels_last: bool = True
    malloc_tuning: bool = True
    flush_denormal: bool = True
    bf16: bool = True
    tf32: bool = True
    compile: bool = False
    threads: int | None = None


def _prepare_device(dev: torch.device, sp: Speedups) -> None:
    if dev.type == "cpu":
        if sp.threads is not None:
            if isinstance(sp.threads, bool) or not isinstance(sp.threads, int) or sp.threads < 1:
                raise ValueError(f"threads: expected an integer >= 1, got {sp.threads!r}")
            torch.set_num_threads(sp.threads)
        if sp.malloc_tuning:
            tune_cpu_allocator()
        torch.set_flush_denormal(sp.flush_denormal)  # process-wide: set either way, so runs don't leak it
    else:
        torch.backends.cuda.matmul.allow_tf32 = sp.tf32
        torch.backends.cudnn.allow_tf32 = sp.tf32
        torch.backends.cudnn.benchmark = True


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (isinstance(e, RuntimeError) and "out of memory" in str(e))


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


# ----- training --------------------------------------------------------------------------------


def setup(spec: ArchSpec, dev: torch.device, protocol: Protocol, speedups: Speedups):
    """``(model, forward, optimizer, autocast)`` for one training, seeded."""
    torch.manual_seed(protocol.seed)
    memory_format = torch.channels_last if speedups.channels_last else torch.contiguous_format
    model = build_model(spec).to(dev).to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=protocol.lr, betas=(0.9, 0.999), eps=1e-8)
    fwd = torch.compile(model) if speedups.compile else model
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if (dev.type == "cuda" and speedups.bf16)
                else contextlib.nullcontext())
    return model, fwd, optimizer, autocast


def train_step(fwd, optimizer, lr_img: torch.Tensor, hr_img: torch.Tensor, autocast) -> torch.Tensor:
    """One L1 step; returns the loss tensor (not synchronised)."""
    with autocast:
        loss = F.l1_loss(fwd(lr_img).float(), hr_img)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def train(spec: ArchSpec, data: TrainData, protocol: Protocol = Protocol(), device: str = "auto",
          speedups: Speedups = Speedups(), progress: bool = False,
          on_eval: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train ``spec`` on ``data`` under ``protocol``; never raises for a failed training.

    Deterministic on CPU: the same spec, data, protocol (seed) and thread count give the same
    weights and scores. ``on_eval`` receives each intermediate score (``eval_every``).
    ``should_stop`` is asked before every step; when it says so, the training ends at once with
    ``status="interrupted"`` (how a search stops on Ctrl-C at a clean point).
    """
    if spec.scale != data.scale:
        raise ValueError(f"scale: the spec is x{spec.scale} but the data was prepared for x{data.scale}")
    dev = resolve_device(device)
    _prepare_device(dev, speedups)
    t_start = time.perf_counter()
    data_s = compute_s = eval_s = 0.0
    history: list[dict] = []
    step = 0
    last_loss: float | None = None
    model = optimizer = fwd = sampler = lr_img = hr_img = loss = None
    autocast = contextlib.nullcontext()

    def result(status: str, reason: str | None, psnr=None, ssim=None) -> TrainResult:
        return TrainResult(status, reason, psnr, ssim, step, last_loss, time.perf_counter() - t_start,
                           data_s, compute_s, eval_s, str(dev), history, model if status == "ok" else None)

    def validate() -> tuple[float, float]:
        nonlocal eval_s
        t = time.perf_counter()
        model.eval()
        with autocast:
            r = evaluate_pairs(data.val, model_upscaler(model, str(dev)), data.scale)
        model.train()
        eval_s += time.perf_counter() - t
        return r.psnr, r.ssim

    try:
        model, fwd, optimizer, autocast = setup(spec, dev, protocol, speedups)
        sampler = PatchSampler(data.train, data.scale, protocol.lr_patch, protocol.batch_size, dev,
                               seed=protocol.seed, augment=protocol.augment, channels_last=speedups.channels_last)
        steps = range(protocol.steps)
        if progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc=spec.arch[:40], unit="step", file=sys.stderr, disable=None, leave=False)
        running = torch.zeros((), device=dev)
        for step in steps:
            if should_stop is not None and should_stop():
                return result("interrupted", f"interrupted at step {step}")
            t0 = time.perf_counter()
            lr_img, hr_img = sampler.sample()
            _sync(dev)
            t1 = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = protocol.lr_at(step)
            loss = train_step(fwd, optimizer, lr_img, hr_img, autocast)
            running = running + loss.detach()
            # A .item() per step would stall a GPU; check finiteness every 10 steps and at the end.
            if dev.type == "cpu" or (step + 1) % 10 == 0 or step + 1 == protocol.steps:
                value = float(running)
                running.zero_()
                if not math.isfinite(value):
                    compute_s += time.perf_counter() - t1
                    step += 1
                    return result("nonfinite", f"loss became non-finite ({value}) by step {step}")
                last_loss = value if dev.type == "cpu" else value / (step % 10 + 1)
                if progress and hasattr(steps, "set_postfix"):
                    steps.set_postfix(loss=f"{loss.item():.2f}", refresh=False)
            _sync(dev)
            compute_s += time.perf_counter() - t1
            data_s += t1 - t0
            if protocol.eval_every and (step + 1) % protocol.eval_every == 0 and step + 1 < protocol.steps:
                p, s = validate()
                point = {"step": step + 1, "psnr": p, "ssim": s, "loss": last_loss}
                history.append(point)
                if on_eval:
                    on_eval(point)
        step = protocol.steps
        p, s = validate()
        history.append({"step": step, "psnr": p, "ssim": s, "loss": last_loss})
        if on_eval:
            on_eval(history[-1])
        return result("ok", None, p, s)
    except BaseException as e:
        if not _is_oom(e):
            raise
        # Drop every reference to device memory before returning, so the next trial starts clean.
        del e
        model = optimizer = fwd = sampler = lr_img = hr_img = loss = None
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return result("oom", f"out of memory on {dev} at step {step}")


# ----- command line ----------------------------------------------------------------------------

PROG = "python -m slwsr_search.train"

DESCRIPTION = """\
Train one s-LWSR variant with a short, deterministic protocol and score it on validation images.

Protocol (--protocol short, the default and the search's): L1 loss; Adam (0.9, 0.999, eps 1e-8);
--steps 300 of --batch 16 random LR patches of --patch 48 px with flips and 90-degree rotations;
learning rate --lr 1e-3 with a cosine decay to 0; --seed 0 fixes the weights and the patch stream.
--protocol paper: lr 1e-4 halved every 200,000 of 1,000,000 steps (--schedule step). Scores: PSNR/SSIM
on the Y channel, `scale` pixels cropped, SR rounded to 8 bits. Data: --train-dir and --val-dir
take a folder (any layout `evaluate` accepts) or builtin:train / builtin:val (the defaults).
"""

EPILOG = """\
examples:
  python -m slwsr_search.train --preset s-lwsr16 --steps 300 --save s16.pt
  python -m slwsr_search.train --preset s-lwsr16-half --train-dir ../shared/data/train/T91 \\
      --train-dir ../shared/data/train/BSD200 --val-dir ../shared/data/Set5
  python -m slwsr_search.evaluate --checkpoint s16.pt --data ../shared/data/Set5

exit codes: 0 trained; 1 the training failed (non-finite loss, out of memory: said in the output);
2 bad input (one-line error).
"""


def build_parser():
    from .cli import Parser, add_spec_args

    d = Protocol()
    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    add_spec_args(p)
    g = p.add_argument_group("protocol (each flag overrides the chosen --protocol)")
    g.add_argument("--protocol", choices=list(PROTOCOLS), default="short", help="named protocol (default short)")
    g.add_argument("--steps", type=int, help=f"optimiser steps (short: {d.steps})")
    g.add_argument("--batch", type=int, help=f"patches per batch ({d.batch_size})")
    g.add_argument("--patch", type=int, help=f"LR patch size in pixels ({d.lr_patch})")
    g.add_argument("--lr", type=float, help=f"peak learning rate (short: {d.lr:g})")
    g.add_argument("--schedule", choices=SCHEDULES, help=f"learning-rate schedule (short: {d.schedule})")
    g.add_argument("--halve-every", type=int, help="steps between halvings for --schedule step (paper: 200000)")
    g.add_argument("--seed", type=int, help=f"initial weights and patch stream ({d.seed})")
    g.add_argument("--eval-every", type=int, metavar="K", help="also score the validation set every K steps")
    g.add_argument("--no-augment", action="store_true", help="no flips/rotations")
    g = p.add_argument_group("data")
    g.add_argument("--train-dir", action="append", metavar="DIR",
                   help="training images; repeat to combine folders (default builtin:train)")
    g.add_argument("--val-dir", action="append", metavar="DIR",
                   help="validation images; repeat to combine folders (default builtin:val)")
    g = p.add_argument_group("device")
    g.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")
    g.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core)")
    g.add_argument("--no-channels-last", action="store_true", help="keep NCHW memory format")
    g.add_argument("--no-bf16", action="store_true", help="no bfloat16 autocast on CUDA")
    g.add_argument("--compile", action="store_true", help="torch.compile the model (slower on CPU)")
    g = p.add_argument_group("output")
    g.add_argument("--save", metavar="CKPT", help="save a checkpoint (weights, spec, protocol; loads with weights_only=True)")
    g.add_argument("--json", action="store_true", help="print one JSON object with the result")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from pathlib import Path

    from .cli import spec_from_args
    from .cost import count_cost
    from .data import load_data
    from .evaluate import bicubic_upscaler
    from .model import save_checkpoint

    args = build_parser().parse_args(argv)
    _, spec = spec_from_args(args)
    overrides = {"steps": args.steps, "batch_size": args.batch, "lr_patch": args.patch, "lr": args.lr,
                 "schedule": args.schedule, "halve_every": args.halve_every, "seed": args.seed,
                 "eval_every": args.eval_every, "augment": False if args.no_augment else None}
    protocol = dataclasses.replace(PROTOCOLS[args.protocol], **{k: v for k, v in overrides.items() if v is not None})
    speedups = Speedups(channels_last=not args.no_channels_last, bf16=not args.no_bf16,
                        compile=args.compile, threads=args.threads)
    resolve_device(args.device)  # fail before loading data
    if args.save:
        parent = Path(args.save).resolve().parent
        if not parent.is_dir():
            raise ValueError(f"--save {args.save}: folder {parent} does not exist")
    show = not (args.quiet or args.json)
    data = load_data(args.train_dir or ["builtin:train"], args.val_dir or ["builtin:val"], spec.scale,
                     protocol.lr_patch, progress=show)
    bicubic = evaluate_pairs(data.val, bicubic_upscaler(spec.scale), spec.scale)
    on_eval = None if not show else (lambda pt: print(f"step {pt['step']:>6}: PSNR {pt['psnr']:.3f} dB  SSIM {pt['ssim']:.4f}", file=sys.stderr))
    res = train(spec, data, protocol, args.device, speedups, progress=show, on_eval=on_eval if args.eval_every else None)
    if res.ok and args.save:
        save_checkpoint(args.save, res.model, protocol.to_dict(),
                        extra={"psnr": res.psnr, "ssim": res.ssim, "train": data.train_source, "val": data.val_source})
    cost = count_cost(spec)
    if args.json:
        out = {"arch": spec.arch, "params": cost.params, "macs": cost.macs, **res.to_dict(),
               "bicubic_psnr": bicubic.psnr, "bicubic_ssim": bicubic.ssim, "protocol": protocol.to_dict(),
               "train": data.train_source, "val": data.val_source, "checkpoint": args.save if res.ok else None,
               "spec": spec.to_dict()}
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"arch        {spec.arch}")
        print(f"cost        {cost.params:,} params, {cost.gmacs:.2f} G Multi-Adds at 1280x720")
        print(f"data        train {data.train_source} ({len(data.train)} images), val {data.val_source} ({len(data.val)} images), x{spec.scale}")
        print(f"protocol    {protocol.steps} steps x {protocol.batch_size} patches of {protocol.lr_patch} px, "
              f"lr {protocol.lr:g} {protocol.schedule}, seed {protocol.seed}")
        if res.ok:
            print(f"result      PSNR {res.psnr:.3f} dB, SSIM {res.ssim:.4f} (bicubic {bicubic.psnr:.3f} dB, {bicubic.ssim:.4f})")
        else:
            print(f"FAILED      {res.status}: {res.reason}")
        print(f"time        {res.wall_s:.1f} s on {res.device}: {res.steps_per_s:.2f} steps/s, data {res.data_s:.1f} s, "
              f"compute {res.compute_s:.1f} s, eval {res.eval_s:.1f} s")
        if res.ok and args.save:
            print(f"saved       {args.save}")
    return 0 if res.ok else 1


if __name__ == "__main__":
    from .cli import run_cli

    sys.exit(run_cli(main, prog=PROG))
