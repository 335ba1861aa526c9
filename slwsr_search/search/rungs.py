"""One design's trainings in a multi-fidelity study: up the rungs, then more seeds at the top.

:func:`run_design` trains a design's first seed segment by segment (one segment per rung of
``[fidelity]``), asking before each further segment whether the design goes on (the runner's
promotion rule, :mod:`.promotion`); a design that reaches the top rung is trained with its other
seeds, each through the same segments. After every segment the whole state (weights, optimiser,
patch stream, the results so far) is saved to a :class:`RungStore` file, so a trial cut short
(Ctrl-C, a killed worker) and run again continues from its last finished segment instead of from
scratch, with the result it would have had (on CPU, same thread count).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..config import write_atomic
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from ..training.device import Speedups
from ..training.loop import OK, TrainResult, Training
from ..training.protocol import Protocol
from .record import SCREENED



@dataclass
class DesignProgress:
    """A design's results so far. ``rung_*``: its first seed at each rung reached (PSNR dB, SSIM,
    wall seconds of the segment, mean training loss of the segment, mean training loss over the
    segment's last quarter: L1 on 0..255 pixels); ``seed_psnr``/``seed_ssim``/``seed_loss_tail``:
    each seed's score at the top rung (the first seed's is its top-rung result); ``promoted``: the
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
    promoted: int = 0
    seconds: float = 0.0


class RungStore:
    """Continuation files of designs being trained, one per (protocol key, spec, seed), in
    ``folder``. A file is written atomically after each segment and removed when the design is
    done; an unreadable file is treated as absent (the design starts over, with the same result)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str, spec_hash: str, seed: int) -> Path:
        return self.folder / f"{key}-{spec_hash}-{seed}.pt"

    def load(self, path: Path) -> dict[str, Any] | None:
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # absent, or unreadable (corrupt): either way the design starts over
            return None

    def save(self, path: Path, payload: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: torch.save(payload, tmp))

    def drop(self, path: Path) -> None:
        path.unlink(missing_ok=True)


def _consistent(progress: dict) -> bool:
    """Whether a saved progress has every field, and one entry per rung (per seed) in each list."""
    names = {f.name for f in dataclasses.fields(DesignProgress)}
    if set(progress) != names:
        return False
    return (len({len(progress[k]) for k in names if k.startswith("rung_")}) == 1
            and len({len(progress[k]) for k in names if k.startswith("seed_")}) == 1)


def run_design(spec: ArchSpec, data: TrainData, protocol: Protocol, segments: Sequence[int], seeds: Sequence[int],
               device: str, speedups: Speedups, goes_on: Callable[[int, DesignProgress], bool],
               on_progress: Callable[[DesignProgress], None], store: RungStore | None = None,
               key: str = "", progress: bool = False,
               should_stop: Callable[[], bool] | None = None) -> tuple[str, str | None, DesignProgress, TrainResult | None]:
    """Train ``spec`` up the rungs (``segments``: steps of each segment) with ``seeds[0]``, then
    with the other ``seeds`` at the top; ``(status, reason, progress, last result)``.

    ``goes_on(k, progress)`` is asked when the design has finished rung ``k`` below the top and
    was not yet allowed further: False stops it there (status :data:`SCREENED`). ``on_progress``
    hears every change worth recording (a rung reached, a promotion, a seed finished). Status
    ``ok`` at the top; a failed or interrupted segment returns its training status.
    """
    path = store.path(key, spec.hash, seeds[0]) if store is not None else None
    saved = store.load(path) if store is not None else None
    if saved and not _consistent(saved["progress"]):
        saved = None  # written by an older version, without every per-rung list: start over
    prog = DesignProgress(**saved["progress"]) if saved else DesignProgress()
    current = saved.get("current") if saved else None
    last: TrainResult | None = None

    def training(j: int) -> Training:
        return Training(spec, data, dataclasses.replace(protocol, seed=seeds[j]), device, speedups)

    def checkpoint(j: int, done: int, tr: Training | None) -> None:
        if store is not None:
            cur = None if tr is None else {"seed_index": j, "segments_done": done, "state": tr.state_dict()}
            store.save(path, {"progress": dataclasses.asdict(prog), "current": cur})

    def segment(tr: Training, m: int) -> TrainResult:
        res = tr.run(segments[m], progress, should_stop=should_stop)
        prog.seconds += res.wall_s
        return res

    # The first seed, rung by rung.
    if not prog.seed_psnr:
        tr = training(0)
        m = len(prog.rung_psnr)
        if m and not (current and current["seed_index"] == 0 and current["segments_done"] == m):
            prog = DesignProgress()  # results without the weights to continue them: start over
            m = 0
        elif m:
            tr.load_state_dict(current["state"])
        while m < len(segments):
            if m > prog.promoted:
                if not goes_on(m - 1, prog):
                    if store is not None:
                        store.drop(path)
                    return SCREENED, f"not promoted past rung {m - 1}", prog, last
                prog.promoted = m
                on_progress(prog)
            last = segment(tr, m)
            if not last.ok:
                return last.status, last.reason, prog, last
            prog.rung_psnr.append(last.psnr)
            prog.rung_ssim.append(last.ssim)
            prog.rung_seconds.append(round(last.wall_s, 3))
            prog.rung_loss.append(last.loss_mean)
            prog.rung_loss_tail.append(last.loss_tail)
            m += 1
            if m == len(segments):
                prog.seed_psnr.append(last.psnr)
                prog.seed_ssim.append(last.ssim)
                prog.seed_loss_tail.append(last.loss_tail)
            checkpoint(0, m, tr if m < len(segments) else None)
            on_progress(prog)
        current = None
    # More seeds at the top, each through every segment.
    for j in range(len(prog.seed_psnr), len(seeds)):
        tr, m = training(j), 0
        if current and current["seed_index"] == j:
            tr.load_state_dict(current["state"])
            m = current["segments_done"]
        current = None
        for mm in range(m, len(segments)):
            last = segment(tr, mm)
            if not last.ok:
                return last.status, last.reason, prog, last
            if mm + 1 < len(segments):
                checkpoint(j, mm + 1, tr)
        prog.seed_psnr.append(last.psnr)
        prog.seed_ssim.append(last.ssim)
        prog.seed_loss_tail.append(last.loss_tail)
        checkpoint(j + 1, 0, None)
        on_progress(prog)
    if store is not None:
        store.drop(path)
    return OK, None, prog, last
