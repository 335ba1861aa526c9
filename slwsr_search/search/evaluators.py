"""How a trial turns a spec into scores: the evaluator seam.

The runner prices a design, decides whether it goes on at each rung (the promotion rule) and
keeps its record; an :class:`Evaluator` scores it. What an evaluator reports are
:class:`~.record.TrialRecord` fields: its progress (the quality lists per rung, ``rung_psnr`` and
the others each objective names in :data:`~.objectives.OBJECTIVES`, and per seed) and its end
(``status``, the top-rung means), so the runner, the promotion and the record never know which
evaluator ran. Today's is :class:`ScratchTraining`: a brief training from scratch up the rungs,
more seeds at the top, int8 where the study asks (:mod:`.rungs`, :mod:`.int8`). The second,
:class:`InheritedWeights` (issue 35, not yet a study setting), scores a design with the weights it
inherits from a trained supernet, in one rung and no training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol as TypingProtocol, Sequence

from ..model.spec import ArchSpec
from ..model.supernet import SuperNet
from ..sr.data import ImagePair, TrainData
from ..training.device import Speedups
from ..training.loop import INTERRUPTED, OK
from ..training.protocol import Protocol
from ..training.supernet import score_design
from .int8 import Int8Failed
from .record import SCREENED
from .rungs import DesignPlan, RungStore, run_design

#: ``goes_on(k, fields)``: whether a design that finished rung ``k`` (below the top) goes on, given
#: its progress as record fields; ``on_progress(fields)``: its progress, whenever it changes.
GoesOn = Callable[[int, dict[str, Any]], bool]
OnProgress = Callable[[dict[str, Any]], None]


class EvaluationFailed(Exception):
    """An evaluation that could not score its design (the message says why); the trial fails, the
    run goes on."""


@dataclass(frozen=True)
class Evaluation:
    """How an evaluation ended. ``status``: ``ok`` (scored at the top), :data:`~.record.SCREENED`
    (stopped below it by ``goes_on``), ``interrupted`` (asked to stop), or a failed training's
    outcome; ``reason`` why it ended short; ``fields``: the record fields of its end."""

    status: str
    reason: str | None
    fields: dict[str, Any]

    @property
    def scored(self) -> bool:
        """Whether it ended with a score (at the top, or at the rung it was stopped at)."""
        return self.status in (OK, SCREENED)

    @property
    def interrupted(self) -> bool:
        return self.status == INTERRUPTED


class Evaluator(TypingProtocol):
    """Scores a design: ``seeds`` (the first is the trial's seed; the others, the top rung's extra
    seeds) are the evaluator's to use or ignore. Raises :class:`EvaluationFailed` when it cannot."""

    def evaluate(self, spec: ArchSpec, seeds: Sequence[int], goes_on: GoesOn, on_progress: OnProgress) -> Evaluation:
        ...


@dataclass
class ScratchTraining:
    """Today's evaluator: train the design from scratch on ``data`` under ``protocol``, one segment
    per rung (``segments``: the steps of each), asking ``goes_on`` before each further one; at the
    top, the other seeds; each top-rung network scored in int8 by ``int8`` when given
    (:func:`.int8.int8_scorer`). ``store`` (with the protocol ``key``): continuation files, so a
    trial cut short continues from its last finished segment. ``progress``: a bar per segment;
    ``should_stop``: asked before every step."""

    data: TrainData = field(repr=False)
    protocol: Protocol
    segments: tuple[int, ...]
    device: str
    speedups: Speedups = field(default_factory=Speedups)
    int8: Callable[[Any], tuple[float, float]] | None = field(default=None, repr=False)
    store: RungStore | None = None
    key: str = ""
    progress: bool = False
    should_stop: Callable[[], bool] | None = None

    def evaluate(self, spec: ArchSpec, seeds: Sequence[int], goes_on: GoesOn, on_progress: OnProgress) -> Evaluation:
        plan = DesignPlan(spec, self.data, self.protocol, self.segments, tuple(seeds), self.device, self.speedups,
                          int8=self.int8)
        try:
            run = run_design(plan, lambda k, prog: goes_on(k, prog.attrs(plan.seeds)),
                             lambda prog: on_progress(prog.attrs(plan.seeds)), self.store, self.key, self.progress,
                             self.should_stop)
        except Int8Failed as e:
            raise EvaluationFailed(str(e)) from None
        on_progress(run.progress.attrs(plan.seeds))
        return Evaluation(run.status, run.reason, run.attrs())


@dataclass
class InheritedWeights:
    """Score a design with the weights it inherits from ``net`` (a trained
    :class:`~..model.supernet.SuperNet`) on the validation pairs ``val``: one rung, nothing
    trained, the seeds unused (the score has none). A design the supernet does not hold fails
    with why. The study's protocol key must name the supernet (its weights decide the scores).
    ``device``: where the design's network runs (fp32)."""

    net: SuperNet = field(repr=False)
    val: Sequence[ImagePair] = field(repr=False)
    device: str = "cpu"

    def evaluate(self, spec: ArchSpec, seeds: Sequence[int], goes_on: GoesOn, on_progress: OnProgress) -> Evaluation:
        try:
            psnr, ssim = score_design(self.net, spec, self.val, self.device)
        except ValueError as e:
            raise EvaluationFailed(str(e)) from None
        on_progress({"rung_psnr": [psnr], "rung_ssim": [ssim], "promoted": 0, "seeds": list(seeds[:1]),
                     "seed_psnr": [psnr], "seed_ssim": [ssim]})
        return Evaluation(OK, None, {"status": OK, "psnr": psnr, "ssim": ssim, "train_seconds": 0.0})
