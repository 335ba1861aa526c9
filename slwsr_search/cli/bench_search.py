"""The benchmarks of ``slwsr bench`` that serve the search: ``settings`` (training throughput per
setting on this CPU), ``mix`` (the block mix a search space's encoding draws) and ``samplers``
(stored studies' hypervolume after N trials, in one box). The measurements are
:mod:`slwsr_search.benchmarks` and :mod:`slwsr_search.reporting.compute`; this module only prints them."""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from ..model.presets import PRESETS, get_preset
from .common import store_arg


def _shape(text: str) -> tuple[int, int]:
    try:
        b, p = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected BATCHxPATCH such as 16x48, got {text!r}") from None
    return b, p


def add_search_benchmarks(sub) -> None:
    """The ``settings``, ``mix`` and ``samplers`` subcommands of ``slwsr bench``."""
    st = sub.add_parser("settings", help="training throughput per setting on this CPU: processes x threads, bf16, compile")
    st.add_argument("--preset", action="append", choices=list(PRESETS), help="designs by preset (default s-lwsr16)")
    st.add_argument("--arch", action="append", help="designs by arch string")
    st.add_argument("--shape", action="append", type=_shape, metavar="BxP",
                    help="batch x LR patch (default 16x32, the CPU screening, and 16x48, the reference)")
    st.add_argument("--steps", type=int, default=10, help="timed steps per process and round (default 10)")
    st.add_argument("--rounds", type=int, default=3, help="rounds, settings interleaved (default 3)")
    st.add_argument("--no-compile", action="store_true",
                    help="leave out the torch.compile setting (the slowest to time: its compilation runs in every round)")
    st.add_argument("--out", metavar="PATH", help="also write PATH.csv and PATH.json")
    mx = sub.add_parser("mix", help="the block mix a search space draws: residual blocks per design over N draws")
    mx.add_argument("--space", action="append", help="search spaces (default slwsr and slwsr-mix)")
    mx.add_argument("--draws", type=int, default=1000, help="seeded random draws per space (default 1000)")
    mx.add_argument("--seed", type=int, default=0, help="the draws' seed (default 0)")
    mx.add_argument("--min-res", type=int, default=13, help="count designs with at least this many residual blocks (default 13)")
    mx.add_argument("--study", help="also count the draws within this study's budget")
    sa = sub.add_parser("samplers", help="hypervolume after N trials of stored studies (samplers, spaces) in one box")
    sa.add_argument("--study", action="append", required=True,
                    help="a study (name or TOML) whose stored trials to score; repeat for each (same objectives)")
    sa.add_argument("--at", type=int, nargs="+", default=[4, 8, 16, 24, 32, 48, 64],
                    help="trial counts to report (default 4 8 16 24 32 48 64)")
    sa.add_argument("--min-res", type=int, default=13,
                    help="also give the share of each study's drawn designs with at least this many residual blocks (default 13)")
    sa.add_argument("--reference", metavar="FILE[@KEY]",
                    help="a long reference (fidelity-audit store; @KEY: its settings key, where it holds several): also "
                         "give each study's front pick and best front design with their reference PSNR (designs it has not trained: '-')")
    sa.add_argument("--front-at", type=int, metavar="N",
                    help="with --reference: each study's front after its first N trials (trial numbers, any state), "
                         "so studies of different lengths compare at one count (default: all its trials)")
    sa.add_argument("--out", metavar="PATH", help="also write PATH.csv")


