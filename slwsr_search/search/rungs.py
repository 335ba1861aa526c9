"""One design's trainings in a multi-fidelity study: up the rungs, then more seeds at the top.

:func:`run_design` trains a design's first seed segment by segment (one segment per rung of
``[fidelity]``), asking before each further segment whether the design goes on (the runner's
promotion rule, :mod:`.promotion`); a design that reaches the top rung is trained with its other
seeds, each through the same segments. After every segment the whole state (weights, optimiser,
patch stream, the results so far) is saved to a :class:`RungStore` file (the training-state format
of :mod:`slwsr_search.training.state`), so a trial cut short
(Ctrl-C, a killed worker) and run again continues from its last finished segment instead of from
scratch, with the result it would have had (on CPU, same thread count).
"""

from __future__ import annotations

import dataclasses
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..config import is_int
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from ..training.device import Speedups
from ..training.loop import OK, TrainResult, Training
from ..training.protocol import Protocol
from ..training.state import TrainingState, load_state, save_state
from .record import SCREENED


@dataclass
class DesignProgress:
    """A design's results so far. ``rung_*``: its first seed at each rung reached (PSNR dB, SSIM,
    wall seconds of the segment, mean training loss of the segment, mean training loss over the
    segment's last quarter: L1 on 0..255 pixels); ``seed_psnr``/``seed_ssim``/``seed_loss_tail``:
    each seed's score at the top rung (the first seed's is its top-rung result); ``seed_int8_psnr``/
    ``seed_int8_ssim``: each top-rung seed's network quantized to int8 and scored on the validation set
    (when the plan scores int8; :mod:`.int8`); ``promoted``: the
    highest rung the design was allowed to train for (0: the first rung only); ``seconds``: wall
    seconds of every segment of every seed."""

    rung_psnr: list[float] = field(default_factory=list)
    rung_ssim: list[float] = field(default_factory=list)
    rung_seconds: list[float] = field(default_factory=list)
    rung_loss: list[float] = field(default_factory=list)
    rung_loss_tail: list[float] = field(default_factory=list)
    seed_psnr: list[float] = field(default_factory=list)
    seed_ssim: list[float] = field(default_factory=list)
    seed_loss_tail: list[float] = field(default_factory=list)
    seed_int8_psnr: list[float] = field(default_factory=list)  # empty where int8 is not scored
    seed_int8_ssim: list[float] = field(default_factory=list)
    promoted: int = 0
    seconds: float = 0.0

    def add_rung(self, res: TrainResult) -> None:
        """The first seed's result at the next rung."""
        self.rung_psnr.append(res.psnr)
        self.rung_ssim.append(res.ssim)
        self.rung_seconds.append(round(res.wall_s, 3))
        self.rung_loss.append(res.loss_mean)
        self.rung_loss_tail.append(res.loss_tail)

    def add_seed(self, res: TrainResult) -> None:
        """A seed's result at the top rung."""
        self.seed_psnr.append(res.psnr)
        self.seed_ssim.append(res.ssim)
        self.seed_loss_tail.append(res.loss_tail)

    def attrs(self, seeds: Sequence[int]) -> dict[str, Any]:
        """The progress as a trial's record fields (:class:`~.record.TrialRecord`'s of the same
        names), with the ``seeds`` trained so far (the first alone until it reaches the top)."""
        return {"rung_psnr": self.rung_psnr, "rung_ssim": self.rung_ssim, "rung_seconds": self.rung_seconds,
                "rung_loss": self.rung_loss, "rung_loss_tail": self.rung_loss_tail, "promoted": self.promoted,
                "seeds": seeds[:max(1, len(self.seed_psnr))], "seed_psnr": self.seed_psnr, "seed_ssim": self.seed_ssim,
                "seed_loss_tail": self.seed_loss_tail, "seed_int8_psnr": self.seed_int8_psnr or None}


