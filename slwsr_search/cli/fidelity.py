"""``slwsr fidelity`` / ``python -m slwsr_search.fidelity``: audit how well a study's screening
ranks designs the way a longer reference training does. The audit's settings and outputs are
:mod:`slwsr_search.jobs.fidelity`'s, its trainings :func:`slwsr_search.audit.trainings.run_jobs`'s;
this module parses, prints and starts ``--workers``."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import optuna

from ..audit.trainings import run_jobs
from ..reporting.fidelity import fidelity_text, horizons_text
from ..machine import cpu_label, native_bf16
from ..search.workers import StopRequest, failed_workers, local_plan, my_share, spawn_workers
from ..training.device import Speedups, configure_device, resolve_device
from ..jobs.fidelity import Audit, AuditPlan, resolve_audit, write_audit
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


def _plan(args) -> AuditPlan:
    """The audit's plan from the options (checked first: :func:`_check_args`)."""
    return AuditPlan(args.designs, args.seeds, args.factor, args.reference_steps, _repeat(args.reference_repeat),
                     args.design_file, None if args.ladder is None else _steps(args.ladder, "--ladder"),
                     args.checkpoint_every, args.draw_seed, args.tolerance, args.train_dir, args.val_dir,
                     args.reference_train_dir, args.reference_val_dir, args.cpu_bf16, args.store, args.out)


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


def _header(args, a: Audit, dev, finished: dict) -> None:
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


def _train(args, a: Audit, todo: list, dev, speedups: Speedups, show: bool) -> bool:
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
    plan = _plan(args)
    dev = resolve_device(args.device)
    if args.cpu_bf16 and dev.type == "cpu" and not native_bf16():
        raise ValueError(f"--cpu-bf16: this CPU ({cpu_label()}) has no bf16 units (AVX512_BF16 or AMX): it would run "
                         "bf16 far slower than fp32")
    speedups = Speedups(threads=args.threads, cpu_bf16=args.cpu_bf16)
    configure_device(dev, speedups)  # process-wide switches, once
    show = not args.quiet and sys.stderr.isatty()
    a = resolve_audit(args.study, plan, dev.type, show, lambda parts, path: print(
        f"calibrating this machine's latency table: {len(parts)} part(s) -> {path}", flush=True))
    finished = a.store.load()
    if args.worker is None:  # workers are quiet but for their training lines
        _header(args, a, dev, finished)
    if args.workers > 1 and args.worker is None:
        return _finish(a, plan, _spawn_workers(args, argv))
    todo = [j for j in my_share(a.jobs, args.worker, args.workers) if j.key not in finished][: args.max_jobs]
    stopped = _train(args, a, todo, dev, speedups, show)
    if args.worker is not None:
        return 130 if stopped else 0
    return _finish(a, plan, stopped)


def _finish(a: Audit, plan: AuditPlan, stopped: bool) -> int:
    """Score what the store holds, write the outputs and print the estimator table."""
    done = write_audit(a, plan)
    print()
    print(fidelity_text(done.summary))
    if done.horizons is not None and len(done.horizons.horizons) > 1:
        print()
        print(horizons_text(done.horizons))
    print(f"\n{done.left} of {len(a.jobs)} trainings left" + (": run the same command to resume" if done.left else "")
          + f"; written to {a.out}/ (audit.jsonl, fidelity.csv, fidelity.json, fidelity.html)")
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
