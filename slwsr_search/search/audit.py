"""The fidelity audit's trainings: which designs, which jobs, a store that survives a kill, and the
loop that runs what is missing.

An audit draws designs from the study's space (seeded, feasible, distinct) beside its baselines,
trains each under the study's screening protocol with several seeds and once (or twice, to measure
the reference's own noise) under a reference protocol, and stores every training as it finishes
(:class:`AuditStore`), so a killed audit resumes where it stopped. :mod:`.fidelity` scores them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import optuna

from ..model.cost import Cost, count_cost
from ..model.presets import PRESETS
from ..model.spec import ArchSpec
from ..sr.data import TrainData
from ..training.device import Speedups
from ..training.loop import INTERRUPTED, train
from ..training.protocol import Protocol
from .study import StudyConfig

SCREEN, REFERENCE = "screen", "reference"


@dataclass(frozen=True)
class Design:
    """One audited design: a label (a baseline's preset name, or ``d<k>``) and its spec."""

    label: str
    spec: ArchSpec

    @property
    def cost(self) -> Cost:
        return count_cost(self.spec)


def draw_designs(cfg: StudyConfig, n: int, seed: int = 0, max_tries: int = 10_000) -> list[Design]:
    """The study's baselines that fit its budget, then ``n`` distinct feasible designs drawn from
    its space by a seeded random sampler (the same ``n`` and ``seed`` give the same designs)."""
    designs, seen = [], set()
    for name in cfg.baselines:
        spec = PRESETS[name]
        c = count_cost(spec)
        if not any(v > 0 for v in cfg.violations(c.params, c.macs).values()):
            designs.append(Design(name, spec))
            seen.add(spec.hash)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    drawn = 0
    for _ in range(max_tries):
        if drawn >= n:
            break
        trial = study.ask()
        spec = cfg.space.suggest(trial)
        study.tell(trial, 0.0)
        c = count_cost(spec)
        if spec.hash in seen or any(v > 0 for v in cfg.violations(c.params, c.macs).values()):
            continue
        seen.add(spec.hash)
        designs.append(Design(f"d{drawn}", spec))
        drawn += 1
    if drawn < n:
        raise ValueError(f"{cfg.path}: only {drawn} distinct feasible designs found in {max_tries} draws, asked for {n}")
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


class AuditStore:
    """The audit's trainings, one JSON object per line in ``path``. Each line is written and
    flushed to disk as its training finishes, so a killed audit loses at most the training under
    way; lines from other settings (another protocol key) are kept but not used."""

    def __init__(self, path: str | Path, settings_key: str) -> None:
        self.path = Path(path)
        self.settings_key = settings_key

    def load(self) -> dict[str, dict]:
        """The finished trainings of these settings, by job key. A torn last line (a kill in the
        middle of a write) is ignored; any other unreadable line is an error naming the file."""
        out: dict[str, dict] = {}
        if not self.path.is_file():
            return out
        lines = self.path.read_text().splitlines()
        for n, line in enumerate(lines, start=1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if n == len(lines):
                    continue
                raise ValueError(f"{self.path}: line {n} is not JSON") from None
            if rec.get("settings") == self.settings_key:
                out[rec["key"]] = rec
        return out

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps({**record, "settings": self.settings_key}) + "\n")
            f.flush()
            os.fsync(f.fileno())


def settings_key(screen: Protocol, reference: Protocol, screen_data: TrainData, reference_data: TrainData) -> str:
    """Identifies what an audit's results depend on besides design and seed."""
    blob = json.dumps({"screen": screen.to_dict(), "reference": reference.to_dict(),
                       "screen_data": [screen_data.train_source, screen_data.val_source],
                       "reference_data": [reference_data.train_source, reference_data.val_source]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_jobs(jobs: Sequence[Job], store: AuditStore, screen: Protocol, reference: Protocol,
             screen_data: TrainData, reference_data: TrainData, device: str, speedups: Speedups = Speedups(),
             on_done: Callable[[Job, dict], None] | None = None, should_stop: Callable[[], bool] | None = None) -> int:
    """Train every job not yet in ``store``, storing each as it finishes; returns how many ran.
    ``should_stop`` is asked between trainings and between training steps; a cut training is
    not stored (it runs again on resume)."""
    done = store.load()
    ran = 0
    for job in jobs:
        if job.key in done:
            continue
        if should_stop is not None and should_stop():
            break
        protocol, data = (screen, screen_data) if job.role == SCREEN else (reference, reference_data)
        res = train(job.design.spec, data, dataclasses.replace(protocol, seed=job.seed), device, speedups,
                    should_stop=should_stop)
        if res.status == INTERRUPTED:
            break
        c = job.design.cost
        record = {"key": job.key, "label": job.design.label, "arch": job.design.spec.arch, "hash": job.design.spec.hash,
                  "params": c.params, "macs": c.macs, "role": job.role, "seed": job.seed, "status": res.status,
                  "psnr": res.psnr, "ssim": res.ssim, "loss_mean": res.loss_mean, "loss_tail": res.loss_tail,
                  "steps": protocol.steps, "seconds": round(res.wall_s, 3)}
        store.append(record)
        ran += 1
        if on_done is not None:
            on_done(job, record)
    return ran
