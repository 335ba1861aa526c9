"""``slwsr run`` / ``python -m slwsr_search.run --study NAME``: the search, the product's main job.

This module parses options and prints what the run tells it; the run itself, workers and Ctrl-C
included, is one library call, :func:`slwsr_search.jobs.study.run_job` (a worker's body:
:func:`~slwsr_search.jobs.study.run_worker`), over :mod:`slwsr_search.search` (the trial loop in
:mod:`~slwsr_search.search.runner`, the worker plan and signal handling in
:mod:`~slwsr_search.search.workers`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import optuna

from ..reporting.render import REPORT_FILES, front_table, trial_line
from ..search.storage import STORAGE_ENV, mask_url
from ..search.study import StudyConfig
from ..jobs.study import JobHooks, JobPlan, JobResult, JobStart, run_job, run_worker
from .common import STOPPING_WORKERS, Parser, print_worker

SUMMARY = "the search: a study's multi-objective Optuna run, persistent and resumable, with --workers"

DESCRIPTION = """\
Search s-LWSR variants for the best validation PSNR at the fewest parameters and Multi-Adds,
under a hard budget, with Optuna (multi-objective). A study is a TOML file in studies/ naming its
search space (search_spaces/), objectives, budget, training protocol, data, sampler and n_trials;
the built-in ones are listed in the error for an unknown name, and any TOML path works too.

Each trial is priced first: a spec over budget is recorded as infeasible and not trained. A spec
already trained under the same protocol and data is not trained again. The paper's designs that
fit the budget are trained first, under the same protocol, so reports compare like with like.
Each trial trains with a seed made from the study seed and the trial number.

The study is persistent: by default it lives in studies/NAME.db (SQLite) under the current folder, and
its report goes to reports/NAME/ there. Running the same command again resumes it and runs trials
until it holds n_trials COMPLETE trials in total.

Parallel: --workers N runs N worker processes on this machine (one per GPU, round robin, when the
device is CUDA; on a CPU the cores are shared out). Several machines share a study by running this
command against one PostgreSQL --storage. A worker killed mid-trial leaves a trial that stops
sending heartbeats: after the study's grace period another worker marks it FAIL and runs it again.
Ctrl-C stops every worker; the trial it cut short is marked FAIL and queued to run first on resume.
"""

EPILOG = """\
examples:
  python -m slwsr_search.run --study budget150k                       # the same as: slwsr run --study budget150k
  slwsr run --study budget150k --n-trials 40                           # resume, up to 40 in total
  slwsr run --study budget150k --workers 4                             # 4 processes (e.g. 4 GPUs)
  SLWSR_STORAGE=postgresql+psycopg2://user:PASSWORD@db-host/studies \\
      slwsr run --study budget150k                                     # on every machine that helps
  slwsr run --study budget150k --train-dir ../shared/data/train/T91 \\
      --train-dir ../shared/data/train/BSD200 --val-dir ../shared/data/Set5 --storage sqlite:///real.db
  slwsr report --study budget150k                                      # refresh reports/budget150k/
  optuna-dashboard sqlite:///studies/budget150k.db                     # browse it

environment: SLWSR_STORAGE   storage URL used when --storage is not given (keeps a database
                             password out of the process list and the shell history)

exit codes: 0 done (or stopped by --timeout); 1 a worker failed; 2 bad input (one-line error);
130 interrupted.
"""



def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--study", required=True, metavar="NAME", help="a built-in study (studies/) or a path to a study TOML")
    p.add_argument("--n-trials", type=int, metavar="N", help="COMPLETE trials the study should hold in total (default: the study's)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds (default: the study's)")
    p.add_argument("--storage", metavar="URL",
                   help=f"Optuna storage URL (default: ${STORAGE_ENV}, else sqlite:///studies/NAME.db under the current folder)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this machine sharing the study (default 1; on CUDA, one GPU each, round robin)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", type=int, metavar="T", help="CPU threads per worker (default: the cores / --workers)")
    p.add_argument("--supernet", metavar="FILE",
                   help="score every trial with the inherited weights of this trained supernet (slwsr supernet train) "
                        "instead of the study's evaluator; the study must rank by psnr or ssim (docs/supernet.md)")
    p.add_argument("--seed", type=int, help="sampler seed, and the root of every trial's training seed (default: the study's)")
    p.add_argument("--train-dir", action="append", metavar="DIR", help="training images instead of the study's (repeatable)")
    p.add_argument("--val-dir", action="append", metavar="DIR", help="validation images instead of the study's (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-trial lines still print)")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.add_argument("--report-dir", metavar="DIR", help="where to write the report (default reports/NAME under the current folder)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # set by --workers for its child processes
    return p


def _label(worker: int) -> str:
    """The prefix of a worker's lines (none for a run's own trials)."""
    return f"[w{worker}] " if worker else ""


def _say(line: str) -> None:
    """One line, at once (workers write to the same terminal)."""
    print(line, flush=True)


def _header(start: JobStart) -> None:
    """The lines a run starts with: the study, its budget, its latency table, protocol and trials."""
    st, cfg = start.settings, start.settings.cfg
    print(f"study      {cfg.name} ({cfg.path}) in {mask_url(st.storage)}")
    print(f"budget     {cfg.budget_line()}")
    if st.latency_table is not None:
        t = st.latency_table
        print(f"latency    predicted from {t.source} ({t.identity.describe()}; calibrated {t.created})")
    print(f"protocol   {start.protocol_desc}; device {start.device}")
    print(f"trials     {start.complete} of {st.n_trials} complete so far"
          + (f"; enqueued baselines: {', '.join(start.baselines)}" if start.baselines else "")
          + (f"; timeout {st.timeout:g} s" if st.timeout else ""))
    sys.stdout.flush()


def _interrupted(worker: int, number: int | None) -> None:
    """The line a Ctrl-C ends a worker's (or the run's own) trials with."""
    what = (f"trial #{number} was cut short: marked FAIL and queued to run first on resume" if number is not None
            else "no trial was cut short")
    print(f"{_label(worker)}interrupted: {what}", file=sys.stderr, flush=True)


def _summary(r: JobResult) -> str:
    """The study's trials by state, ``3 COMPLETE, 6 PRUNED``."""
    return ", ".join(f"{v} {k}" for k, v in sorted(r.states.items()))


