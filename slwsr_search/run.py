"""``python -m slwsr_search.run --study NAME``: the search, the product's main job."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Sequence

import optuna
from optuna.trial import TrialState

PROG = "python -m slwsr_search.run"

DESCRIPTION = """\
Search s-LWSR variants for the best validation PSNR at the fewest parameters and Multi-Adds,
under a hard budget, with Optuna (multi-objective). A study is a TOML file in studies/ naming its
search space (search_spaces/), objectives, budget, training protocol, data, sampler and n_trials.

Each trial is priced first: a spec over budget is recorded as infeasible and not trained. A spec
already trained under the same protocol and data is not trained again. The paper's designs that
fit the budget are trained first, under the same protocol, so reports compare like with like.
Each trial trains with a seed made from the study seed and the trial number.

The study is persistent: by default it lives in studies/NAME.db (SQLite). Running the same command
again resumes it and runs trials until it holds n_trials COMPLETE trials in total.

Parallel: --workers N runs N worker processes on this machine (one per GPU, round robin, when the
device is CUDA; on a CPU the cores are shared out). Several machines share a study by running this
command against one PostgreSQL --storage. A worker killed mid-trial leaves a trial that stops
sending heartbeats: after the study's grace period another worker marks it FAIL and runs it again.
Ctrl-C stops every worker; the trial it cut short is marked FAIL and queued to run first on resume.
"""

EPILOG = """\
examples:
  python -m slwsr_search.run --study budget150k
  python -m slwsr_search.run --study budget150k --n-trials 40          # resume, up to 40 in total
  python -m slwsr_search.run --study budget150k --workers 4            # 4 processes (e.g. 4 GPUs)
  SLWSR_STORAGE=postgresql+psycopg2://user:PASSWORD@db-host/studies \\
      python -m slwsr_search.run --study budget150k                    # on every machine that helps
  python -m slwsr_search.run --study budget150k --train-dir ../shared/data/train/T91 \\
      --train-dir ../shared/data/train/BSD200 --val-dir ../shared/data/Set5 --storage sqlite:///real.db
  python -m slwsr_search.report --study budget150k                     # refresh reports/budget150k/
  optuna-dashboard sqlite:///studies/budget150k.db                     # browse it

environment: SLWSR_STORAGE   storage URL used when --storage is not given (keeps a database
                             password out of the process list and the shell history)