class RungStore:
    """Continuation files of designs being trained, one per (protocol key, spec, seed), in
    ``folder``: :mod:`~slwsr_search.training.state` files whose ``extra`` holds the design's
    ``progress`` (a :class:`DesignProgress` as a dict), the protocol ``key`` and where the training
    they hold stands (``seed_index``, ``segments_done``; no training between seeds). A file is written
    atomically after each segment and removed when the design is done; an unreadable file, or one
    holding another training than its name says (:func:`_foreign`), is treated as absent, with a
    warning: the design starts over, with the same result, and its first segment replaces the file."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str, spec_hash: str, seed: int) -> Path:
        return self.folder / f"{key}-{spec_hash}-{seed}.pt"

    def load(self, path: Path, spec: ArchSpec | None = None) -> TrainingState | None:
        """The state in ``path``; None when absent, unreadable or of another spec than ``spec`` (warned)."""
        try:
            return load_state(path, spec=spec)
        except ValueError as e:
            if path.exists():
                warnings.warn(f"{e}; {_OVER}", stacklevel=2)
            return None

    def save(self, path: Path, state: TrainingState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        save_state(path, state)

    def drop(self, path: Path) -> None:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Current:
    """The training a continuation file holds: seed ``seed_index`` after ``segments_done`` segments."""

    seed_index: int
    segments_done: int
    state: dict[str, Any]  # Training.state_dict()


_INT8_RENAMED = {"int8_psnr": "seed_int8_psnr", "int8_ssim": "seed_int8_ssim"}  # names in older files
_INT8_LISTS = tuple(_INT8_RENAMED.values())
#: Where a continuation file's training stands (its ``extra``, beside ``progress`` and ``key``).
_WHERE = ("seed_index", "segments_done")
_OVER = "the design starts over (the file is replaced when its first segment is saved)"


def _foreign(state: TrainingState, plan: "DesignPlan", key: str) -> str | None:
    """Why a continuation file named for ``plan``'s design (key, spec, first seed; the spec is checked
    on loading) holds another training (None: it does not): another ``key`` (files from before it was
    recorded hold none), or another protocol than the plan's with the seed of the training it holds
    (``seeds[seed_index]``; a file of progress only holds the plan's own)."""
    if state.extra.get("key", key) != key:
        return f"written under protocol key {state.extra['key']!r}, not {key!r}"
    j = state.extra.get("seed_index")
    if state.resumable and not (is_int(j) and 0 <= j < len(plan.seeds)):
        return f"holds a training of seed number {j!r}, of a design with {len(plan.seeds)} seed(s)"
    asked = (dataclasses.replace(plan.protocol, seed=plan.seeds[j]) if state.resumable else plan.protocol).to_dict()
    diff = "; ".join(f"{k} {state.protocol.get(k)!r}, not {v!r}" for k, v in asked.items() if state.protocol.get(k) != v)
    return f"holds a training of another protocol ({diff or 'other keys'})" if state.protocol != asked else None


def _saved(state: TrainingState | None) -> tuple[DesignProgress, _Current | None] | None:
    """The progress and the training in a continuation file; None when it lacks a field or holds
    lists of different lengths (written by an older version): the design starts over."""
    extra = state.extra if state is not None else {}
    progress = extra.get("progress")
    names = {f.name for f in dataclasses.fields(DesignProgress)}
    if isinstance(progress, dict):  # older files: the int8 lists named int8_*, or none (before int8 scores existed)
        progress = {**{new: progress.pop(old, []) for old, new in _INT8_RENAMED.items()}, **progress}
    if not (isinstance(progress, dict) and set(progress) == names and all(is_int(extra.get(k)) for k in _WHERE)):
        return None
    for prefix in ("rung_", "seed_"):  # the int8 lists are empty where int8 is not scored
        lists = [progress[k] for k in names if k.startswith(prefix) and k not in _INT8_LISTS]
        if not all(isinstance(v, list) for v in lists) or len({len(v) for v in lists}) != 1:
            return None
    current = _Current(extra["seed_index"], extra["segments_done"], state.training) if state.resumable else None
    return DesignProgress(**progress), current


@dataclass(frozen=True)
class DesignPlan:
    """What :func:`run_design` trains: ``spec`` on ``data`` under ``protocol``, up the rungs
    (``segments``: the steps of each) with ``seeds[0]``, then with the other ``seeds`` at the top;
    on ``device`` with ``speedups``."""

    spec: ArchSpec
    data: TrainData = field(repr=False, compare=False)
    protocol: Protocol
    segments: tuple[int, ...]
    seeds: tuple[int, ...]
    device: str = "auto"
    speedups: Speedups = Speedups()
    #: Scores a top-rung seed's network in int8, ``(PSNR dB, SSIM)`` (:func:`.int8.int8_scorer`); None: not scored.
    int8: Callable[[Any], tuple[float, float]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, least in (("segments", 1), ("seeds", 0)):
            v = tuple(getattr(self, name))
            if not v or not all(is_int(x) and x >= least for x in v):
                raise ValueError(f"{name}: expected a non-empty list of integers >= {least}, "
                                 f"got {getattr(self, name)!r}")
            object.__setattr__(self, name, v)

    def training(self, j: int) -> Training:
        """The training of seed ``seeds[j]``, not yet run."""
        return Training(self.spec, self.data, dataclasses.replace(self.protocol, seed=self.seeds[j]), self.device,
                        self.speedups)


@dataclass(frozen=True)
class DesignRun:
    """How :func:`run_design` ended. ``status``: ``ok`` (every seed at the top), :data:`SCREENED`
    (not promoted; ``reason`` says past which rung), or a failed or interrupted segment's training
    status; ``progress``: the results so far; ``last``: the last segment's result (None when the
    call trained none)."""

    status: str
    reason: str | None
    progress: DesignProgress
    last: TrainResult | None

    @property
    def ok(self) -> bool:
        return self.status == OK

    def attrs(self) -> dict[str, Any]:
        """How the design ended, as a trial's record fields: the status, the top's scores (means over
        the seeds; None for a design that did not finish there), the training seconds and, when a
        segment ran, its speed, device and last loss."""
        prog = self.progress
        top = self.status == OK and len(prog.seed_psnr) > 0
        out = {"status": self.status, "reason": self.reason,
               "psnr": statistics.fmean(prog.seed_psnr) if top else None,
               "ssim": statistics.fmean(prog.seed_ssim) if top else None,
               "loss": statistics.fmean(prog.seed_loss_tail) if top else None,
               "train_seconds": round(prog.seconds, 3)}
        if top and prog.seed_int8_psnr:
            int8 = statistics.fmean(prog.seed_int8_psnr)
            out.update(int8_psnr=int8, int8_ssim=statistics.fmean(prog.seed_int8_ssim), int8_drop_db=out["psnr"] - int8)
        if self.last is not None:
            out.update(steps_per_s=round(self.last.steps_per_s, 4), device=self.last.device,
                       final_loss=self.last.final_loss)
        return out


def run_design(plan: DesignPlan, goes_on: Callable[[int, DesignProgress], bool] | None = None,
               on_progress: Callable[[DesignProgress], None] | None = None, store: RungStore | None = None,
               key: str = "", progress: bool = False, should_stop: Callable[[], bool] | None = None) -> DesignRun:
    """Train ``plan``'s design up the rungs, then its other seeds at the top.

    ``goes_on(k, progress)`` is asked when the design has finished rung ``k`` below the top and
    was not yet allowed further: False stops it there (status :data:`SCREENED`; None: every rung
    goes on). ``on_progress`` hears every change worth recording (a rung reached, a promotion, a
    seed finished). ``store`` (with the study's protocol ``key``): where the design's continuation
    file lives. ``progress``: a progress bar per segment; ``should_stop``: asked before each step.
    """
    climb = _Climb(plan, goes_on or (lambda k, p: True), on_progress or (lambda p: None), store, key, progress,
                   should_stop)
    current = climb.load()
    if not climb.prog.seed_psnr:
        ended = climb.first_seed(current)
        if ended is not None:
            return ended
        current = None
    return climb.other_seeds(current)


class _Climb:
    """One call of :func:`run_design` under way: its plan and callbacks, the results so far, the
    last segment's result and the continuation file they are saved to."""

    def __init__(self, plan: DesignPlan, goes_on: Callable[[int, DesignProgress], bool],
                 on_progress: Callable[[DesignProgress], None], store: RungStore | None, key: str, progress: bool,
                 should_stop: Callable[[], bool] | None) -> None:
        self.plan, self.goes_on, self.on_progress, self.store = plan, goes_on, on_progress, store
        self.path = store.path(key, plan.spec.hash, plan.seeds[0]) if store is not None else None
        self.key, self.progress, self.should_stop = key, progress, should_stop
        self.prog = DesignProgress()
        self.last: TrainResult | None = None

    def load(self) -> _Current | None:
        """The saved progress (into ``prog``) and the training to continue, if any (none from a foreign file)."""
        state = self.store.load(self.path, self.plan.spec) if self.store is not None else None
        why = _foreign(state, self.plan, self.key) if state is not None else None
        if why is not None:
            warnings.warn(f"{self.path}: {why}; {_OVER}", stacklevel=3)
        saved = _saved(state) if why is None else None
        if saved is None:
            return None
        self.prog, current = saved
        return current

    def end(self, status: str, reason: str | None = None) -> DesignRun:
        return DesignRun(status, reason, self.prog, self.last)

    def first_seed(self, current: _Current | None) -> DesignRun | None:
        """The first seed, rung by rung; the run's end when it ends there (screened, failed)."""
        segments, prog = self.plan.segments, self.prog
        tr = self.plan.training(0)
        m = len(prog.rung_psnr)
        if m and not (current and current.seed_index == 0 and current.segments_done == m):
            prog = self.prog = DesignProgress()  # results without the weights to continue them: start over
            m = 0
        elif m:
            tr.load_state_dict(current.state)
        while m < len(segments):
            if m > prog.promoted:
                if not self.goes_on(m - 1, prog):
                    self.drop()
                    return self.end(SCREENED, f"not promoted past rung {m - 1}")
                prog.promoted = m
                self.on_progress(prog)
            last = self.segment(tr, m)
            if not last.ok:
                return self.end(last.status, last.reason)
            prog.add_rung(last)
            m += 1
            if m == len(segments):
                prog.add_seed(last)
                self.score_int8(tr)
            self.checkpoint(0, m, tr if m < len(segments) else None)
            self.on_progress(prog)
        return None

    def other_seeds(self, current: _Current | None) -> DesignRun:
        """More seeds at the top, each through every segment; then the design is done."""
        segments = self.plan.segments
        for j in range(len(self.prog.seed_psnr), len(self.plan.seeds)):
            tr, m = self.plan.training(j), 0
            if current and current.seed_index == j:
                tr.load_state_dict(current.state)
                m = current.segments_done
            current = None
            for mm in range(m, len(segments)):
                last = self.segment(tr, mm)
                if not last.ok:
                    return self.end(last.status, last.reason)
                if mm + 1 < len(segments):
                    self.checkpoint(j, mm + 1, tr)
            self.prog.add_seed(self.last)
            self.score_int8(tr)
            self.checkpoint(j + 1, 0, None)
            self.on_progress(self.prog)
        self.drop()
        return self.end(OK)

    def score_int8(self, tr: Training) -> None:
        """A top-rung seed's network in int8, when the plan scores it."""
        if self.plan.int8 is not None:
            psnr, ssim = self.plan.int8(tr.model)
            self.prog.seed_int8_psnr.append(psnr)
            self.prog.seed_int8_ssim.append(ssim)

    def segment(self, tr: Training, m: int) -> TrainResult:
        self.last = tr.run(self.plan.segments[m], self.progress, should_stop=self.should_stop)
        self.prog.seconds += self.last.wall_s
        return self.last

    def checkpoint(self, j: int, done: int, tr: Training | None) -> None:
        """Save the progress, and ``tr`` (seed ``j`` after ``done`` segments) when a training is under way."""
        if self.store is None:
            return
        extra = {"progress": dataclasses.asdict(self.prog), "seed_index": j, "segments_done": done, "key": self.key}
        state = (TrainingState.of(tr, extra) if tr is not None
                 else TrainingState(self.plan.spec, self.plan.protocol.to_dict(), extra=extra))
        self.store.save(self.path, state)

    def drop(self) -> None:
        if self.store is not None:
            self.store.drop(self.path)