def _ran(r: JobResult) -> None:
    """The lines a run ends its trials with: how long, what the study holds, the throughput."""
    print(f"\nran {r.elapsed_s:.0f} s with {r.workers} worker(s); study holds {_summary(r)} (target {r.n_trials} COMPLETE)")
    what, per = (("design(s) scored with inherited weights", "designs/hour") if r.evaluator == "supernet"
                 else ("training(s)", "trainings/hour"))
    print(f"throughput {r.trainings} {what} in {r.elapsed_s:.0f} s = {r.trainings_per_hour:.0f} {per}")
    if r.failed_workers:
        print(f"workers that failed: {', '.join(r.failed_workers)} (their errors are above)", file=sys.stderr)


def _front(r: JobResult) -> None:
    """The front's table, and whether the study is finished."""
    print(front_table(r.report))
    if not r.finished:
        print(f"not finished (timeout or failures): run the same command again to resume up to {r.n_trials}.")


def _front_skipped(table, here: str) -> None:
    """Why the front's latency is not timed on this machine."""
    _say(f"latency    Pareto front not timed: its latencies are predicted for {table.identity.describe()} "
         f"(the table's machine); this machine ({here}) is another, so a time here cannot check them")


def _hooks(cfg: StudyConfig, worker: int | None) -> JobHooks:
    """What the command prints of a run (``worker``: None in the run's own process, K in its worker K)."""
    ft = cfg.fault_tolerance
    return JobHooks(
        on_calibrate=None if worker is not None else lambda parts, path: _say(
            f"latency    calibrating this machine's latency table on first use: {len(parts)} part(s) "
            f"(about {max(1, round(len(parts) * 2.5 / 60))} min) -> {path}"),
        on_start=_header,
        on_trial=lambda w, t: _say(_label(w) + trial_line(t)),
        on_wait=lambda w, c: _say(f"{_label(w)}waiting: {c['RUNNING']} running trial(s) may complete the study"),
        on_lost=lambda w, n: _say(f"{_label(w)}#{n:<4} FAILED: its worker died (no heartbeat for {ft.grace_period} s): "
                                  f"retried, at most {ft.max_retry} time(s)"),
        on_stop_requested=lambda: print("\nstopping after the current training step (Ctrl-C again to stop at once) ...",
                                        file=sys.stderr, flush=True),
        on_interrupted=_interrupted, on_worker=print_worker,
        on_stopping_workers=lambda: print(STOPPING_WORKERS, file=sys.stderr, flush=True),
        on_ran=_ran, on_front_skipped=_front_skipped,
        on_front_measuring=lambda n, table: _say(f"measuring the time per image of {n} Pareto point(s) on this "
                                                 f"machine, the table's ({table.identity.describe()}; 3 turns each) ..."),
        on_report=_front)


def main(argv: Sequence[str] | None = None, prog: str = "slwsr run") -> int:
    args = build_parser(prog).parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    cfg = StudyConfig.load(args.study)
    plan = JobPlan(args.n_trials, args.timeout, args.seed, args.train_dir, args.val_dir, args.workers, args.device,
                   args.threads, progress=not args.quiet and sys.stderr.isatty(), report_dir=args.report_dir,
                   write_report=not args.no_report, supernet=args.supernet)
    hooks = _hooks(cfg, args.worker)
    if args.worker is not None:  # a child of --workers: the parent created the study and printed the header
        return run_worker(cfg, args.storage, plan, args.worker, hooks)
    r = run_job(cfg, args.storage, plan, hooks)
    if r.code == 130:
        print(f"\ninterrupted after {r.elapsed_s:.0f} s: the study keeps {_summary(r)} (target {r.n_trials} COMPLETE); "
              "run the same command to resume.", file=sys.stderr)
    elif r.report_dir is not None:
        print(f"report: {r.report_dir}/index.html (and {REPORT_FILES.replace('index.html, ', '')})")
    return r.code