exit codes: 0 done (or stopped by --timeout); 1 a worker failed; 2 bad input (one-line error);
130 interrupted.
"""


def build_parser():
    import argparse

    from .cli import Parser
    from .study import STORAGE_ENV

    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--study", required=True, metavar="NAME", help="a study in studies/ (or a path to a study TOML)")
    p.add_argument("--n-trials", type=int, metavar="N", help="COMPLETE trials the study should hold in total (default: the study's)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds (default: the study's)")
    p.add_argument("--storage", metavar="URL", help=f"Optuna storage URL (default: ${STORAGE_ENV}, else sqlite:///studies/NAME.db)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this machine sharing the study (default 1; on CUDA, one GPU each, round robin)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", type=int, metavar="T", help="CPU threads per worker (default: the cores / --workers)")
    p.add_argument("--seed", type=int, help="sampler seed, and the root of every trial's training seed (default: the study's)")
    p.add_argument("--train-dir", action="append", metavar="DIR", help="training images instead of the study's (repeatable)")
    p.add_argument("--val-dir", action="append", metavar="DIR", help="validation images instead of the study's (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-trial lines still print)")
    p.add_argument("--no-report", action="store_true", help="do not write reports/NAME/ at the end")
    p.add_argument("--report-dir", metavar="DIR", help="where to write the report (default reports/NAME)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # set by --workers for its child processes
    return p


def worker_plan(n_workers: int, device: str, n_gpus: int, n_cores: int, threads: int | None,
                visible: str | None = None) -> list[tuple[dict[str, str], str, int | None]]:
    """``(environment overrides, device, CPU threads)`` for each of ``n_workers`` workers.

    On CUDA (``auto`` with a GPU, or ``cuda``) worker k sees one GPU, the k-th visible one round
    robin, through ``CUDA_VISIBLE_DEVICES`` (``visible``: the variable's current value, whose
    entries are reused). An explicit ``cuda:i`` puts every worker on that GPU. On a CPU the
    workers split the cores (at least one thread each) unless ``threads`` is given.
    """
    if n_workers < 1:
        raise ValueError(f"--workers: expected an integer >= 1, got {n_workers}")
    on_cuda = device == "cuda" or (device == "auto" and n_gpus > 0)
    if on_cuda and n_gpus == 0:
        raise ValueError("--device cuda: no CUDA GPU is visible")
    plan: list[tuple[dict[str, str], str, int | None]] = []
    for k in range(n_workers):
        if on_cuda:
            ids = [x.strip() for x in visible.split(",") if x.strip()] if visible else [str(i) for i in range(n_gpus)]
            plan.append(({"CUDA_VISIBLE_DEVICES": ids[k % len(ids)]}, "cuda", threads))
        elif device.startswith("cuda:"):
            plan.append(({}, device, threads))
        else:
            plan.append(({}, "cpu", threads if threads is not None else max(1, n_cores // n_workers)))
    return plan


def _trial_line(t: optuna.trial.FrozenTrial) -> str:
    a = t.user_attrs
    params = f"{a['params']:>9,}" if "params" in a else " " * 9
    macs = f"{a['macs'] / 1e9:>6.2f} G" if "macs" in a else " " * 8
    if a.get("status") == "infeasible":
        what = "over budget: not trained"
    elif t.state == TrialState.FAIL:
        what = f"FAILED: {a.get('reason') or t.system_attrs.get('fail_reason', '')}"
    elif a.get("psnr") is not None:
        what = f"PSNR {a['psnr']:6.3f}  SSIM {a['ssim']:.4f}"
    else:
        what = t.state.name
    extra = f"  (= #{a['duplicate_of']})" if "duplicate_of" in a else ""
    extra += f"  (retry of #{a['retry_of']})" if "retry_of" in a else ""
    extra += f"  [{a['baseline']}]" if a.get("baseline") else ""
    secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else 0.0
    return f"#{t.number:<4} {params} {macs}  {what:<31} {secs:6.1f} s  {a.get('arch', '?')}{extra}"


def _pareto_table(rep) -> str:
    """The Pareto-optimal trials of a :class:`~slwsr_search.report.Report`, and where each baseline stands."""
    df, front = rep.trials, rep.pareto
    if front.empty:
        return "no feasible COMPLETE trial yet: no Pareto front"
    lines = [f"Pareto-optimal trials ({len(front)} of {len(df)}; feasible, objectives {', '.join(rep.objectives)}):",
             f"{'#':<5} {'params':>9} {'Multi-Adds':>10} {'PSNR':>7} {'SSIM':>7}  arch"]
    for _, r in front.iterrows():
        tag = f"  [{r['baseline']}]" if isinstance(r["baseline"], str) else ""
        lines.append(f"{r['number']:<5} {int(r['params']):>9,} {r['gmacs']:>8.2f} G {r['psnr']:>7.3f} {r['ssim']:>7.4f}  {r['arch']}{tag}")
    base = df[df["baseline"].notna() & (df["state"] == "COMPLETE")]
    for _, r in base.iterrows():
        on = "on the front" if r["pareto_optimal"] else "dominated"
        lines.append(f"baseline {r['baseline']}: #{r['number']}, PSNR {r['psnr']:.3f}, {int(r['params']):,} params: {on}")
    return "\n".join(lines)


@dataclasses.dataclass
class _Settings:
    """What every worker of one run shares, resolved once from the study and the options."""

    cfg: object
    storage: str
    seed: int
    n_trials: int
    timeout: float | None
    train_src: list[str]
    val_src: list[str]


def _settings(args) -> _Settings:
    from .study import StudyConfig, resolve_storage

    cfg = StudyConfig.load(args.study)
    cfg.check_space_fits()
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
                     args.val_dir or list(cfg.val))


def _protocol(st: _Settings, device_type: str):
    return dataclasses.replace(st.cfg.protocol_for(device_type), seed=st.seed)


class _StopRequest:
    """SIGINT / SIGTERM handler of a process that runs trials. The first signal asks for a stop at
    the next clean point (between two training steps, or between trials); a second one stops at
    once. (A KeyboardInterrupt raised at an arbitrary point can land in a callback that swallows
    it, e.g. a weakref finaliser, and the worker would go on.)"""

    def __init__(self, announce: bool) -> None:
        self.requested = False
        self.announce = announce

    def __call__(self, signum, _frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.announce:
            print("\nstopping after the current training step (Ctrl-C again to stop at once) ...", file=sys.stderr,
                  flush=True)

    def __enter__(self) -> "_StopRequest":
        import signal

        self._previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _work(st: _Settings, study: optuna.Study, device: str, threads: int | None, show: bool, label: str,
          worker: int = 0, n_existing: int = 0) -> int:
    """Run trials in this process until the study is done; 0, or 130 after a Ctrl-C. ``worker``
    (0 for a plain run) and ``n_existing`` (trials in the study before this run) seed the sampler."""
    from .data import load_data
    from .study import Runner, make_sampler, requeue_interrupted, run_study, sampler_seed
    from .train import Speedups, resolve_device

    with _StopRequest(announce=worker == 0) as stop:
        study.sampler = make_sampler(st.cfg, sampler_seed(st.seed, worker, n_existing))
        dev = resolve_device(device)
        protocol = _protocol(st, dev.type)
        data = load_data(st.train_src, st.val_src, st.cfg.space.scale, protocol.lr_patch, progress=show)
        runner = Runner(st.cfg, data, protocol, str(dev), Speedups(threads=threads), progress=show,
                        on_trial=lambda t: print(label + _trial_line(t), flush=True),
                        should_stop=lambda: stop.requested)
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


def _open(st: _Settings) -> optuna.Study:
    from .study import open_study

    return open_study(st.cfg, st.storage, st.seed)


def _check_protocol(study: optuna.Study, st: _Settings, device_type: str, record: bool) -> str:
    """The run's protocol description; refuses a study run with another protocol or data."""
    from .study import mask_url, protocol_key

    protocol = _protocol(st, device_type)
    key = protocol_key(protocol, " + ".join(st.train_src), " + ".join(st.val_src), st.cfg.space.scale)
    recorded = study.user_attrs.get("protocol_key")
    if recorded is not None and recorded != key:
        raise ValueError(f"study {st.cfg.name!r} in {mask_url(st.storage)} was run with another protocol or data "
                         f"({study.user_attrs.get('protocol_desc', '?')}); resume it with the same settings, "
                         "or give a new --storage")
    desc = (f"{protocol.steps} steps x {protocol.batch_size} x {protocol.lr_patch}px, lr {protocol.lr:g} "
            f"{protocol.schedule}, seed {protocol.seed} (+ trial number); train {' + '.join(st.train_src)}; "
            f"val {' + '.join(st.val_src)}")
    if recorded is None and record:
        study.set_user_attr("protocol_key", key)
        study.set_user_attr("protocol_desc", desc)
        study.set_user_attr("protocol", protocol.to_dict())
    return desc


