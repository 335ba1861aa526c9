"""The fidelity audit's trainings: which designs, which jobs, a store that survives a kill, and the
loop that runs what is missing.

An audit draws designs from the study's space (seeded, feasible, distinct) beside its baselines,
trains each under the study's screening protocol with several seeds and once (or twice, to measure
the reference's own noise) under a reference protocol, and stores every training as it finishes
(:class:`~.store.AuditStore`), so a killed audit resumes where it stopped. :mod:`.stats` scores them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

from ..machine import cpu_label
from ..model.cost import Cost, count_cost
from ..model.latency_table import LatencyTable
from ..model.presets import PRESETS
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from ..training.device import Speedups
from ..training.loop import INTERRUPTED, train
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


def plan_jobs(designs: Sequence[Design], screen_seeds: int, reference_repeat: int) -> list[Job]:
    """Every screening training (``screen_seeds`` seeds per design), then one reference training
    per design, then a second reference seed for the first ``reference_repeat`` designs (the
    reference's own noise). Cheap jobs come first, so a partial audit already has its proxies."""
    jobs = [Job(d, SCREEN, s) for d in designs for s in range(screen_seeds)]
    jobs += [Job(d, REFERENCE, 0) for d in designs]
    jobs += [Job(d, REFERENCE, 1) for d in designs[:reference_repeat]]
    return jobs


def role_key(protocol: Protocol, data: TrainData, fidelity: Fidelity = Fidelity()) -> str:
    """Identifies what one role's trainings depend on besides design and seed: its protocol
    (without the seed, which each job sets), its data, and the rungs each training climbs."""
    return settings_key({**protocol.to_dict(), "seed": None}, data.train_source, data.val_source, data.scale,
                        fidelity.settings())


def run_jobs(jobs: Sequence[Job], store: AuditStore, screen: Protocol, reference: Protocol,
             screen_data: TrainData, reference_data: TrainData, device: str, speedups: Speedups = Speedups(),
             on_done: Callable[[Job, dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
             fidelity: Fidelity = Fidelity()) -> int:
    """Train every job not yet in ``store``, storing each as it finishes; returns how many ran.
    ``should_stop`` is asked between trainings and between training steps; a cut training is
    not stored (it runs again on resume). A screening with rungs (``fidelity``) trains each design
    up every rung, as a promoted design of the study would be, and stores each rung's score; its
    ``psnr`` is the top rung's."""
    done = store.load()
    ran = 0
    cpu = cpu_label()
    for job in jobs:
        if job.key in done:
            continue
        if should_stop is not None and should_stop():
            break
        protocol, data = (screen, screen_data) if job.role == SCREEN else (reference, reference_data)
        rungs: dict = {}
        if job.role == SCREEN and len(fidelity.rungs) > 1:
            segs = fidelity.segments(protocol.steps)
            run = run_design(DesignPlan(job.design.spec, data, protocol, segs, (job.seed,), device, speedups),
                             should_stop=should_stop)
            prog, res = run.progress, run.last
            if run.status == INTERRUPTED or res is None:
                break
            rungs = {"rung_psnr": prog.rung_psnr, "rung_loss": prog.rung_loss}
            steps, seconds = protocol.steps * fidelity.rungs[-1], prog.seconds
            # the whole training's mean loss (the estimator's 'sum of training losses'), not the last segment's
            res = dataclasses.replace(res, loss_mean=sum(l * n for l, n in zip(prog.rung_loss, segs)) / sum(segs))
        else:
            res = train(job.design.spec, data, dataclasses.replace(protocol, seed=job.seed), device, speedups,
                        should_stop=should_stop)
            if res.status == INTERRUPTED:
                break
            steps, seconds = protocol.steps, res.wall_s
        c = job.design.cost
        record = {"key": job.key, "label": job.design.label, "arch": job.design.spec.arch, "hash": job.design.spec.hash,
                  "params": c.params, "macs": c.macs, "role": job.role, "seed": job.seed, "status": res.status,
                  "psnr": res.psnr, "ssim": res.ssim, "loss_mean": res.loss_mean, "loss_tail": res.loss_tail,
                  "steps": steps, "seconds": round(seconds, 3), "device": res.device, "cpu": cpu, **rungs}
        store.append(record)
        ran += 1
        if on_done is not None:
            on_done(job, record)
    return ran