def bench_settings(args) -> int:
    """``slwsr bench settings``."""
    from ..benchmarks.settings import default_settings, time_setting
    from ..machine import cpu_flags, cpu_model, native_bf16

    args.shape = args.shape or [(16, 32), (16, 48)]
    cores = os.cpu_count() or 1
    settings = default_settings(cores, native_bf16(), compile=not args.no_compile)
    designs = [(name, get_preset(name).arch) for name in (args.preset or [])] + [(a[:24], a) for a in (args.arch or [])]
    designs = designs or [("s-lwsr16", get_preset("s-lwsr16").arch)]
    flags = " ".join(sorted(f for f in cpu_flags() if f.startswith(("avx2", "avx512", "amx"))))
    print(f"CPU {cpu_model()} ({flags}); {cores} cores; load average {os.getloadavg()[0]:.2f} before; "
          f"{args.rounds} rounds of {args.steps} steps per process after warm-up, settings interleaved; median round")
    rows = []
    for batch, patch in args.shape:
        for name, arch in designs:
            got: dict[str, list[float]] = {st.label: [] for st in settings}
            for _ in range(args.rounds):
                for st in settings:
                    got[st.label].append(sum(time_setting(arch, batch, patch, args.steps, st)))
            base = statistics.median(got[settings[0].label])
            for st in settings:
                med = statistics.median(got[st.label])
                rows.append({"design": name, "batch": batch, "lr_patch": patch, "setting": st.label,
                             "processes": st.processes, "threads": st.threads, "bf16": st.bf16, "compile": st.compile,
                             "steps_per_s": round(med, 4), "ratio": round(med / base, 3),
                             "rounds": [round(v, 4) for v in got[st.label]]})
                print(f"{name:<24} {batch}x{patch:<3} {st.label:<34} {med:>7.3f} steps/s  {med / base:>5.2f}x", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} after")
    if args.out:
        import pandas as pd

        pd.DataFrame(rows).drop(columns="rounds").to_csv(f"{args.out}.csv", index=False)
        meta = {"cpu": cpu_model(), "flags": flags, "cores": cores, "rows": rows}
        Path(f"{args.out}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


def bench_mix(args) -> int:
    """``slwsr bench mix``."""
    import optuna

    from ..benchmarks.space_mix import block_mix

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a study per draw set: no creation lines

    study = None
    if args.study:
        from ..search.study import StudyConfig

        study = StudyConfig.load(args.study)
    print(f"{args.draws} seeded random draws (seed {args.seed}) per space; residual blocks per design"
          + (f"; feasible: within {study.name}'s budget ({study.budget_line()})" if study else ""))
    print(f"{'space':<14} {'encoding':<9} {'mean':>5} {'median':>6} {'>= ' + str(args.min_res):>7}  "
          + (f"{'feasible':>8} {'of them >= ' + str(args.min_res):>14}" if study else ""))
    for name in args.space or ["slwsr", "slwsr-mix"]:
        m = block_mix(name, args.draws, args.seed, args.min_res, study)
        line = f"{m.space:<14} {m.encoding:<9} {m.mean:>5.1f} {m.median:>6.0f} {m.share_at_least:>7.1%}  "
        if study:
            line += f"{m.feasible:>8} {m.feasible_share_at_least:>14.1%}"
        print(line)
    return 0


def _sampler_frames(args):
    """The studies' configs, their trials and the one hypervolume box for all; refuses ones that don't compare."""
    from ..reporting.compute import hv_bounds, trials_frame
    from ..search.storage import open_existing_study, resolve_storage
    from ..search.study import StudyConfig

    cfgs = [StudyConfig.load(name) for name in args.study]
    objectives = list(cfgs[0].objectives)
    for c in cfgs[1:]:
        if list(c.objectives) != objectives or c.max_params != cfgs[0].max_params:
            raise ValueError(f"{c.path}: objectives or budget differ from {cfgs[0].path}'s: hypervolumes would not compare")
    frames = [trials_frame(open_existing_study(c, resolve_storage(None, c))) for c in cfgs]
    bounds = hv_bounds(frames, objectives, cfgs[0].max_params)
    if bounds is None:
        raise ValueError("no study has a scored trial yet: nothing to compare")
    return cfgs, objectives, frames, bounds


def _print_sampler_header(args, objectives, marks) -> None:
    print(f"hypervolume of the feasible front after N trials ({', '.join(objectives)}; normalised in one box "
          f"for all studies: 0 = nothing, 1 = one trial best at everything); drawn: the distinct designs its "
          f"sampler proposed (baselines left out), res>={args.min_res}: the share of them with at least "
          f"{args.min_res} residual blocks; fit: the share of them within the budget")
    res = f"res>={args.min_res}"
    print(f"{'study':<28} {'sampler':<15} {'space':<10} {'trials':>6} {'drawn':>5} {res:>7} {'fit':>5} "
          + "".join(f"{'@' + str(m):>8}" for m in marks))


def _sampler_row(args, c, f, objectives, bounds, marks) -> dict:
    """One study's row: its hypervolume at each mark and the mix its sampler drew, printed."""
    from ..benchmarks.space_mix import sampled_mix
    from ..reporting.compute import hypervolume_history

    hv = hypervolume_history(f, objectives, c.max_params, bounds)["hypervolume"].to_numpy()
    at = {m: float(hv[m - 1]) for m in marks if len(hv) >= m}
    mix = sampled_mix(f, args.min_res)
    row = {"study": c.name, "sampler": c.sampler["name"], "space": c.space.name, "trials": len(hv),
           "designs_drawn": mix.designs, "mean_res_blocks": round(mix.mean, 2),
           f"share_res_at_least_{args.min_res}": round(mix.share_at_least, 3),
           "share_within_budget": round(mix.share_feasible, 3),
           **{f"hv_at_{m}": v for m, v in at.items()}}
    print(f"{c.name:<28} {c.sampler['name']:<15} {c.space.name:<10} {len(hv):>6} {mix.designs:>5} "
          f"{mix.share_at_least:>7.0%} {mix.share_feasible:>5.0%} " + "".join(f"{at[m]:>8.3f}" if m in at else f"{'':>8}" for m in marks))
    return row


def bench_samplers(args) -> int:
    """``slwsr bench samplers``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfgs, objectives, frames, bounds = _sampler_frames(args)
    marks = sorted({m for m in args.at if any(len(f) >= m for f in frames)})
    _print_sampler_header(args, objectives, marks)
    rows = [_sampler_row(args, c, f, objectives, bounds, marks) for c, f in zip(cfgs, frames)]
    if args.reference:
        if args.front_at is not None and args.front_at < 1:
            raise ValueError(f"--front-at: expected a trial count >= 1, got {args.front_at}")
        cut = frames if args.front_at is None else [f[f["number"] < args.front_at] for f in frames]
        rows = _front_quality(args.reference, args.front_at, cfgs, cut, rows)
    if args.out:
        import pandas as pd

        pd.DataFrame(rows).to_csv(f"{args.out}.csv", index=False)
    return 0


def _front_quality(reference: str, front_at: int | None, cfgs, frames, rows: list[dict]) -> list[dict]:
    """Print each study's front (of ``frames``, cut at ``front_at`` trials) against the long
    reference ``reference``; ``rows`` with its columns added."""
    from ..audit.store import REFERENCE
    from ..benchmarks.fronts import front_quality, reference_psnr
    from ..benchmarks.screening import load_role

    path, key = store_arg(reference)
    records = load_role(path, REFERENCE, key)  # read once: the PSNR per design and the baselines' labels
    ref = reference_psnr(records)
    base = {r["label"]: r for r in records.values() if r["label"] in PRESETS and r["hash"] in ref}
    at = "all trials" if front_at is None else f"the first {front_at} trials"
    print(f"\nthe fronts ({at}) after the long reference {reference} ({len(ref)} designs trained; PSNR in dB, mean of its seeds"
          + "".join(f"; {label} {ref[r['hash']]:.3f}" for label, r in sorted(base.items())) + "); "
          "pick: the front design with the best quality objective; best: the front design the reference scores highest")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    num = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
    print(f"{'study':<28} {'front':>5} {'scored':>6} {'pick params':>11} {'pick dB':>8} {'best params':>11} {'best dB':>8}  best design")
    out = []
    for c, f, row in zip(cfgs, frames, rows):
        q = front_quality(f, list(c.objectives), ref)
        print(f"{c.name:<28} {q.front:>5} {q.scored:>6} {num(q.pick_params):>11} {fmt(q.pick_psnr):>8} "
              f"{num(q.best_params):>11} {fmt(q.best_psnr):>8}  {q.best_arch or '-'}")
        out.append({**row, "front_at": front_at, "front_designs": q.front, "front_scored": q.scored, "pick_arch": q.pick_arch,
                    "pick_params": q.pick_params, "pick_ref_psnr": q.pick_psnr, "best_arch": q.best_arch,
                    "best_params": q.best_params, "best_ref_psnr": q.best_psnr})
    return out