def _worker_main(args) -> int:
    """A child of ``--workers``: the parent created the study and printed the header."""
    from .train import resolve_device

    # The parent forwards Ctrl-C / SIGTERM as SIGINT; _work installs a handler for it, which also
    # overrides a SIGINT inherited as ignored (a parent started with nohup or in a script's background).
    st = _settings(args)
    study = _open(st)
    _check_protocol(study, st, resolve_device(args.device).type, record=False)
    n_existing = int(os.environ.get("SLWSR_TRIALS_BEFORE", "0"))
    return _work(st, study, args.device, args.threads, show=False, label=f"[w{args.worker}] ",
                 worker=args.worker, n_existing=n_existing)


def _spawn(st: _Settings, plan, n_existing: int) -> tuple[list[int], bool]:
    """Start the workers and wait for them; ``(exit codes, interrupted)``. Workers run in their own
    process group, so a Ctrl-C reaches them once, forwarded from here (SIGTERM likewise)."""
    import signal
    import subprocess

    from .study import STORAGE_ENV

    procs = []
    for k, (env, device, threads) in enumerate(plan, start=1):
        cmd = [sys.executable, "-m", "slwsr_search.run", "--study", st.cfg.path, "--worker", str(k),
               "--n-trials", str(st.n_trials), "--seed", str(st.seed), "--device", device, "--quiet", "--no-report"]
        cmd += ["--threads", str(threads)] if threads is not None else []
        cmd += ["--timeout", repr(st.timeout)] if st.timeout is not None else []
        for d in st.train_src:
            cmd += ["--train-dir", d]
        for d in st.val_src:
            cmd += ["--val-dir", d]
        # the storage URL travels in the environment, never on a command line (passwords)
        procs.append(subprocess.Popen(cmd, env={**os.environ, **env, STORAGE_ENV: st.storage,
                                                "SLWSR_TRIALS_BEFORE": str(n_existing)}, process_group=0))
        print(f"worker w{k}: pid {procs[-1].pid}, device {device}"
              + (f" (CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']})" if env else "")
              + (f", {threads} CPU thread(s)" if threads is not None else ""), flush=True)

    def _to_interrupt(signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _to_interrupt)
    interrupted = False
    try:
        try:
            codes = [p.wait() for p in procs]
        except KeyboardInterrupt:
            interrupted = True
            print("\nstopping every worker after its current training step (Ctrl-C again to stop at once) ...",
                  file=sys.stderr, flush=True)
            while True:  # the first forwarded SIGINT stops a worker at a clean point, a second at once
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGINT)
                try:
                    codes = [p.wait() for p in procs]
                    break
                except KeyboardInterrupt:
                    continue
    finally:
        signal.signal(signal.SIGTERM, previous)
    return codes, interrupted


