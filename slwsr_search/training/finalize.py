"""A long training that survives crashes: one folder per run, a checkpoint every K steps.

The run folder holds what the run was asked (:data:`CONFIG`), the last checkpoint (:data:`STATE`,
a :mod:`.state` file: weights, optimiser moments, schedule position, the patch sampler's RNG, the
moving average, the spec; its ``extra``: ``train_s``, ``threads``, ``saved``, ``cpus`` (every CPU
the run trained on: a resume on another says so in the log), ``window_loss`` / ``window_steps``
(the loss summed since the last progress row)), the progress table
(:data:`PROGRESS`) and a log of starts, resumes and checkpoints (:data:`LOG`). Started again with
the same request after a crash (``kill -9`` included), a run continues from its last checkpoint
and, on CPU with the same thread count, ends with exactly the weights of an uninterrupted run: the
learning rate is a function of the overall step, every file is replaced atomically, and the steps
after the last checkpoint are redone from the same state.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from ..config import check_keys, is_int, is_number, utc_now, write_atomic
from ..machine import cpu_label
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from .device import Speedups, validation_scores
from .loop import INTERRUPTED, OK, Training
from .protocol import Protocol
from .state import TrainingState, load_state, resume, save_state

#: The files of a run folder.
CONFIG, STATE, PROGRESS, LOG = "finalize.json", "state.pt", "progress.csv", "log.txt"
#: The progress table's columns: overall step, training seconds so far (summed over resumes, work
#: lost to a crash not counted), learning rate, training loss (L1 on 0..255: the step's batch on a
#: CPU; on CUDA, which reads the loss every 10 steps, the mean of the steps since the read before:
#: :meth:`.Speedups.loss_reads_every`), validation PSNR (dB) / SSIM in fp32 of the weights and, with
#: a moving average, of the averaged weights,
#: and ``loss_mean``: the mean training loss over every step since the previous row (a steadier
#: estimate than one batch's; empty in tables written before it was kept).
PROGRESS_COLUMNS: tuple[str, ...] = ("step", "train_s", "lr", "loss", "psnr", "ssim", "ema_psnr", "ema_ssim",
                                     "loss_mean")


@dataclass(frozen=True)
class FinalizeConfig:
    """What a run trains: everything that changes its weights. A run folder keeps one, and
    resuming with another is refused (:func:`check_resume`).

    ``train`` / ``val``: data sources (folders or builtin:train / builtin:val); ``checkpoint_every``
    and ``eval_every``: steps between checkpoints and between validation scores (the last step
    always gets both); ``eval_at``: more steps to score at (a ladder of horizons: a long
    reference's curve); ``ema_decay``: 0 (off) or the moving average's decay per step (BasicSR's
    0.999); ``origin``: where the spec came from, for the model card (not compared on resume);
    ``init``: a checkpoint of the spec to start from instead of a fresh initialisation (``slwsr
    supernet extract``'s inherited weights), refused when it holds another spec.
    """

    spec: ArchSpec
    protocol: Protocol
    train: tuple[str, ...]
    val: tuple[str, ...]
    checkpoint_every: int = 250
    eval_every: int = 500
    ema_decay: float = 0.0
    origin: str = ""
    eval_at: tuple[int, ...] = ()
    init: str = ""  # a checkpoint of the spec's network to start from (a supernet's inherited weights); "": fresh

    def __post_init__(self) -> None:
        for name in ("checkpoint_every", "eval_every"):
            v = getattr(self, name)
            if not is_int(v) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
        if not is_number(self.ema_decay) or not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay: expected 0 (off) or a number in (0, 1), got {self.ema_decay!r}")
        if not all(is_int(s) and 1 <= s <= self.protocol.steps for s in self.eval_at):
            raise ValueError(f"eval_at: expected steps in 1..{self.protocol.steps}, got {list(self.eval_at)!r}")
        object.__setattr__(self, "eval_at", tuple(sorted(set(self.eval_at))))
        if not self.train or not self.val:
            raise ValueError("train / val: need at least one data source each")
        object.__setattr__(self, "train", tuple(map(str, self.train)))
        object.__setattr__(self, "val", tuple(map(str, self.val)))
        object.__setattr__(self, "ema_decay", float(self.ema_decay))

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "protocol": self.protocol.to_dict(), "train": list(self.train),
                "val": list(self.val), "checkpoint_every": self.checkpoint_every, "eval_every": self.eval_every,
                "ema_decay": self.ema_decay, "origin": self.origin, "eval_at": list(self.eval_at), "init": self.init}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "finalize") -> "FinalizeConfig":
        d = check_keys(data, where, required=["spec", "protocol", "train", "val"],
                       optional=["checkpoint_every", "eval_every", "ema_decay", "origin", "eval_at", "init"])
        return cls(spec=ArchSpec.from_dict(d.pop("spec")), protocol=Protocol.from_dict(d.pop("protocol"), f"{where}.protocol"),
                   train=tuple(d.pop("train")), val=tuple(d.pop("val")), eval_at=tuple(d.pop("eval_at", ())), **d)


def check_resume(folder: Path, config: FinalizeConfig) -> FinalizeConfig | None:
    """The config a run folder already holds (None for a new run); ``ValueError`` naming each
    field that differs from ``config`` when the folder holds another run."""
    path = folder / CONFIG
    if not path.exists():
        if (folder / STATE).exists():
            raise ValueError(f"{folder / STATE}: a checkpoint without its {CONFIG}; not a run folder this command wrote")
        return None
    try:
        stored = FinalizeConfig.from_dict(json.loads(path.read_text()), str(path))
    except (ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: {e}") from None
    old, new = stored.to_dict(), config.to_dict()
    diff = []
    for key in new:
        if key == "origin":
            continue
        if key in ("spec", "protocol"):
            if key == "spec" and old[key] != new[key]:
                diff.append(f"spec {stored.spec.arch} -> {config.spec.arch}")
            elif key == "protocol":
                diff += [f"protocol.{k} {old[key][k]!r} -> {v!r}" for k, v in new[key].items() if old[key].get(k) != v]
        elif old[key] != new[key]:
            diff.append(f"{key} {old[key]!r} -> {new[key]!r}")
    if diff:
        raise ValueError(f"{path}: this folder holds another run ({'; '.join(diff)}); resume it with the same options, "
                         f"or give another output folder")
    return stored


@dataclass
class FinalizeResult:
    """How a call of :func:`finalize_training` ended. ``status``: ``ok`` (trained to the last
    step), ``interrupted`` (``should_stop``; the last checkpoint is on disk), ``nonfinite`` / ``oom``;
    ``training``: the :class:`Training` (its model and moving average) when ``ok``."""

    status: str
    reason: str | None
    steps_done: int
    train_s: float
    resumed_from: int | None
    training: Training | None = None
    last_row: dict | None = None
    cpus: tuple[str, ...] = ()  # every CPU the run trained on, in order (its checkpoints' record)


#: How the log records a resume from a checkpoint (what :func:`count_resumes` counts).
RESUMED = "resumed from the checkpoint at step"


def count_resumes(folder: str | Path) -> int:
    """How many times the run in ``folder`` resumed from a checkpoint (from its log)."""
    path = Path(folder) / LOG
    return path.read_text().count(RESUMED) if path.exists() else 0


def read_progress(folder: str | Path) -> list[dict[str, Any]]:
    """The progress table of a run folder as rows of numbers (empty cells as None)."""
    path = Path(folder) / PROGRESS
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [{k: (None if v == "" else int(v) if k == "step" else float(v)) for k, v in row.items()}
                for row in csv.DictReader(f)]


def _write_progress(folder: Path, rows: list[dict[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=PROGRESS_COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r[k]) for k in PROGRESS_COLUMNS})

    write_atomic(folder / PROGRESS, write)


def finalize_training(folder: str | Path, config: FinalizeConfig, data: TrainData, device: str = "auto",
                      speedups: Speedups = Speedups(), on_event: Callable[[str], None] | None = None,
                      on_step: Callable[[int, float], None] | None = None,
                      on_eval: Callable[[dict], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> FinalizeResult:
    """Train ``config`` into run folder ``folder``, continuing from its last checkpoint if it has one.

    ``on_event(line)``: each start, resume, checkpoint and end (also appended to the folder's log
    with a UTC timestamp); ``on_step(step, loss)``: after each step, with a float loss on every device
    (:meth:`.Training.run`); ``on_eval(row)``: each progress row. A run already at its last step returns at once (``ok``, its training loaded).
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        return _finalize(out, config, data, device, speedups, on_event, on_step, on_eval, should_stop)


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold an advisory ``flock`` on the run folder (on the folder itself: no lock file left) for
    the whole training; ``ValueError`` naming it when another process holds it, since two
    trainings of one folder would overwrite each other's checkpoints. A no-op without ``fcntl``."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{folder}: another process is training this run; let it finish, or give another "
                             "folder") from None
        yield
    finally:
        os.close(fd)


def _finalize(out: Path, config: FinalizeConfig, data: TrainData, device: str, speedups: Speedups,
              on_event: Callable[[str], None] | None, on_step: Callable[[int, float], None] | None,
              on_eval: Callable[[dict], None] | None, should_stop: Callable[[], bool] | None) -> FinalizeResult:
    """:func:`finalize_training` in its folder, which this process holds."""
    if check_resume(out, config) is None:
        write_atomic(out / CONFIG, lambda tmp: tmp.write_text(json.dumps(config.to_dict(), indent=2) + "\n"))
    training = Training(config.spec, data, config.protocol, device, speedups, ema_decay=config.ema_decay)
    run = _Run(out, config, data, training, on_event)
    run.start_or_resume()
    _write_progress(out, run.rows)

    def step_hook(step: int, loss: float) -> None:
        run.last_loss = loss
        if on_step:
            on_step(step, loss)

    p = config.protocol
    while training.steps_done < p.steps:
        done = training.steps_done
        t0 = time.perf_counter()
        res = training.run(_next_stop(done, config) - done, whole_schedule=True, score=False, should_stop=should_stop,
                           on_step=step_hook)
        if res.status != OK:
            if res.status != INTERRUPTED:
                run.event(f"failed: {res.reason}")
            return FinalizeResult(res.status, res.reason, done, run.train_s, run.resumed_from, cpus=tuple(run.cpus))
        run.train_s += time.perf_counter() - t0
        run.window_loss += res.loss_mean * res.steps_done
        run.window_steps += res.steps_done
        run.after_chunk(on_eval)
    if run.resumed_from != p.steps:
        run.event(f"finished {p.steps:,} steps in {run.train_s:,.0f} s of training")
    return FinalizeResult(OK, None, training.steps_done, run.train_s, run.resumed_from, training,
                          run.rows[-1] if run.rows else None, tuple(run.cpus))


def _next_stop(done: int, config: FinalizeConfig) -> int:
    """Where the chunk after step ``done`` ends: the next checkpoint, score or the last step."""
    return min([config.protocol.steps, (done // config.checkpoint_every + 1) * config.checkpoint_every,
                (done // config.eval_every + 1) * config.eval_every] + [s for s in config.eval_at if s > done])


def _scored_at(step: int, config: FinalizeConfig) -> bool:
    """Whether the progress table gets a row (a validation score) at ``step``."""
    return step % config.eval_every == 0 or step == config.protocol.steps or step in config.eval_at


class _Run:
    """One call of :func:`finalize_training` under way: its folder and log, its training, the
    progress rows and the training seconds so far (summed over resumes)."""

    def __init__(self, out: Path, config: FinalizeConfig, data: TrainData, training: Training,
                 on_event: Callable[[str], None] | None) -> None:
        self.out, self.config, self.data, self.training, self.on_event = out, config, data, training, on_event
        self.threads = torch.get_num_threads()
        self.rows: list[dict[str, Any]] = []
        self.train_s = 0.0
        self.resumed_from: int | None = None
        self.last_loss: float | None = None  # the last one read (PROGRESS_COLUMNS), for the progress row
        self.window_loss, self.window_steps = 0.0, 0  # loss sum and steps since the last row (its loss_mean)
        self.cpus: list[str] = [cpu_label()]  # every CPU the run trained on, in order

    def event(self, line: str) -> None:
        with (self.out / LOG).open("a") as f:
            f.write(f"{utc_now()} {line}\n")
        if self.on_event:
            self.on_event(line)

    def start_or_resume(self) -> None:
        """Continue from the folder's checkpoint, or log the start of a new run."""
        p, path = self.config.protocol, self.out / STATE
        if not path.exists():
            if self.config.init:  # weights, not a fresh initialisation; Adam and the patch stream start anew
                self.training.load_state_dict({"model": load_state(self.config.init, spec=self.config.spec).weights})
            self.event(f"started {self.config.spec.arch} ({p.steps:,} steps x {p.batch_size} x {p.lr_patch} px, lr "
                       f"{p.lr:g} {p.schedule}, seed {p.seed}, {self.threads} thread(s), {self.training.dev})"
                       + (f" from the weights in {self.config.init}" if self.config.init else ""))
            return
        state = resume(self.training, path, map_location=self.training.dev)
        if not is_number(state.extra.get("train_s")):
            raise ValueError(f"{path}: extra.train_s: expected the training seconds, got {state.extra.get('train_s')!r}")
        self.train_s = float(state.extra["train_s"])
        self.resumed_from = self.training.steps_done
        self.window_loss = float(state.extra.get("window_loss", 0.0))
        self.window_steps = int(state.extra.get("window_steps", 0))
        before = [str(c) for c in state.extra.get("cpus", [])]
        self.cpus = before + ([] if before and before[-1] == self.cpus[0] else self.cpus)
        # Rows scored after the checkpoint are redone (with the same values) from here.
        self.rows = [r for r in read_progress(self.out) if r["step"] <= self.resumed_from]
        made = state.extra.get("threads")
        note = "" if made == self.threads else \
            f"; with {self.threads} threads where the checkpoint was made with {made}: the result may differ in the last bits"
        if before and before[-1] != cpu_label():
            note += (f"; on another CPU ({cpu_label()}) than the checkpoint's ({before[-1]}): the result may differ in "
                     f"the last bits")
        if self.resumed_from == p.steps:
            self.event(f"found the finished training ({p.steps:,} steps)")
        else:
            self.event(f"{RESUMED} {self.resumed_from:,} of {p.steps:,}{note}")

    def after_chunk(self, on_eval: Callable[[dict], None] | None) -> None:
        """The progress row and the checkpoint due at the step the training reached."""
        step, c, p = self.training.steps_done, self.config, self.config.protocol
        if _scored_at(step, c):
            row: dict[str, Any] = {"step": step, "train_s": round(self.train_s, 2), "lr": p.lr_at(step - 1),
                                   "loss": self.last_loss,
                                   "loss_mean": self.window_loss / self.window_steps if self.window_steps else None}
            self.window_loss, self.window_steps = 0.0, 0
            row["psnr"], row["ssim"] = self._score(self.training.model)
            self.training.model.train()
            if self.training.ema is not None:
                row["ema_psnr"], row["ema_ssim"] = self._score(self.training.ema_model())
            self.rows.append(row)
            _write_progress(self.out, self.rows)
            if on_eval:
                on_eval(row)
        if step % c.checkpoint_every == 0 or step == p.steps:
            extra = {"train_s": self.train_s, "threads": self.threads, "saved": utc_now(), "cpus": self.cpus,
                     "window_loss": self.window_loss, "window_steps": self.window_steps}
            save_state(self.out / STATE, TrainingState.of(self.training, extra))
            self.event(f"checkpoint at step {step:,}")

    def _score(self, model) -> tuple[float, float]:
        return validation_scores(model, self.data.val, self.data.scale, self.training.dev)
