"""A fidelity audit's settings and outputs, as library calls: :func:`resolve_audit` turns a study
and an :class:`AuditPlan` into the audit's protocols, data, designs, jobs and store (the trainings
themselves: :func:`~..audit.trainings.run_jobs`); :func:`write_audit` scores what the store holds
and writes ``fidelity.csv``, ``fidelity.json``, ``fidelity.html`` (and ``fidelity-horizons.csv``
for a long reference with a ladder)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from ..sr.data import TrainData, load_data
from ..training.protocol import Protocol
from ..search.resources import default_report_dir
from ..search.study import StudyConfig, screening_record
from ..audit.horizons import HorizonSummary, horizon_summary
from ..audit.stats import AuditSummary, screening_signature, summarize
from ..audit.store import REFERENCE, SCREEN, AuditStore
from ..audit.trainings import Ladder, draw_designs, plan_jobs, read_design_file, role_key
from ..reporting.fidelity import fidelity_dict, fidelity_html, horizons_dict, horizons_rows


@dataclass(frozen=True)
class AuditPlan:
    """An audit's choices beyond its study: ``designs`` drawn (seeded by ``draw_seed``) besides
    the baselines and those of ``design_file``; ``seeds`` screening seeds each; the reference:
    ``factor`` x the screening's steps or ``reference_steps`` (None: the study's), a second seed
    for the first ``reference_repeat`` designs (or those labelled), scored along ``ladder`` (None:
    the study's) with a checkpoint every ``checkpoint_every`` steps; ``tolerance`` of cost-matched
    pairs; the data of each role (None: the study's; the reference's: the screening's);
    ``cpu_bf16``; the ``store`` (None: OUT/audit.jsonl) and ``out`` (None: reports/NAME/fidelity)."""

    designs: int = 12
    seeds: int = 3
    factor: int | None = None
    reference_steps: int | None = None
    reference_repeat: int | Sequence[str] = 3
    design_file: str | None = None
    ladder: tuple[int, ...] | None = None
    checkpoint_every: int = 250
    draw_seed: int = 0
    tolerance: float = 0.15
    train_dirs: Sequence[str] | None = None
    val_dirs: Sequence[str] | None = None
    reference_train_dirs: Sequence[str] | None = None
    reference_val_dirs: Sequence[str] | None = None
    cpu_bf16: bool = False
    store: str | Path | None = None
    out: str | Path | None = None


@dataclass(frozen=True)
class Audit:
    """One audit's settings, resolved once from the study and the plan."""

    cfg: StudyConfig
    designs: list
    jobs: list
    store: AuditStore
    screen: Protocol
    reference: Protocol
    screen_data: TrainData
    reference_data: TrainData
    out: Path
    ladder: Ladder | None = None


def _data(cfg: StudyConfig, plan: AuditPlan, screen: Protocol, reference: Protocol,
          progress: bool) -> tuple[TrainData, TrainData]:
    """Each role's images, filtered by its own patch size (as ``slwsr run`` loads a study's); one
    load where the roles share data and patch size."""
    train_src, val_src = list(plan.train_dirs or cfg.train), list(plan.val_dirs or cfg.val)
    screen_data = load_data(train_src, val_src, cfg.space.scale, screen.lr_patch, progress=progress)
    ref_train = list(plan.reference_train_dirs or train_src)
    ref_val = list(plan.reference_val_dirs or val_src)
    if (ref_train, ref_val) == (train_src, val_src) and reference.lr_patch == screen.lr_patch:
        return screen_data, screen_data
    return screen_data, load_data(ref_train, ref_val, cfg.space.scale, reference.lr_patch, progress=progress)


def _ladder(plan: AuditPlan, cfg: StudyConfig, reference: Protocol, store_path: Path) -> Ladder | None:
    """The reference's ladder (the plan's, else the study's), checked against its steps; None: none."""
    steps, where = (plan.ladder, "--ladder") if plan.ladder is not None else (cfg.reference_ladder,
                                                                               f"{cfg.path}: reference_ladder")
    if not steps:
        return None
    ladder = Ladder(tuple(steps), str(store_path.parent / f"{store_path.stem}-runs"), plan.checkpoint_every)
    ladder.check(reference, where)
    return ladder


def _designs(cfg: StudyConfig, plan: AuditPlan, on_calibrate: Callable[[list, Path], None] | None) -> list:
    """The drawn designs (a latency limit decides which: the study's table, measured first where
    this machine's lacks parts) with the baselines and the design file's."""
    table = None
    if cfg.needs_latency:
        from ..search.latency import study_table

        table = study_table(cfg, on_calibrate)
    designs = draw_designs(cfg, plan.designs, plan.draw_seed, latency_table=table)
    if plan.design_file:
        designs += read_design_file(plan.design_file, designs)
    if not designs:
        raise ValueError(f"--designs: 0 designs and no baseline of {cfg.name} fits its budget: nothing to audit")
    return designs


def resolve_audit(config: StudyConfig | str | Path, plan: AuditPlan, device_type: str, progress: bool = False,
                  on_calibrate: Callable[[list, Path], None] | None = None) -> Audit:
    """The audit of the study ``config`` (a :class:`StudyConfig`, a built-in name or a TOML path)
    on a device of ``device_type``: its protocols, data (``progress``: bars while loading),
    designs, jobs, ladder and store, as ``plan`` says."""
    cfg = config if isinstance(config, StudyConfig) else StudyConfig.load(config)
    screen = cfg.protocol_for(device_type)
    reference = cfg.reference_for(screen, plan.factor)
    if plan.reference_steps is not None:
        reference = dataclasses.replace(reference, steps=plan.reference_steps)
    out = Path(plan.out) if plan.out else default_report_dir(cfg.name) / "fidelity"
    screen_data, reference_data = _data(cfg, plan, screen, reference, progress)
    designs = _designs(cfg, plan, on_calibrate)
    repeat = plan.reference_repeat
    jobs = plan_jobs(designs, plan.seeds, min(repeat, len(designs)) if isinstance(repeat, int) else repeat)
    store_path = Path(plan.store) if plan.store else out / "audit.jsonl"
    ladder = _ladder(plan, cfg, reference, store_path)
    bf16 = {"cpu_bf16": True} if plan.cpu_bf16 else None  # another precision: other trainings
    store = AuditStore(store_path, {SCREEN: role_key(screen, screen_data, cfg.fidelity, extra=bf16),
                                    REFERENCE: role_key(reference, reference_data, ladder=ladder, extra=bf16)})
    return Audit(cfg, designs, jobs, store, screen, reference, screen_data, reference_data, out, ladder)


@dataclass(frozen=True)
class AuditOutcome:
    """What an audit's store says: the ``summary``, the ``horizons`` (a ladder's; None without
    one) and the trainings ``left`` to do."""

    summary: AuditSummary
    horizons: HorizonSummary | None
    left: int


def _settings(a: Audit, plan: AuditPlan, records: dict, left: int) -> dict:
    """The audit's settings as ``fidelity.json`` states them."""
    cfg, screen, reference, sd, rd = a.cfg, a.screen, a.reference, a.screen_data, a.reference_data
    return {"study": cfg.name, "designs": [{"label": d.label, "arch": d.spec.arch} for d in a.designs],
            "screen_seeds": plan.seeds, "screening_protocol": screen.to_dict(), "reference_protocol": reference.to_dict(),
            "screening_fidelity": cfg.fidelity.to_dict(), "screening_data": [sd.train_source, sd.val_source],
            "screening_signature": screening_signature(screening_record(screen, cfg.fidelity),
                                                       [sd.train_source, sd.val_source], sd.scale),
            "reference_data": [rd.train_source, rd.val_source],
            "ladder": a.ladder.rungs(reference) if a.ladder else None,
            "trainings": len(a.jobs), "trainings_left": left, "store": str(a.store.path),
            "cpus": sorted({r.get("cpu", "?") for r in records.values()})}


def write_audit(a: Audit, plan: AuditPlan) -> AuditOutcome:
    """Score what the store holds of this audit's designs (a shared store may hold others') and
    write the outputs into ``a.out``."""
    mine = {d.spec.hash for d in a.designs}
    records = {k: r for k, r in a.store.load().items() if r["hash"] in mine}
    summary = summarize(records, plan.seeds, plan.tolerance)
    horizons = horizon_summary(records, plan.seeds, plan.tolerance,
                               rung_steps=[r * a.screen.steps for r in a.cfg.fidelity.rungs])
    left = len([j for j in a.jobs if j.key not in records])
    a.out.mkdir(parents=True, exist_ok=True)
    designs = summary.designs
    if horizons is not None:  # the reference PSNR at every rung, beside each design
        designs = designs.join(horizons.reference.add_prefix("reference_at_").reset_index(drop=True))
        pd.DataFrame(horizons_rows(horizons)).to_csv(a.out / "fidelity-horizons.csv", index=False)
    designs.to_csv(a.out / "fidelity.csv", index=False)
    body = {**fidelity_dict(summary, _settings(a, plan, records, left)),
            "horizons": horizons_dict(horizons) if horizons else None}
    (a.out / "fidelity.json").write_text(json.dumps(body, indent=2) + "\n")
    (a.out / "fidelity.html").write_text(fidelity_html(summary, f"Fidelity audit of {a.cfg.name}", horizons),
                                         encoding="utf-8")
    return AuditOutcome(summary, horizons, left)