def main(argv: Sequence[str] | None = None) -> int:
    from .study import count_states, enqueue_baselines, mask_url
    from .train import resolve_device

    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    if args.worker is not None:
        return _worker_main(args)
    st = _settings(args)
    cfg = st.cfg
    import torch

    plan = worker_plan(args.workers, args.device, torch.cuda.device_count() if args.device != "cpu" else 0,
                       os.cpu_count() or 1, args.threads, os.environ.get("CUDA_VISIBLE_DEVICES"))
    dev = resolve_device(plan[0][1] if args.workers > 1 else args.device)
    if args.workers > 1:  # the workers load the images; catch a bad folder here, once, before any starts
        from .data import BUILTIN, discover

        for src in (*st.train_src, *st.val_src):
            if src not in BUILTIN:
                discover(src, cfg.space.scale)
    study = _open(st)
    n_existing = len(study.get_trials(deepcopy=False))
    desc = _check_protocol(study, st, dev.type, record=True)
    show = not args.quiet and sys.stderr.isatty()
    added = enqueue_baselines(study, cfg)
    before = count_states(study)
    print(f"study      {cfg.name} ({cfg.path}) in {mask_url(st.storage)}")
    print("budget     " + ", ".join(f"{k.replace('max_', '')} <= {v:,}" for k, v in
                                     (("max_params", cfg.max_params), ("max_macs", cfg.max_macs)) if v is not None))
    print(f"protocol   {desc}; device {dev}")
    print(f"trials     {before.get('COMPLETE', 0)} of {st.n_trials} complete so far"
          + (f"; enqueued baselines: {', '.join(added)}" if added else "")
          + (f"; timeout {st.timeout:g} s" if st.timeout else ""))
    sys.stdout.flush()
    t0, wall0 = time.monotonic(), time.time()
    if args.workers == 1:
        code = _work(st, study, args.device, args.threads, show, label="", n_existing=n_existing)
        failed_workers: list[str] = []
    else:
        codes, interrupted = _spawn(st, plan, n_existing)
        code = 130 if interrupted else 0
        failed_workers = [f"w{k} (exit {c})" for k, c in enumerate(codes, start=1) if c not in (0, 130)]
    states = count_states(study)
    elapsed = time.monotonic() - t0
    summary = ", ".join(f"{v} {k}" for k, v in sorted(states.items()))
    if code == 130:
        print(f"\ninterrupted after {elapsed:.0f} s: the study keeps {summary} (target {st.n_trials} COMPLETE); "
              "run the same command to resume.", file=sys.stderr)
        return 130
    print(f"\nran {elapsed:.0f} s with {args.workers} worker(s); study holds {summary} (target {st.n_trials} COMPLETE)")
    print(_throughput(study, wall0, elapsed))
    if failed_workers:
        print(f"workers that failed: {', '.join(failed_workers)} (their errors are above)", file=sys.stderr)
    from .report import REPORTS_DIR, build_report, write_report

    rep = build_report(study, list(cfg.objectives), cfg.max_params)  # once: for the table and the files
    print(_pareto_table(rep))
    if states.get("COMPLETE", 0) < st.n_trials:
        print(f"not finished (timeout or failures): run the same command again to resume up to {st.n_trials}.")
    if not args.no_report:
        out = write_report(rep, args.report_dir or REPORTS_DIR / cfg.name)
        print(f"report: {out}/index.html (and trials.csv, pareto.csv, summary.md, pareto/)")
    return 1 if failed_workers else 0


def _throughput(study: optuna.Study, since: float, elapsed: float) -> str:
    """Trainings finished in this run (not priced-only, deduplicated or surplus trials), per hour."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        a = t.user_attrs
        if (t.datetime_complete is not None and t.datetime_complete.timestamp() >= since
                and a.get("status") in ("ok", "nonfinite", "oom") and "duplicate_of" not in a):
            n += 1
    rate = n / elapsed * 3600 if elapsed > 0 else 0.0
    return f"throughput {n} training(s) in {elapsed:.0f} s = {rate:.0f} trainings/hour"


if __name__ == "__main__":
    from .cli import run_cli

    sys.exit(run_cli(main, prog=PROG))
