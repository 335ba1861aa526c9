"""``slwsr run`` / ``python -m slwsr_search.run --study NAME``: the search, the product's main job.

This module parses options, prints, and starts processes; the search itself is
:mod:`slwsr_search.search` (the trial loop in :mod:`~slwsr_search.search.runner`, the worker plan
and signal handling in :mod:`~slwsr_search.search.workers`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import optuna
from optuna.trial import TrialState

from ..machine import cpu_model
from ..model.latency_table import LatencyTable
from ..model.spec import ArchSpec
from ..sr.data import BUILTIN, TrainData, discover, load_data
from ..training.device import Speedups, configure_device, resolve_device
from ..training.protocol import Protocol
from ..search.latency import table_record
from ..search.record import StudyRecord, TrialRecord
from ..reporting.render import REPORT_FILES, front_table, trial_line, write_report
from ..reporting.compute import build_report
from ..audit.stats import read_first_audit
from ..search.resources import default_report_dir, study_audit_files
from ..search.rungs import RungStore
from ..search.runner import Runner, enqueue_baselines, requeue_interrupted, run_study
from ..search.storage import (STORAGE_ENV, claim_protocol, count_states, mask_url, open_study, resolve_storage,
                              rung_dir, setup_lock)
from ..search.study import StudyConfig, make_sampler, protocol_desc, protocol_key, sampler_seed, screening_record
from ..search.workers import StopRequest, failed_workers, local_plan, spawn_workers
from .common import STOPPING_WORKERS, Parser, print_worker

SUMMARY = "the search: a study's multi-objective Optuna run, persistent and resumable, with --workers"

#: Set by ``--workers`` for its children: how many trials the study held before the run.
TRIALS_BEFORE_ENV = "SLWSR_TRIALS_BEFORE"

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
    p.add_argument("--seed", type=int, help="sampler seed, and the root of every trial's training seed (default: the study's)")
    p.add_argument("--train-dir", action="append", metavar="DIR", help="training images instead of the study's (repeatable)")
    p.add_argument("--val-dir", action="append", metavar="DIR", help="validation images instead of the study's (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-trial lines still print)")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.add_argument("--report-dir", metavar="DIR", help="where to write the report (default reports/NAME under the current folder)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # set by --workers for its child processes
    return p


@dataclasses.dataclass(frozen=True)
class _Settings:
    """What every worker of one run shares, resolved once from the study and the options."""

    cfg: StudyConfig
    storage: str
    seed: int
    n_trials: int
    timeout: float | None
    train_src: list[str]
    val_src: list[str]
    latency_table: LatencyTable | None = None  # prices latencies, when the study uses them

    def protocol(self, device_type: str) -> Protocol:
        """The protocol this run trains with on a device of ``device_type``, seeded with the run's seed."""
        return dataclasses.replace(self.cfg.protocol_for(device_type), seed=self.seed)

    def key(self, protocol: Protocol) -> str:
        return protocol_key(protocol, self.train_src, self.val_src, self.cfg.space.scale, self.cfg.fidelity,
                            self.cfg.int8 if self.cfg.needs_int8 else None)


def _settings(args, announce: bool = False) -> _Settings:
    cfg = StudyConfig.load(args.study)
    table = None
    if cfg.needs_latency:
        from ..search.latency import study_table

        def on_calibrate(parts, path) -> None:
            if announce:
                print(f"latency    calibrating this machine's latency table on first use: {len(parts)} part(s) "
                      f"(about {max(1, round(len(parts) * 2.5 / 60))} min) -> {path}", flush=True)

        table = study_table(cfg, on_calibrate)
    cfg.check_space_fits(table)
    seed = cfg.seed if args.seed is None else args.seed
    if seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {seed}")
    n_trials = cfg.n_trials if args.n_trials is None else args.n_trials
    if n_trials < 1:
        raise ValueError(f"--n-trials: expected an integer >= 1, got {n_trials}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: expected an integer >= 1, got {args.threads}")
    timeout = cfg.timeout if args.timeout is None else args.timeout
    storage = resolve_storage(args.storage, cfg)
    return _Settings(cfg, storage, seed, n_trials, timeout, args.train_dir or list(cfg.train),
                     args.val_dir or list(cfg.val), table)


def _check_protocol(study: optuna.Study, st: _Settings, protocol: Protocol, key: str, record: bool) -> str:
    """The run's protocol description; refuses a study run with another protocol or data."""
    desc = protocol_desc(protocol, st.train_src, st.val_src, st.cfg.fidelity, st.cfg.int8 if st.cfg.needs_int8 else None)
    claim_protocol(study, st.storage, key, desc, screening_record(protocol, st.cfg.fidelity), [" + ".join(st.train_src), " + ".join(st.val_src)],
                   record)
    return desc


