"""``slwsr fidelity`` / ``python -m slwsr_search.fidelity``: audit how well a study's screening
ranks designs the way a longer reference training does."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Sequence

import optuna
import pandas as pd

from ..audit.store import REFERENCE, SCREEN, AuditStore
from ..audit.trainings import Ladder, draw_designs, plan_jobs, read_design_file, role_key, run_jobs
from ..audit.stats import screening_signature, summarize
from ..audit.horizons import horizon_summary
from ..reporting.fidelity import fidelity_dict, fidelity_html, fidelity_text, horizons_dict, horizons_rows, horizons_text
from ..machine import cpu_label, native_bf16
from ..search.resources import default_report_dir
from ..search.study import StudyConfig, screening_record
from ..search.workers import StopRequest, failed_workers, local_plan, my_share, spawn_workers
from ..sr.data import TrainData, load_data
from ..training.device import Speedups, configure_device, resolve_device
from ..training.protocol import Protocol
from .common import STOPPING_WORKERS, Parser, print_worker

SUMMARY = "audit a study's screening: its ranking of designs against a longer reference training"

DESCRIPTION = """\
Measure how well the study's screening protocol (what each search trial trains) ranks designs the
way a longer reference training ranks them.

Draws --designs feasible designs from the study's search space (seeded by --draw-seed, distinct)
plus its baselines that fit the budget; trains each under the screening protocol with --seeds
seeds, and once under the reference protocol (the study's [reference_protocol], else the screening
protocol with --factor times the steps), the first --reference-repeat designs twice (the
reference's own noise). --design-file adds designs chosen on purpose (one 'LABEL ARCH' per line).
Then, for each candidate score (single-seed PSNR, the seed mean, two
training-loss estimators, parameters and Multi-Adds alone), Kendall's tau and Spearman's rho
against the reference PSNR with bootstrap intervals, and the share of correctly ordered pairs
among cost-matched designs (parameters within --tolerance of each other).

A long reference: --ladder (or the study's reference_ladder) scores each reference training at
those steps on the way, so the ranking can be read at every horizon; each such training runs in
its own folder beside the store (STORE-runs/), with a checkpoint every --checkpoint-every steps: a
kill, a Ctrl-C or the end of a sitting loses at most that many steps, and the same command resumes
it, in another process or on another machine (its log says so when the CPU differs).

Every training is stored as it finishes (audit.jsonl in the output folder): run the same command
again to resume a killed or stopped audit; --max-jobs N stops after N trainings (split a long
audit across sittings). Ctrl-C stops after the current training step; the cut training reruns on
resume. Screening data: --train-dir/--val-dir (default the study's); reference data:
--reference-train-dir/--reference-val-dir (default the screening data).
"""

EPILOG = """\
examples:
  slwsr fidelity --study budget150k --designs 12 --seeds 3 --factor 10
  slwsr fidelity --study budget150k --designs 13 --reference-train-dir ../shared/data/train/T91 \\
      --reference-train-dir ../shared/data/train/BSD200 --reference-val-dir ../shared/data/Set5 \\
      --reference-val-dir ../shared/data/Set14 --out reports/budget150k/fidelity-real
  slwsr fidelity --study budget150k --designs 0 --design-file designs.txt --reference-steps 5000 \
      --ladder 250,500,1000,2000,3000,4000 --reference-repeat s-lwsr16,t3-d1 --reference-train-dir ... --workers 2

writes (default reports/NAME/fidelity/ under the current folder): audit.jsonl (every training),
fidelity.csv (one row per design), fidelity.json (the estimators with their intervals), fidelity.html,
and fidelity-horizons.csv (every estimator at every rung of the ladder: tau, rho, cost-matched pairs,
top-1 regret).

exit codes: 0 done (or stopped by --max-jobs); 2 bad input; 130 interrupted (resume with the same command).
"""


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--study", required=True, metavar="NAME", help="a built-in study or a path to a study TOML")
    p.add_argument("--designs", type=int, default=12, metavar="N",
                   help="designs drawn from the space, besides the baselines (default 12; 0: the baselines alone)")
    p.add_argument("--seeds", type=int, default=3, metavar="S", help="screening seeds per design (default 3)")
    p.add_argument("--factor", type=int, metavar="K",
                   help="reference = the screening protocol with K x the steps (default: the study's [reference_protocol], "
                        "else K = 10)")
    p.add_argument("--reference-repeat", default="3", metavar="R|LABELS",
                   help="the first R designs, or those labelled (comma-separated), get a second reference seed: the "
                        "reference's own noise (default 3)")
    p.add_argument("--design-file", metavar="FILE", help="more designs, chosen on purpose: one 'LABEL ARCH' per line")
    p.add_argument("--reference-steps", type=int, metavar="N",
                   help="the study's reference protocol with N steps (default: its [reference_protocol] as it is)")
    p.add_argument("--ladder", metavar="STEPS",
                   help="score each reference training at these steps on the way, e.g. 500,1000,2000 (default the "
                        "study's reference_ladder; none: at its end only)")
    p.add_argument("--checkpoint-every", type=int, default=250, metavar="K",
                   help="with a ladder, a checkpoint of each reference training every K steps (default 250)")
    p.add_argument("--draw-seed", type=int, default=0, help="seed of the design draw (default 0)")
    p.add_argument("--tolerance", type=float, default=0.15, help="cost-matched: parameters within this share (default 0.15)")
    p.add_argument("--train-dir", action="append", metavar="DIR", help="screening training images (default: the study's)")
    p.add_argument("--val-dir", action="append", metavar="DIR", help="screening validation images (default: the study's)")
    p.add_argument("--reference-train-dir", action="append", metavar="DIR", help="reference training images (default: the screening's)")
    p.add_argument("--reference-val-dir", action="append", metavar="DIR", help="reference validation images (default: the screening's)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", type=int, metavar="T", help="CPU threads (default: one per core)")
    p.add_argument("--cpu-bf16", action="store_true",
                   help="train with bfloat16 autocast on a CPU with bf16 units (AVX512_BF16 or AMX; scored in fp32); "
                        "these trainings are kept apart from fp32 ones in the store")
    p.add_argument("--max-jobs", type=int, metavar="N", help="stop after N trainings (resume later; per worker with --workers)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this machine (default 1; on CUDA one GPU each, on a CPU the cores split)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # set by --workers for its child processes
    p.add_argument("--store", metavar="FILE.jsonl",
                   help="where the trainings are kept (default OUT/audit.jsonl); audits with the same screening can share one")
    p.add_argument("--out", metavar="DIR", help="output folder (default reports/NAME/fidelity under the current folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@dataclasses.dataclass(frozen=True)
class _Audit:
    """One audit's settings, resolved once from the study and the options."""

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


def _check_args(args) -> None:
    if args.factor is not None and args.reference_steps is not None:
        raise ValueError("--factor and --reference-steps: give one of them")
    for name, low in (("designs", 0), ("seeds", 1), ("factor", 1), ("reference_steps", 1), ("workers", 1),
                      ("checkpoint_every", 1)):
        v = getattr(args, name)
        if v is not None and v < low:
            raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= {low}, got {v}")
    if not 0 <= args.tolerance < 1:
        raise ValueError(f"--tolerance: expected a share in [0, 1), got {args.tolerance}")
    args.reference_repeat = _repeat(args.reference_repeat)
    args.ladder = None if args.ladder is None else _steps(args.ladder, "--ladder")


def _repeat(text: str) -> int | list[str]:
    """``--reference-repeat``: a count, or labels."""
    if text.strip().isdigit():
        return int(text)
    labels = [x.strip() for x in text.split(",") if x.strip()]
    if not labels:
        raise ValueError(f"--reference-repeat: expected a count or design labels, got {text!r}")
    return labels


def _steps(text: str, where: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"{where}: expected comma-separated steps such as 500,1000,2000, got {text!r}") from None
    if any(s < 1 for s in steps):
        raise ValueError(f"{where}: expected steps >= 1, got {text!r}")
    return steps


def _resolve(args, dev, show: bool) -> "_Audit":
    """The audit's study, protocols, data (each role's images filtered by its own patch size, as
    `slwsr run` loads a study's), designs, jobs and store, from the study and the options."""
    cfg = StudyConfig.load(args.study)
    screen = cfg.protocol_for(dev.type)
    reference = cfg.reference_for(screen, args.factor)
    if args.reference_steps is not None:
        reference = dataclasses.replace(reference, steps=args.reference_steps)
    out = Path(args.out) if args.out else default_report_dir(cfg.name) / "fidelity"
    train_src, val_src = args.train_dir or list(cfg.train), args.val_dir or list(cfg.val)
    screen_data = load_data(train_src, val_src, cfg.space.scale, screen.lr_patch, progress=show)
    ref_train, ref_val = args.reference_train_dir or train_src, args.reference_val_dir or val_src
    if (ref_train, ref_val) == (train_src, val_src) and reference.lr_patch == screen.lr_patch:
        reference_data = screen_data
    else:
        reference_data = load_data(ref_train, ref_val, cfg.space.scale, reference.lr_patch, progress=show)
    table = None
    if cfg.needs_latency:  # a latency limit decides which designs are drawn
        from ..search.latency import study_table

        table = study_table(cfg, lambda parts, path: print(f"calibrating this machine's latency table: {len(parts)} "
                                                           f"part(s) -> {path}", flush=True))
    designs = draw_designs(cfg, args.designs, args.draw_seed, latency_table=table)
    if args.design_file:
        designs += read_design_file(args.design_file, designs)
    if not designs:
        raise ValueError(f"--designs: 0 designs and no baseline of {cfg.name} fits its budget: nothing to audit")
    repeat = args.reference_repeat
    jobs = plan_jobs(designs, args.seeds, min(repeat, len(designs)) if isinstance(repeat, int) else repeat)
    store_path = Path(args.store) if args.store else out / "audit.jsonl"
    ladder = _ladder(args, cfg, reference, store_path)
    bf16 = {"cpu_bf16": True} if args.cpu_bf16 else None  # another precision: other trainings
    store = AuditStore(store_path, {SCREEN: role_key(screen, screen_data, cfg.fidelity, extra=bf16),
                                    REFERENCE: role_key(reference, reference_data, ladder=ladder, extra=bf16)})
    return _Audit(cfg, designs, jobs, store, screen, reference, screen_data, reference_data, out, ladder)


def _ladder(args, cfg: StudyConfig, reference: Protocol, store_path: Path) -> Ladder | None:
    """The reference's ladder (the option's, else the study's), checked against its steps; None: none."""
    steps, where = (args.ladder, "--ladder") if args.ladder is not None else (cfg.reference_ladder,
                                                                               f"{cfg.path}: reference_ladder")
    if not steps:
        return None
    ladder = Ladder(tuple(steps), str(store_path.parent / f"{store_path.stem}-runs"), args.checkpoint_every)
    ladder.check(reference, where)
    return ladder


def _header(args, a: "_Audit", dev, finished: dict) -> None:
    cfg, screen, reference = a.cfg, a.screen, a.reference
    done_before = len([j for j in a.jobs if j.key in finished])
    print(f"study      {cfg.name}: {len(a.designs)} designs ({sum(d.label in cfg.baselines for d in a.designs)} baselines), "
          f"{args.seeds} screening seeds, {len(a.jobs)} trainings ({done_before} done before); output {a.out}/")
    rungs = (f" up rungs at {', '.join(str(r * screen.steps) for r in cfg.fidelity.rungs)} steps"
             if len(cfg.fidelity.rungs) > 1 else "")
    print(f"screening  {screen.steps} steps x {screen.batch_size} x {screen.lr_patch}px, lr {screen.lr:g} "
          f"{screen.schedule}{rungs}; train {a.screen_data.train_source}; val {a.screen_data.val_source}; device {dev}")
    print(f"reference  {reference.steps} steps x {reference.batch_size} x {reference.lr_patch}px, lr {reference.lr:g} "
          f"{reference.schedule}; train {a.reference_data.train_source}; val {a.reference_data.val_source}")
    if a.ladder is not None:
        print(f"ladder     scored at {', '.join(f'{s:,}' for s in a.ladder.rungs(reference))} steps; a checkpoint every "
              f"{a.ladder.checkpoint_every} steps in {a.ladder.runs_dir}/")
    print(f"store      {a.store.path}", flush=True)


def _train(args, a: "_Audit", todo: list, dev, speedups: Speedups, show: bool) -> bool:
    """Train ``todo`` in this process, a line for each; whether a Ctrl-C stopped it."""
    label = f"[w{args.worker}] " if args.worker is not None else ""
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="training", file=sys.stderr)
    announce = None if args.worker is not None else (lambda: print(
        "\nstopping after the current training step (Ctrl-C again to stop at once) ...", file=sys.stderr, flush=True))
    with StopRequest(on_request=announce) as stop:
        def trained(job, rec) -> None:
            line = (f"{label}{job.role:<9} {job.design.label:<14} seed {job.seed}  {rec['params']:>9,} params  "
                    + (f"PSNR {rec['psnr']:.3f}" if rec["status"] == "ok" else f"FAILED {rec['status']}")
                    + f"  {rec['seconds']:.1f} s")
            (bar.write(line) if bar else print(line, flush=True))
            if bar:
                bar.update()

        def line(job, text: str) -> None:
            out = f"{label}{job.role:<9} {job.design.label:<14} seed {job.seed}  {text}"
            (bar.write(out) if bar else print(out, flush=True))

        try:
            run_jobs(todo, a.store, a.screen, a.reference, a.screen_data, a.reference_data, str(dev), speedups,
                     on_done=trained, should_stop=lambda: stop.requested, fidelity=a.cfg.fidelity, ladder=a.ladder,
                     on_line=line)
        except KeyboardInterrupt:
            pass
        finally:
            if bar:
                bar.close()
        return stop.requested


def main(argv: Sequence[str] | None = None, prog: str = "slwsr fidelity") -> int:
    args = build_parser(prog).parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines instead
    _check_args(args)
    dev = resolve_device(args.device)
    if args.cpu_bf16 and dev.type == "cpu" and not native_bf16():
        raise ValueError(f"--cpu-bf16: this CPU ({cpu_label()}) has no bf16 units (AVX512_BF16 or AMX): it would run "
                         "bf16 far slower than fp32")
    speedups = Speedups(threads=args.threads, cpu_bf16=args.cpu_bf16)
    configure_device(dev, speedups)  # process-wide switches, once
    show = not args.quiet and sys.stderr.isatty()
    a = _resolve(args, dev, show)
    finished = a.store.load()
    if args.worker is None:  # workers are quiet but for their training lines
        _header(args, a, dev, finished)
    if args.workers > 1 and args.worker is None:
        return _finish(args, a, _spawn_workers(args, argv))
    todo = [j for j in my_share(a.jobs, args.worker, args.workers) if j.key not in finished][: args.max_jobs]
    stopped = _train(args, a, todo, dev, speedups, show)
    if args.worker is not None:
        return 130 if stopped else 0
    return _finish(args, a, stopped)


def _finish(args, a: _Audit, stopped: bool) -> int:
    """Score what the store holds, write the outputs and print the estimator table."""
    cfg, designs, jobs, store, out = a.cfg, a.designs, a.jobs, a.store, a.out
    screen, reference, screen_data, reference_data = a.screen, a.reference, a.screen_data, a.reference_data
    mine = {d.spec.hash for d in designs}  # a shared store may hold other audits' designs: score this one's
    records = {k: r for k, r in store.load().items() if r["hash"] in mine}
    summary = summarize(records, args.seeds, args.tolerance)
    rung_steps = [r * screen.steps for r in cfg.fidelity.rungs]
    horizons = horizon_summary(records, args.seeds, args.tolerance, rung_steps=rung_steps)
    left = len([j for j in jobs if j.key not in records])
    settings = {"study": cfg.name, "designs": [{"label": d.label, "arch": d.spec.arch} for d in designs],
                "screen_seeds": args.seeds, "screening_protocol": screen.to_dict(), "reference_protocol": reference.to_dict(),
                "screening_fidelity": cfg.fidelity.to_dict(),
                "screening_data": [screen_data.train_source, screen_data.val_source],
                "screening_signature": screening_signature(screening_record(screen, cfg.fidelity),
                                                           [screen_data.train_source, screen_data.val_source],
                                                           screen_data.scale),
                "reference_data": [reference_data.train_source, reference_data.val_source],
                "ladder": a.ladder.rungs(reference) if a.ladder else None,
                "trainings": len(jobs), "trainings_left": left, "store": str(store.path),
                "cpus": sorted({r.get("cpu", "?") for r in records.values()})}
    out.mkdir(parents=True, exist_ok=True)
    designs = summary.designs
    if horizons is not None:  # the reference PSNR at every rung, beside each design
        designs = designs.join(horizons.reference.add_prefix("reference_at_").reset_index(drop=True))
        pd.DataFrame(horizons_rows(horizons)).to_csv(out / "fidelity-horizons.csv", index=False)
    designs.to_csv(out / "fidelity.csv", index=False)
    body = {**fidelity_dict(summary, settings), "horizons": horizons_dict(horizons) if horizons else None}
    (out / "fidelity.json").write_text(json.dumps(body, indent=2) + "\n")
    (out / "fidelity.html").write_text(fidelity_html(summary, f"Fidelity audit of {cfg.name}", horizons), encoding="utf-8")
    print()
    print(fidelity_text(summary))
    if horizons is not None and len(horizons.horizons) > 1:
        print()
        print(horizons_text(horizons))
    print(f"\n{left} of {len(jobs)} trainings left" + (": run the same command to resume" if left else "")
          + f"; written to {out}/ (audit.jsonl, fidelity.csv, fidelity.json, fidelity.html)")
    return 130 if stopped else 0


def _spawn_workers(args, argv: Sequence[str] | None) -> bool:
    """Run ``--workers`` child processes (``python -m slwsr_search.fidelity ... --worker K``) on
    this machine and wait for them; whether a Ctrl-C stopped them."""
    plan = local_plan(args.workers, args.device, args.threads)
    codes, interrupted = spawn_workers("slwsr_search.fidelity", list(sys.argv[1:] if argv is None else argv), plan,
                                       on_start=print_worker,
                                       on_interrupt=lambda: print(STOPPING_WORKERS, file=sys.stderr, flush=True))
    failed = failed_workers(codes)
    if failed:
        print(f"workers that failed: {', '.join(failed)} (their errors are above)", file=sys.stderr)
    return interrupted
