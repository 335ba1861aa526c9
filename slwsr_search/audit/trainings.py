"""The fidelity audit's trainings: which designs, which jobs, a store that survives a kill, and the
loop that runs what is missing.

An audit draws designs from the study's space (seeded, feasible, distinct) beside its baselines,
trains each under the study's screening protocol with several seeds and once (or twice, to measure
the reference's own noise) under a reference protocol, and stores every training as it finishes
(:class:`~.store.AuditStore`), so a killed audit resumes where it stopped. :mod:`.stats` scores them.

A reference with a *ladder* (:class:`Ladder`: steps at which it is scored on the way, say 500, 1,000,
2,000, 5,000) is a long training: it runs in a run folder of its own as ``finalize`` runs one
(:func:`~slwsr_search.training.finalize.finalize_training`: a checkpoint every K steps, resumed by
the next call, in another process or on another machine), and its record keeps the curve: the
validation PSNR/SSIM and the mean training loss at each rung.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..config import is_int
from ..machine import cpu_label
from ..model.cost import Cost, count_cost
from ..model.latency_table import LatencyTable
from ..model.presets import PRESETS
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from ..training.device import Speedups
from ..training.finalize import FinalizeConfig, finalize_training, read_progress
from ..training.loop import INTERRUPTED, train
from ..training.outcomes import OK
from ..training.protocol import Protocol
from ..search.rungs import DesignPlan, run_design
from ..search.space import draw_specs
from ..search.study import Fidelity, StudyConfig, settings_key
from .store import REFERENCE, SCREEN, AuditStore



@dataclass(frozen=True)
class Design:
    """One audited design: a label (a baseline's preset name, or ``d<k>``) and its spec."""

    label: str
    spec: ArchSpec

    @property
    def cost(self) -> Cost:
        return count_cost(self.spec)


def draw_designs(cfg: StudyConfig, n: int, seed: int = 0, max_tries: int = 10_000,
                 latency_table: LatencyTable | None = None) -> list[Design]:
    """The study's baselines that fit its budget, then ``n`` distinct feasible designs drawn from
    its space by a seeded random sampler (the same ``n`` and ``seed`` give the same designs).
    A study with a latency limit needs ``latency_table`` to price them."""
    designs = [Design(name, PRESETS[name]) for name in cfg.baselines if cfg.fits(cfg.price(PRESETS[name], latency_table))]
    drawn = draw_specs(cfg.space, n, seed, keep=lambda spec: cfg.fits(cfg.price(spec, latency_table)),
                       seen={d.spec.hash for d in designs}, max_tries=max_tries)
    if len(drawn) < n:
        raise ValueError(f"{cfg.path}: only {len(drawn)} distinct feasible designs found in {max_tries} draws, asked for {n}")
    designs += [Design(f"d{k}", spec) for k, spec in enumerate(drawn)]
    return designs


def read_design_file(path: str | Path, taken: Sequence[Design] = ()) -> list[Design]:
    """Designs chosen on purpose: one per line, ``LABEL ARCH`` (an arch string,
    :meth:`~slwsr_search.model.spec.ArchSpec.from_arch`), blank lines and ``#`` comments skipped.
    ``ValueError`` naming the file and line for a bad arch, or a label or design already in
    ``taken`` or earlier in the file."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: design file not found")
    out: list[Design] = []
    for n, raw in enumerate(p.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{p}:{n}: expected 'LABEL ARCH', got {line!r}")
        try:
            spec = ArchSpec.from_arch(parts[1])
        except ValueError as e:
            raise ValueError(f"{p}:{n}: {e}") from None
        for d in list(taken) + out:
            if d.label == parts[0] or d.spec.hash == spec.hash:
                raise ValueError(f"{p}:{n}: {parts[0]} repeats design {d.label} ({'label' if d.label == parts[0] else 'arch'})")
        out.append(Design(parts[0], spec))
    return out


@dataclass(frozen=True)
class Job:
    """One training of an audit: ``role`` (:data:`SCREEN` or :data:`REFERENCE`) of one design with
    one seed. ``key`` identifies it in the store."""

    design: Design
    role: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.role}:{self.design.spec.hash}:{self.seed}"


def plan_jobs(designs: Sequence[Design], screen_seeds: int, reference_repeat: int | Sequence[str]) -> list[Job]:
    """Every screening training (``screen_seeds`` seeds per design), then one reference training
    per design, then a second reference seed for the first ``reference_repeat`` designs, or for
    those labelled so (the reference's own noise). Cheap jobs come first, so a partial audit
    already has its proxies."""
    if isinstance(reference_repeat, int):
        again = list(designs[:reference_repeat])
    else:
        labels = {d.label: d for d in designs}
        unknown = [x for x in reference_repeat if x not in labels]
        if unknown:
            raise ValueError(f"--reference-repeat: no design labelled {unknown[0]!r}; designs: {', '.join(labels)}")
        again = [labels[x] for x in dict.fromkeys(reference_repeat)]
    jobs = [Job(d, SCREEN, s) for d in designs for s in range(screen_seeds)]
    jobs += [Job(d, REFERENCE, 0) for d in designs]
    jobs += [Job(d, REFERENCE, 1) for d in again]
    return jobs


@dataclass(frozen=True)
class Ladder:
    """How a long reference is trained: scored at ``steps`` on the way (each in 1..the protocol's
    steps; the last step is always scored), a checkpoint every ``checkpoint_every`` steps, run
    folders under ``runs_dir`` (one per training, named by design, seed and settings)."""

    steps: tuple[int, ...]
    runs_dir: str
    checkpoint_every: int = 250

    def check(self, protocol: Protocol, where: str = "--ladder") -> None:
        """``ValueError`` naming ``where`` (the option or study key) when the ladder does not fit ``protocol``."""
        bad = [s for s in self.steps if not (is_int(s) and 1 <= s <= protocol.steps)]
        if bad or not self.steps:
            raise ValueError(f"{where}: expected steps in 1..{protocol.steps} (the reference's), got {list(self.steps)}")
        if not is_int(self.checkpoint_every) or self.checkpoint_every < 1:
            raise ValueError(f"--checkpoint-every: expected an integer >= 1, got {self.checkpoint_every!r}")

    def rungs(self, protocol: Protocol) -> list[int]:
        """The steps scored, the last one included, ascending."""
        return sorted(set(self.steps) | {protocol.steps})


def role_key(protocol: Protocol, data: TrainData, fidelity: Fidelity = Fidelity(),
             ladder: Ladder | None = None, extra: dict | None = None) -> str:
    """Identifies what one role's trainings depend on besides design and seed: its protocol
    (without the seed, which each job sets), its data, the rungs each training climbs, the
    ladder a long reference is scored along (a record holds its curve), and ``extra`` settings
    that change results (a precision)."""
    more = {**fidelity.settings(), **({"ladder": ladder.rungs(protocol)} if ladder else {}), **(extra or {})}
    return settings_key({**protocol.to_dict(), "seed": None}, data.train_source, data.val_source, data.scale, more)


def run_jobs(jobs: Sequence[Job], store: AuditStore, screen: Protocol, reference: Protocol,
             screen_data: TrainData, reference_data: TrainData, device: str, speedups: Speedups = Speedups(),
             on_done: Callable[[Job, dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
             fidelity: Fidelity = Fidelity(), ladder: Ladder | None = None,
             on_line: Callable[[Job, str], None] | None = None) -> int:
    """Train every job not yet in ``store``, storing each as it finishes; returns how many ran.
    ``should_stop`` is asked between trainings and between training steps; a cut training is
    not stored (it runs again on resume; a long reference from its last checkpoint). A screening
    with rungs (``fidelity``) trains each design up every rung, as a promoted design of the study
    would be, and stores each rung's score; its ``psnr`` is the top rung's. A reference with a
    ``ladder`` is a long training in its own run folder; ``on_line(job, line)`` gets its starts,
    resumes and scores on the way."""
    done = store.load()
    ran = 0
    cpu = cpu_label()
    for job in jobs:
        if job.key in done:
            continue
        if should_stop is not None and should_stop():
            break
        if job.role == SCREEN:
            got = (_screen_rungs(job, screen, screen_data, fidelity, device, speedups, should_stop)
                   if len(fidelity.rungs) > 1 else _plain(job, screen, screen_data, device, speedups, should_stop))
        elif ladder is not None:
            got = _long_reference(job, reference, reference_data, ladder, store.keys[REFERENCE], device, speedups,
                                  should_stop, on_line)
        else:
            got = _plain(job, reference, reference_data, device, speedups, should_stop)
        if got is None:  # interrupted
            break
        c = job.design.cost
        record = {"key": job.key, "label": job.design.label, "arch": job.design.spec.arch, "hash": job.design.spec.hash,
                  "params": c.params, "macs": c.macs, "role": job.role, "seed": job.seed, "cpu": cpu, **got}
        store.append(record)
        ran += 1
        if on_done is not None:
            on_done(job, record)
    return ran


def _fields(res, steps: int, seconds: float) -> dict:
    """A record's fields from one training's result (a :class:`~slwsr_search.training.loop.TrainResult`)."""
    return {"status": res.status, "psnr": res.psnr, "ssim": res.ssim, "loss_mean": res.loss_mean,
            "loss_tail": res.loss_tail, "steps": steps, "seconds": round(seconds, 3), "device": res.device}


def _plain(job: Job, protocol: Protocol, data: TrainData, device: str, speedups: Speedups,
           should_stop: Callable[[], bool] | None) -> dict | None:
    """One training of ``protocol`` with the job's seed; None when interrupted."""
    res = train(job.design.spec, data, dataclasses.replace(protocol, seed=job.seed), device, speedups,
                should_stop=should_stop)
    return None if res.status == INTERRUPTED else _fields(res, protocol.steps, res.wall_s)


def _screen_rungs(job: Job, protocol: Protocol, data: TrainData, fidelity: Fidelity, device: str,
                  speedups: Speedups, should_stop: Callable[[], bool] | None) -> dict | None:
    """The screening up every rung, as a promoted design of the study; None when interrupted."""
    segs = fidelity.segments(protocol.steps)
    run = run_design(DesignPlan(job.design.spec, data, protocol, segs, (job.seed,), device, speedups),
                     should_stop=should_stop)
    prog, res = run.progress, run.last
    if run.status == INTERRUPTED or res is None:
        return None
    # the whole training's mean loss (the estimator's 'sum of training losses'), not the last segment's
    res = dataclasses.replace(res, loss_mean=sum(l * n for l, n in zip(prog.rung_loss, segs)) / sum(segs))
    return {**_fields(res, protocol.steps * fidelity.rungs[-1], prog.seconds),
            "rung_psnr": prog.rung_psnr, "rung_loss": prog.rung_loss}


def run_folder(job: Job, ladder: Ladder, settings: str) -> Path:
    """The run folder of one long reference training: design label, spec hash, seed and settings key."""
    return Path(ladder.runs_dir) / f"{job.design.label}-{job.design.spec.hash[:12]}-s{job.seed}-{settings[:8]}"


def _long_reference(job: Job, protocol: Protocol, data: TrainData, ladder: Ladder, settings: str, device: str,
                    speedups: Speedups, should_stop: Callable[[], bool] | None,
                    on_line: Callable[[Job, str], None] | None) -> dict | None:
    """One long reference in its run folder, scored at every rung of the ladder, continued from
    the folder's checkpoint; None when interrupted (the checkpoint stays for the next call)."""
    p = dataclasses.replace(protocol, seed=job.seed)
    folder = run_folder(job, ladder, settings)
    cfg = FinalizeConfig(job.design.spec, p, (data.train_source,), (data.val_source,), ladder.checkpoint_every,
                         eval_every=p.steps, eval_at=tuple(ladder.rungs(p)), origin=f"fidelity reference {job.key}")

    def event(line: str) -> None:
        if on_line is not None and not line.startswith("checkpoint at"):
            on_line(job, line)

    def scored(row: dict) -> None:
        if on_line is not None:
            on_line(job, f"step {row['step']:,}: PSNR {row['psnr']:.3f} dB, mean loss {row['loss_mean']:.3f}, "
                         f"{row['train_s']:,.0f} s")

    r = finalize_training(folder, cfg, data, device, speedups, on_event=event, on_eval=scored, should_stop=should_stop)
    if r.status == INTERRUPTED:
        return None
    curve = [{"step": x["step"], "psnr": x["psnr"], "ssim": x["ssim"], "loss": x["loss_mean"], "train_s": x["train_s"]}
             for x in read_progress(folder)]
    last = curve[-1] if r.status == OK and curve else {}
    windows = [(x["loss"], b["step"] - a["step"]) for a, b, x in zip([{"step": 0}] + curve, curve, curve)]
    loss_mean = (sum(l * n for l, n in windows) / sum(n for _, n in windows)
                 if last and all(l is not None for l, _ in windows) else None)
    return {"status": r.status, "psnr": last.get("psnr"), "ssim": last.get("ssim"), "loss_mean": loss_mean,
            "loss_tail": None, "steps": p.steps, "seconds": round(r.train_s, 3), "device": str(device),
            "curve": curve, "run": str(folder), "cpus": list(r.cpus)}