def _work(st: _Settings, study: optuna.Study, data: TrainData, dev, protocol: Protocol, key: str, threads: int | None,
          show: bool, label: str, worker: int = 0, n_existing: int = 0) -> int:
    """Run trials in this process until the study is done; 0, or 130 after a Ctrl-C. ``worker``
    (0 for a plain run) and ``n_existing`` (trials in the study before this run) seed the sampler."""
    announce = (lambda: print("\nstopping after the current training step (Ctrl-C again to stop at once) ...",
                              file=sys.stderr, flush=True)) if worker == 0 else None
    with StopRequest(on_request=announce) as stop:
        study.sampler = make_sampler(st.cfg, sampler_seed(st.seed, worker, n_existing))
        speedups = Speedups(threads=threads)
        configure_device(dev, speedups)  # process-wide switches, once, before any training
        runner = Runner(st.cfg, data, protocol, str(dev), key, speedups, progress=show,
                        on_trial=lambda t: print(label + trial_line(t), flush=True),
                        should_stop=lambda: stop.requested, rung_store=RungStore(rung_dir(st.storage, st.cfg.name)),
                        latency_table=st.latency_table)
        ft = st.cfg.fault_tolerance
        try:
            run_study(study, runner, st.n_trials, st.timeout,
                      on_wait=lambda c: print(f"{label}waiting: {c['RUNNING']} running trial(s) may complete the study",
                                              flush=True),
                      on_lost=lambda n: print(f"{label}#{n:<4} FAILED: its worker died (no heartbeat for "
                                              f"{ft.grace_period} s): retried, at most {ft.max_retry} time(s)",
                                              flush=True))
        except KeyboardInterrupt:
            n = requeue_interrupted(study, runner)
            what = (f"trial #{n} was cut short: marked FAIL and queued to run first on resume" if n is not None
                    else "no trial was cut short")
            print(f"{label}interrupted: {what}", file=sys.stderr, flush=True)
            return 130
    return 0


def _worker_main(args) -> int:
    """A child of ``--workers``: the parent created the study and printed the header."""
    # The parent forwards Ctrl-C / SIGTERM as SIGINT; _work installs a handler for it, which also
    # overrides a SIGINT inherited as ignored (a parent started with nohup or in a script's background).
    st = _settings(args)
    dev = resolve_device(args.device)
    protocol = st.protocol(dev.type)
    data = load_data(st.train_src, st.val_src, st.cfg.space.scale, protocol.lr_patch)
    study = open_study(st.cfg, st.storage, st.seed)
    key = st.key(protocol)
    _check_protocol(study, st, protocol, key, record=False)
    n_existing = int(os.environ.get(TRIALS_BEFORE_ENV, "0"))
    return _work(st, study, data, dev, protocol, key, args.threads, show=False, label=f"[w{args.worker}] ",
                 worker=args.worker, n_existing=n_existing)


def _spawn(st: _Settings, plan, n_existing: int) -> tuple[list[int], bool]:
    """Start the workers (``python -m slwsr_search.run --worker K``) and wait for them;
    ``(exit codes, interrupted)``."""
    args = ["--study", st.cfg.path, "--n-trials", str(st.n_trials), "--seed", str(st.seed), "--no-report"]
    args += ["--timeout", repr(st.timeout)] if st.timeout is not None else []
    args += [a for d in st.train_src for a in ("--train-dir", d)] + [a for d in st.val_src for a in ("--val-dir", d)]
    # the storage URL travels in the environment, never on a command line (passwords)
    env = {STORAGE_ENV: st.storage, TRIALS_BEFORE_ENV: str(n_existing)}
    return spawn_workers("slwsr_search.run", args, plan, env, on_start=print_worker,
                         on_interrupt=lambda: print(STOPPING_WORKERS, file=sys.stderr, flush=True))


