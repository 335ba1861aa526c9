"""A trial's record: what the runner stores as Optuna user attrs, typed, in one place.

Every user attr the package writes is a field of :class:`TrialRecord`; :func:`write` refuses any
other key. The runner builds a trial's record in memory (:class:`TrialLog`) and writes it as it
changes; the reports and the terminal lines read it back with :meth:`TrialRecord.of`.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import optuna

from ..model.latency_table import MachineIdentity
from ..training.outcomes import NONFINITE, OK, OOM, OUTCOMES

#: A design stopped below the top rung of a multi-fidelity study (not promoted): trained, scored at
#: a lower rung only.
SCREENED = "screened"
#: Why a trial trained nothing: over budget (priced only), or beyond the study's target (another
#: worker's trials already cover it).
INFEASIBLE, SURPLUS = "infeasible", "surplus"
#: Every value of the ``status`` attr: a training's outcome (``ok`` at the top rung), a design
#: stopped below the top rung of a multi-fidelity study, or why nothing was trained.
STATUSES: tuple[str, ...] = OUTCOMES + (SCREENED, INFEASIBLE, SURPLUS)
#: Statuses of a training that ran to a result (not cut short): the trainings a run counts, and
#: the results a later trial of the same spec may reuse.
TRAINED: frozenset[str] = frozenset({OK, SCREENED, NONFINITE, OOM})
#: The Optuna constraint a multi-fidelity study puts on a trained design: how many rungs short of
#: the top it stopped (0 at the top). Above 0 the design is 'infeasible' for the samplers and the
#: dashboard, so a lower rung's score is never drawn into a front of top-rung scores.
RUNGS_SHORT = "rungs_short"


@dataclass(frozen=True)
class TrialRecord:
    """One trial's user attrs. ``None``: not recorded (yet, or not applicable).

    ``worker`` (host:pid) runs it; ``arch``, ``spec`` (compact JSON), ``hash``, ``params``,
    ``macs`` (at 1280x720 output), ``latency_ms`` (predicted from the latency table, in a study
    that uses latency) describe the spec; ``protocol_key`` says which protocol and data
    trained it; ``train_seed`` its training seed; ``retry_of`` the trial it retries; ``feasible``
    whether it fits the budget; ``status`` (one of :data:`STATUSES`) and ``reason`` how it ended;
    ``psnr`` (dB), ``ssim``, ``train_seconds``, ``steps_per_s``, ``device``, ``final_loss`` its
    training's result (``psnr``/``ssim``/``loss``: the mean over ``seed_psnr``/``seed_ssim``/
    ``seed_loss_tail`` at the top rung; none for a design stopped lower; ``loss``: mean L1 training
    loss on 0..255 pixels over the last quarter of the steps); ``baseline`` the paper's design it is; ``duplicate_of`` the trial whose
    training it reuses. Rungs (every study has at least one): ``rung_psnr``, ``rung_ssim``,
    ``rung_seconds``, ``rung_loss`` (the segment's mean), ``rung_loss_tail`` (its last quarter's)
    the first seed at each rung reached; ``promoted`` the highest rung it was allowed to train for;
    ``seeds``, ``seed_psnr``, ``seed_ssim``, ``seed_loss_tail`` its top-rung seeds and their scores.
    int8 (a study that scores it: :mod:`.int8`): ``int8_psnr`` / ``int8_ssim`` the top-rung networks
    quantized post-training to int8 and scored on the validation set (means over seeds;
    ``seed_int8_psnr`` each seed's), ``int8_drop_db`` = ``psnr - int8_psnr`` (dB lost to int8).
    """

    worker: str | None = None
    arch: str | None = None
    spec: str | None = None
    hash: str | None = None
    params: int | None = None
    macs: int | None = None
    latency_ms: float | None = None
    protocol_key: str | None = None
    train_seed: int | None = None
    retry_of: int | None = None
    feasible: bool | None = None
    status: str | None = None
    reason: str | None = None
    psnr: float | None = None
    ssim: float | None = None
    loss: float | None = None
    train_seconds: float | None = None
    steps_per_s: float | None = None
    device: str | None = None
    final_loss: float | None = None
    baseline: str | None = None
    duplicate_of: int | None = None
    rung_psnr: list[float] | None = None
    rung_ssim: list[float] | None = None
    rung_seconds: list[float] | None = None
    rung_loss: list[float] | None = None
    rung_loss_tail: list[float] | None = None
    promoted: int | None = None
    seeds: list[int] | None = None
    seed_psnr: list[float] | None = None
    seed_ssim: list[float] | None = None
    seed_loss_tail: list[float] | None = None
    int8_psnr: float | None = None
    int8_ssim: float | None = None
    int8_drop_db: float | None = None
    seed_int8_psnr: list[float] | None = None

    @classmethod
    def of(cls, trial: optuna.trial.FrozenTrial) -> "TrialRecord":
        """The record stored on ``trial`` (attrs written by others are ignored)."""
        a = trial.user_attrs
        return cls(**{k: a[k] for k in FIELDS if k in a})

    @property
    def trained(self) -> bool:
        """Whether this trial ran a training of its own to a result (not a reused one)."""
        return self.status in TRAINED and self.duplicate_of is None

    @property
    def rung(self) -> int | None:
        """The index of the highest rung this trial scored at (None before its first)."""
        return len(self.rung_psnr) - 1 if self.rung_psnr else None

    @property
    def psnr_spread(self) -> tuple[float, float] | None:
        """(min, max) of the top-rung PSNR over seeds, when there are two or more."""
        return (min(self.seed_psnr), max(self.seed_psnr)) if self.seed_psnr and len(self.seed_psnr) > 1 else None

    def attrs(self) -> dict[str, Any]:
        """The recorded (non-None) fields as user attrs."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


#: The user-attr keys, in record order.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrialRecord))
#: What a trial copies from the earlier trial whose training it reuses.
REUSED: tuple[str, ...] = ("psnr", "ssim", "loss", "train_seconds", "steps_per_s", "device", "status", "reason",
                           "train_seed", "rung_psnr", "rung_ssim", "rung_seconds", "rung_loss", "rung_loss_tail",
                           "promoted", "seeds", "seed_psnr", "seed_ssim", "seed_loss_tail", "int8_psnr", "int8_ssim",
                           "int8_drop_db", "seed_int8_psnr")


def write(trial: optuna.Trial, **values: Any) -> None:
    """Store ``values`` as user attrs of the running ``trial`` (``None`` included: 'recorded, none');
    a key that is not a :class:`TrialRecord` field is a bug and raises ``KeyError``."""
    for key, value in values.items():
        if key not in FIELDS:
            raise KeyError(f"{key!r} is not a TrialRecord field")
        trial.set_user_attr(key, value)


class TrialLog:
    """A running trial's record, built in memory as the trial runs and written to the trial as
    it changes: :meth:`update` is the one place a trial's user attrs are written, and
    :attr:`record` is what the trial holds, so nothing reads the trial back to continue it."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial
        self.record = TrialRecord.of(trial)  # what it was enqueued with (a baseline's name)
        self._written = set(trial.user_attrs)

    def update(self, **values: Any) -> TrialRecord:
        """Record ``values`` (fields of :class:`TrialRecord`; ``None``: 'recorded, none'), in memory
        and on the trial (a field already stored with the same value is not written again)."""
        # copies: a caller's list that grows later must not grow the record behind its back
        values = copy.deepcopy(values)
        changed = {k: v for k, v in values.items() if k not in self._written or getattr(self.record, k, v) != v}
        write(self.trial, **changed)  # first: an unknown key raises before the record changes
        self.record = dataclasses.replace(self.record, **changed)
        self._written |= set(changed)
        return self.record


@dataclass(frozen=True)
class StudyRecord:
    """What a study remembers about how it is run (study user attrs): the protocol key that every
    later run must match, a description of the protocol and data for people, the protocol, and
    the data (``[training sources, validation sources]``, each joined with `` + ``); for a study
    that uses latency, the table it prices with (``latency``: identity, file, when calibrated) and
    the measured time of Pareto points (``measured_latency``: ``{"identity": the identity of the
    table they were measured under, "times": {trial number: ms}}``; trials cannot take attributes
    once finished, so the study holds them). A time is a figure of one machine: it is read only
    under the identity it was measured under (:meth:`measured_under`). The first form of
    ``measured_latency`` (flat, trial number -> ms, no identity) reads as measured under the table
    the study recorded (``latency``), else under no known one; it is pinned to that table's identity
    before a new ``latency`` replaces it (:meth:`write`). ``evaluator``: what scored the designs in
    the latest run (``{"kind": "scratch"}``, or a supernet's file, steps, weights' digest and its
    recorded audit: :func:`~..jobs.supernet_audit.evaluator_record`), ``ranked_by`` in words."""

    protocol_key: str | None = None
    protocol_desc: str | None = None
    protocol: dict | None = None
    data: list[str] | None = None
    latency: dict | None = None  # the latency table a study prices with: identity, file, created
    measured_latency: dict | None = None  # {"identity": table identity, "times": {trial number (str): ms}}
    evaluator: dict | None = None  # what scores the designs, rewritten by each run: {"kind": "scratch"} or a supernet's
    ranked_by: str | None = None  # the same in words, for the dashboard (its "Study User Attributes")

    @classmethod
    def of(cls, study: optuna.Study) -> "StudyRecord":
        a = study.user_attrs
        return cls(**{f.name: a[f.name] for f in dataclasses.fields(cls) if f.name in a})

    @property
    def table_identity(self) -> MachineIdentity | None:
        """The identity of the latency table the study prices with (``latency``), None where none
        (or an unreadable one) is recorded."""
        return _identity(self.latency.get("identity") if isinstance(self.latency, dict) else None)

    def measured(self) -> tuple[MachineIdentity | None, dict[str, float]]:
        """(the identity of the table the measured times were measured under, None where unknown;
        trial number (str) -> ms). A record of the first, flat form reads as measured under
        :attr:`table_identity`."""
        m = self.measured_latency
        if not isinstance(m, dict) or not m:
            return None, {}
        if _pinned(m):
            return _identity(m.get("identity")), dict(m.get("times") or {})
        return self.table_identity, dict(m)

    def measured_under(self, identity: MachineIdentity | None) -> dict[str, float]:
        """The measured times (trial number (str) -> ms) when they were measured under ``identity``;
        none otherwise (another machine's, or unknown): a time shown beside a prediction, or kept
        as measured, must be the same machine's."""
        ident, times = self.measured()
        return times if identity is not None and ident == identity else {}

    @staticmethod
    def measured_record(identity: MachineIdentity, times: dict[str, float]) -> dict:
        """``measured_latency`` as stored: ``times`` with the identity they were measured under."""
        return {"identity": dataclasses.asdict(identity), "times": dict(times)}

    def write(self, study: optuna.Study) -> None:
        """Store the recorded (non-None) fields on ``study``. Recording a table (``latency``) first
        pins a stored ``measured_latency`` of the first, flat form to the table it was measured
        under (the one recorded until now, else none known): the new table must not adopt it."""
        if self.latency is not None and self.measured_latency is None:
            old = StudyRecord.of(study)
            if isinstance(old.measured_latency, dict) and old.measured_latency and not _pinned(old.measured_latency):
                ident = old.table_identity
                study.set_user_attr("measured_latency", {"identity": dataclasses.asdict(ident) if ident else None,
                                                         "times": dict(old.measured_latency)})
        for k, v in dataclasses.asdict(self).items():
            if v is not None:
                study.set_user_attr(k, v)


def _pinned(measured: dict) -> bool:
    """Whether a stored ``measured_latency`` names the table it was measured under (the current
    form) rather than being the first, flat one (trial numbers only)."""
    return "times" in measured


def _identity(d: Any) -> MachineIdentity | None:
    """A stored identity (a dict of :class:`MachineIdentity`'s fields); None for none or a malformed one."""
    if not isinstance(d, dict):
        return None
    try:
        return MachineIdentity(**d)
    except TypeError:
        return None


def trial_spec(study: optuna.Study, number: int):
    """The spec trial ``number`` of ``study`` trained (an :class:`~..model.spec.ArchSpec`), with its
    record; ``ValueError`` naming the trial when it does not exist or recorded no spec."""
    from ..model.spec import ArchSpec

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise ValueError(f"--trial {number}: study {study.study_name!r} has trials 0..{max(trials, default=-1)}")
    rec = TrialRecord.of(trials[number])
    if rec.spec is None:
        raise ValueError(f"--trial {number}: trial {number} of {study.study_name!r} recorded no spec "
                         f"(state {trials[number].state.name})")
    return ArchSpec.from_json(rec.spec), rec
