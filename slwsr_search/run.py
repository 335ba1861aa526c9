"""``python -m slwsr_search.run --study NAME``: the search, the product's main job."""

from __future__ import annotations

import dataclasses
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

The study is persistent: by default it lives in studies/NAME.db (SQLite). Running the same command
again resumes it and runs trials until it holds n_trials COMPLETE trials in total.
"""

EPILOG = """\
examples:
  python -m slwsr_search.run --study budget150k
  python -m slwsr_search.run --study budget150k --n-trials 40          # resume, up to 40 in total
  python -m slwsr_search.run --study budget150k --train-dir ../shared/data/train/T91 \\
      --train-dir ../shared/data/train/BSD200 --val-dir ../shared/data/Set5 --storage sqlite:///real.db
  python -m slwsr_search.report --study budget150k                     # refresh reports/budget150k/
  optuna-dashboard sqlite:///studies/budget150k.db                     # browse it

exit codes: 0 done (or stopped by --timeout); 2 bad input (one-line error); 130 interrupted.
"""


def build_parser():
    from .cli import Parser

    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--study", required=True, metavar="NAME", help="a study in studies/ (or a path to a study TOML)")
    p.add_argument("--n-trials", type=int, metavar="N", help="COMPLETE trials the study should hold in total (default: the study's)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds (default: the study's)")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL (default: sqlite:///studies/NAME.db)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")
    p.add_argument("--seed", type=int, help="sampler and training seed (default: the study's)")
    p.add_argument("--train-dir", action="append", metavar="DIR", help="training images instead of the study's (repeatable)")
    p.add_argument("--val-dir", action="append", metavar="DIR", help="validation images instead of the study's (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-trial lines still print)")
    p.add_argument("--no-report", action="store_true", help="do not write reports/NAME/ at the end")
    p.add_argument("--report-dir", metavar="DIR", help="where to write the report (default reports/NAME)")
    return p


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
    extra += f"  [{a['baseline']}]" if a.get("baseline") else ""
    secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else 0.0
    return f"#{t.number:<4} {params} {macs}  {what:<31} {secs:6.1f} s  {a.get('arch', '?')}{extra}"


def _pareto_table(study: optuna.Study, cfg) -> str:
    from .report import pareto_front, trials_frame

    df = trials_frame(study)
    front = pareto_front(df, list(cfg.objectives))
    if front.empty:
        return "no feasible COMPLETE trial yet: no Pareto front"
    lines = [f"Pareto-optimal trials ({len(front)} of {len(df)}; feasible, objectives {', '.join(cfg.objectives)}):",
             f"{'#':<5} {'params':>9} {'Multi-Adds':>10} {'PSNR':>7} {'SSIM':>7}  arch"]
    for _, r in front.iterrows():
        tag = f"  [{r['baseline']}]" if isinstance(r["baseline"], str) else ""
        lines.append(f"{r['number']:<5} {int(r['params']):>9,} {r['gmacs']:>8.2f} G {r['psnr']:>7.3f} {r['ssim']:>7.4f}  {r['arch']}{tag}")
    base = df[df["baseline"].notna() & (df["state"] == "COMPLETE")]
    for _, r in base.iterrows():
        on = "on the front" if r["number"] in set(front["number"]) else "dominated"
        lines.append(f"baseline {r['baseline']}: #{r['number']}, PSNR {r['psnr']:.3f}, {int(r['params']):,} params: {on}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from .data import load_data
    from .study import Runner, StudyConfig, count_states, enqueue_baselines, mask_url, open_study, protocol_key, run_study
    from .train import resolve_device

    args = build_parser().parse_args(argv)
    cfg = StudyConfig.load(args.study)
    cfg.check_space_fits()
    dev = resolve_device(args.device)
    seed = cfg.seed if args.seed is None else args.seed
    if seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {seed}")
    protocol = cfg.protocol_for(dev.type)
    protocol = dataclasses.replace(protocol, seed=seed)
    n_trials = cfg.n_trials if args.n_trials is None else args.n_trials
    if n_trials < 1:
        raise ValueError(f"--n-trials: expected an integer >= 1, got {n_trials}")
    timeout = cfg.timeout if args.timeout is None else args.timeout
    train_src, val_src = args.train_dir or list(cfg.train), args.val_dir or list(cfg.val)
    storage = args.storage or cfg.storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per trial instead
    study = open_study(cfg, storage, seed)
    key = protocol_key(protocol, " + ".join(train_src), " + ".join(val_src), cfg.space.scale)
    recorded = study.user_attrs.get("protocol_key")
    if recorded is not None and recorded != key:
        raise ValueError(f"study {cfg.name!r} in {mask_url(storage)} was run with another protocol or data "
                         f"({study.user_attrs.get('protocol_desc', '?')}); resume it with the same settings, "
                         "or give a new --storage")
    desc = (f"{protocol.steps} steps x {protocol.batch_size} x {protocol.lr_patch}px, lr {protocol.lr:g} "
            f"{protocol.schedule}, seed {protocol.seed}; train {' + '.join(train_src)}; val {' + '.join(val_src)}")
    if recorded is None:
        study.set_user_attr("protocol_key", key)
        study.set_user_attr("protocol_desc", desc)
        study.set_user_attr("protocol", protocol.to_dict())
    show = not args.quiet and sys.stderr.isatty()
    data = load_data(train_src, val_src, cfg.space.scale, protocol.lr_patch, progress=show)
    added = enqueue_baselines(study, cfg)
    before = count_states(study)
    print(f"study      {cfg.name} ({cfg.path}) in {mask_url(storage)}")
    print("budget     " + ", ".join(f"{k.replace('max_', '')} <= {v:,}" for k, v in
                                     (("max_params", cfg.max_params), ("max_macs", cfg.max_macs)) if v is not None))
    print(f"protocol   {desc}; device {dev}")
    print(f"trials     {before.get('COMPLETE', 0)} of {n_trials} complete so far"
          + (f"; enqueued baselines: {', '.join(added)}" if added else "")
          + (f"; timeout {timeout:g} s" if timeout else ""))
    sys.stdout.flush()
    runner = Runner(cfg, data, protocol, str(dev), progress=show,
                    on_trial=lambda t: print(_trial_line(t), flush=True))
    t0 = time.monotonic()
    try:
        run_study(study, runner, n_trials, timeout)
    except KeyboardInterrupt:
        states = count_states(study)
        print(f"\ninterrupted after {time.monotonic() - t0:.0f} s: the study keeps {states.get('COMPLETE', 0)} "
              f"COMPLETE trials; run the same command to resume.", file=sys.stderr)
        return 130
    states = count_states(study)
    print(f"\nran {time.monotonic() - t0:.0f} s; study holds " + ", ".join(f"{v} {k}" for k, v in sorted(states.items()))
          + f" (target {n_trials} COMPLETE)")
    print(_pareto_table(study, cfg))
    if states.get("COMPLETE", 0) < n_trials:
        print(f"not finished (timeout): run the same command again to resume up to {n_trials}.")
    if not args.no_report:
        from .report import write_study_report

        out = write_study_report(cfg, storage, args.report_dir)
        print(f"report: {out}/index.html (and trials.csv, pareto.csv, summary.md, pareto/)")
    return 0


if __name__ == "__main__":
    from .cli import run_cli

    sys.exit(run_cli(main, prog=PROG))