def _throughput(study: optuna.Study, since: float, elapsed: float) -> str:
    """Trainings finished in this run (not priced-only, deduplicated or surplus trials), per hour."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        if t.datetime_complete is not None and t.datetime_complete.timestamp() >= since and TrialRecord.of(t).trained:
            n += 1
    rate = n / elapsed * 3600 if elapsed > 0 else 0.0
    return f"throughput {n} training(s) in {elapsed:.0f} s = {rate:.0f} trainings/hour"


def _measure_front(study: optuna.Study, cfg: StudyConfig, table: LatencyTable) -> None:
    """Measure the time per image of the Pareto points not measured yet, beside their prediction,
    when the table is this machine's; under another machine's (a phone's) table, say why not."""
    from ..search.latency import host_identity, made_here, measure_front
    from ..reporting.compute import pareto_front, trials_frame

    if not made_here(table):
        # This machine's time is no check of a phone's prediction, and beside it would read as one.
        here = host_identity(table)
        print(f"latency    Pareto front not timed: its latencies are predicted for {table.identity.describe()} "
              f"(the table's machine); this machine ({here.describe() if here else cpu_model()}) is another, "
              "so a time here cannot check them", flush=True)
        return
    front = pareto_front(trials_frame(study), list(cfg.objectives))
    measure_front(study, {int(r["number"]): ArchSpec.from_json(r["spec"]) for _, r in front.iterrows()}, table,
                  on_start=lambda n: print(f"measuring the time per image of {n} Pareto point(s) on "
                                           f"this machine, the table's ({table.identity.describe()}; 3 turns each) ...",
                                           flush=True))


def _check_data(st: _Settings, protocol: Protocol, n_workers: int, show: bool) -> TrainData | None:
    """Read every data folder before anything is recorded, so a typo in a folder leaves no study
    behind: one worker loads the data here (it trains with it); with ``--workers`` the workers load
    it themselves, so only the folders are checked."""
    if n_workers == 1:
        return load_data(st.train_src, st.val_src, st.cfg.space.scale, protocol.lr_patch, progress=show)
    for src in (*st.train_src, *st.val_src):
        if src not in BUILTIN:
            discover(src, st.cfg.space.scale)
    return None


def _prepare(st: _Settings, protocol: Protocol, key: str) -> tuple[optuna.Study, int, str, list[str]]:
    """Create or open the study, check or record its protocol and enqueue its baselines, holding
    the storage's setup lock, so two runs started at once on a new SQLite file take turns instead
    of racing to create its tables; ``(study, trials before this run, protocol description,
    baselines enqueued now)``."""
    with setup_lock(st.cfg, st.storage):
        study = open_study(st.cfg, st.storage, st.seed)
        n_existing = len(study.get_trials(deepcopy=False))
        desc = _check_protocol(study, st, protocol, key, record=True)
        added = enqueue_baselines(study, st.cfg, st.latency_table)
    return study, n_existing, desc, added


def _header(st: _Settings, study: optuna.Study, desc: str, dev, added: list[str]) -> None:
    """The lines a run starts with: the study, its budget, its latency table, protocol and trials."""
    cfg = st.cfg
    before = count_states(study)
    print(f"study      {cfg.name} ({cfg.path}) in {mask_url(st.storage)}")
    print(f"budget     {cfg.budget_line()}")
    if st.latency_table is not None:
        t = st.latency_table
        StudyRecord(latency=table_record(t)).write(study)
        print(f"latency    predicted from {t.source} ({t.identity.describe()}; calibrated {t.created})")
    print(f"protocol   {desc}; device {dev}")
    print(f"trials     {before.get('COMPLETE', 0)} of {st.n_trials} complete so far"
          + (f"; enqueued baselines: {', '.join(added)}" if added else "")
          + (f"; timeout {st.timeout:g} s" if st.timeout else ""))
    sys.stdout.flush()


def _finish(args, st: _Settings, study: optuna.Study, code: int, failed: list[str], elapsed: float, wall0: float) -> int:
    """The lines a run ends with, the measured front (latency studies), the report; the exit code."""
    cfg = st.cfg
    states = count_states(study)
    summary = ", ".join(f"{v} {k}" for k, v in sorted(states.items()))
    if code == 130:
        print(f"\ninterrupted after {elapsed:.0f} s: the study keeps {summary} (target {st.n_trials} COMPLETE); "
              "run the same command to resume.", file=sys.stderr)
        return 130
    print(f"\nran {elapsed:.0f} s with {args.workers} worker(s); study holds {summary} (target {st.n_trials} COMPLETE)")
    print(_throughput(study, wall0, elapsed))
    if failed:
        print(f"workers that failed: {', '.join(failed)} (their errors are above)", file=sys.stderr)
    report_dir = Path(args.report_dir) if args.report_dir else default_report_dir(cfg.name)
    if st.latency_table is not None:
        _measure_front(study, cfg, st.latency_table)
    rep = build_report(study, list(cfg.objectives), cfg.max_params,  # once: for the table and the files
                       read_first_audit(study_audit_files(report_dir, cfg.path)), cfg.max_latency_ms, cfg.max_macs, cfg.max_int8_drop_db,
                       cfg.space.scale)
    print(front_table(rep))
    if states.get("COMPLETE", 0) < st.n_trials:
        print(f"not finished (timeout or failures): run the same command again to resume up to {st.n_trials}.")
    if not args.no_report:
        out = write_report(rep, report_dir)
        print(f"report: {out}/index.html (and {REPORT_FILES.replace('index.html, ', '')})")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None, prog: str = "slwsr run") -> int:
    args = build_parser(prog).parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    if args.worker is not None:
        return _worker_main(args)
    st = _settings(args, announce=True)
    plan = local_plan(args.workers, args.device, args.threads)
    dev = resolve_device(plan[0][1] if args.workers > 1 else args.device)
    protocol = st.protocol(dev.type)
    key = st.key(protocol)
    show = not args.quiet and sys.stderr.isatty()
    data = _check_data(st, protocol, args.workers, show)  # before anything is recorded
    study, n_existing, desc, added = _prepare(st, protocol, key)
    _header(st, study, desc, dev, added)
    t0, wall0 = time.monotonic(), time.time()
    if args.workers == 1:
        code = _work(st, study, data, dev, protocol, key, args.threads, show, label="", n_existing=n_existing)
        failed: list[str] = []
    else:
        codes, interrupted = _spawn(st, plan, n_existing)
        code = 130 if interrupted else 0
        failed = failed_workers(codes)
    return _finish(args, st, study, code, failed, time.monotonic() - t0, wall0)
