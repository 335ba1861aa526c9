"""``slwsr bench`` / ``python -m slwsr_search.bench``: benchmarks that print figures (never timed
assertions). The measurements are :mod:`slwsr_search.benchmarks`; this module only prints them.

``cost``: how long pricing one spec takes, analytically and by fvcore, and that the two agree.
``bicubic``: our imresize against MATLAB-made LR images, and the bicubic baseline scored with our
pipeline beside the published figures, on the benchmark sets under ``--data-root``.
``train``: training-step speed against the device's measured fp32 matmul rate, and the data-time
share, for the optimised settings and (``--baseline``) the plain eager fp32 NCHW loop.
``settings``: training throughput (steps/s, summed over processes) per setting on this CPU: one
process on every core or one per core, fp32 or bf16 autocast (where the CPU has bf16 units),
compiled or not; settings interleaved in rounds, each in fresh processes.
``mix``: the block mix a search space's encoding draws (residual blocks per design over N seeded
draws, the share with at least K; within a study's budget too).
``samplers``: the hypervolume of stored studies' fronts after N trials, all normalised in one box
(to compare samplers or search spaces run on one budget), the block mix each sampler drew, and
(``--reference``) what each front's designs score in a long reference training.
``storage``: N processes storing short trials (the writes of a priced, over-budget trial) on one
study, on each local storage: errors, trials lost, trials/s, heartbeat support.
``screening``: screening settings side by side against one reference (fidelity-audit stores):
Kendall tau with its interval and the cost-matched pairs of each score, on each setting's designs
and on the designs all share.
``latency``: time per image of a spec on a runtime (onnxruntime on CPU, its int8 graph, LiteRT's
.tflite with XNNPACK (the [litert] extra), or PyTorch eager), one
intra-op thread by default: median wall time of 30 runs after 3 warm-ups, min, interquartile range
and the thread's CPU time, with the machine's identity.
``upscale``: the upscale command on a large picture (default: a 2000x1500 mosaic of photographs)
with each backend, each in its own process: wall time, peak memory, difference from torch's output.
``docs``: every figure in the README and the docs checked against the source file its paragraph links
(:mod:`slwsr_search.benchmarks.doc_figures`), and the figures with no source listed.
"""

from __future__ import annotations

import json
import statistics
from typing import Sequence

from ..benchmarks.storage import STORAGE_KINDS
from ..model.cost import DEFAULT_HR_SIZE
from ..model.latency_table import RUNTIMES
from ..model.presets import PRESETS
from .bench_deploy import add_deploy_benchmarks, bench_litert
from .bench_docs import add_docs_benchmark, bench_docs
from .bench_search import add_search_benchmarks, bench_mix, bench_samplers, bench_settings
from .common import Parser, add_spec_args, fmt_size, parse_size, store_arg

SUMMARY = "benchmarks that print figures: pricing, the bicubic anchor, training speed, storages, latency, upscaling"


def _cost(args) -> int:
    from ..benchmarks.pricing import bench_specs, time_pricing

    presets = args.preset or ["s-lwsr16", "s-lwsr32", "s-lwsr64"]
    fvcore = not args.no_fvcore
    print(f"pricing one spec at {fmt_size(args.hr_size)} output (analytic: median of {args.repeat} calls; fvcore: one call)")
    print(f"{'spec':<34} {'params':>10} {'Multi-Adds':>11} {'analytic':>11} {'fvcore':>9}  agree", flush=True)
    rows = time_pricing(bench_specs(presets, args.random), args.repeat, args.hr_size, fvcore)
    for r in rows:
        fv = "-" if r.fvcore_s is None else f"{r.fvcore_s:.2f} s"
        agree = "-" if r.agree is None else ("yes" if r.agree else "NO")
        print(f"{r.label:<34} {r.params:>10,} {r.gmacs:>9.2f} G {r.analytic_us:>8.1f} us {fv:>9}  {agree}")
    us = [r.analytic_us for r in rows]
    print(f"\nanalytic: median {statistics.median(us):.1f} us, max {max(us):.1f} us per spec over {len(rows)} specs")
    return 1 if any(r.agree is False for r in rows) else 0


def _bicubic(args) -> int:
    from ..benchmarks.bicubic import TOL_PSNR, TOL_SSIM, bench_bicubic

    scale = 4
    resize_rows, score_rows = bench_bicubic(args.data_root, scale)
    print(f"imresize(HR, 1/{scale}) against the MATLAB-made LR images (uint8, all channels):")
    print(f"{'set':<9} {'pixels':>10} {'identical':>10} {'max diff':>9} {'Pillow BICUBIC max diff':>24}")
    for r in resize_rows:
        print(f"{r.set:<9} {r.values:>10,} {100 * r.identical / r.values:>9.3f}% {r.max_diff:>9} {r.pillow_max_diff:>24}")
    print(f"\nbicubic x{scale} baseline, Y channel, {scale}-pixel border crop (tolerance {TOL_PSNR} dB, {TOL_SSIM} SSIM):")
    print(f"{'set':<9} {'LR images':<22} {'PSNR':>7} {'SSIM':>7}   {'published':>15}   {'dPSNR':>7} {'dSSIM':>7}  ok")
    for r in score_rows:
        pub_p, pub_s = r.published
        print(f"{r.set:<9} {r.lr:<22} {r.psnr:>7.3f} {r.ssim:>7.4f}   {pub_p:>7.2f} / {pub_s:.3f}   "
              f"{r.psnr - pub_p:>+7.3f} {r.ssim - pub_s:>+7.4f}  {'yes' if r.ok else 'NO'}")
    print("\npublished: the paper's Table II (the literature's standard bicubic anchor).")
    return 0 if all(r.ok for r in (*resize_rows, *score_rows)) else 1


def _train(args) -> int:
    from ..benchmarks.training import bench_train

    print(f"{args.preset}, batch {args.batch}, LR patch {args.patch}: {args.rounds} rounds x {args.steps} steps after "
          "warm-up; best round reported, median beside it", flush=True)
    res = bench_train(args.preset, args.batch, args.patch, args.device, args.rounds, args.steps, args.baseline,
                      args.train_dir, args.threads)
    print(f"on {res.device} ({res.device_name}); work per step: {res.gflop_per_step:.1f} GFLOP (exact forward MACs x 2 x 3)")
    print(f"\n{'settings':<22} {'ms/step':>8} {'(median)':>9} {'GFLOP/s':>8} {'matmul':>8} {'ratio':>6} {'data':>6}")
    for r in res.rows:
        print(f"{r.label:<22} {r.best_s * 1e3:>8.1f} {r.median_s * 1e3:>9.1f} {r.gflops:>8.1f} {r.matmul_gflops:>8.1f} "
              f"{100 * r.ratio:>5.1f}% {100 * r.data_share:>5.2f}%")
    if args.baseline:
        print(f"\nspeed-up of the optimised settings over the eager fp32 NCHW loop: "
              f"{res.rows[0].best_s / res.rows[-1].best_s:.2f}x")
    print("matmul: best fp32 n x n product rate on the same device (TF32 off), measured between rounds.")
    return 0


def _storage(args) -> int:
    from ..benchmarks.storage import bench_storage

    print(f"{args.workers} processes x {args.trials} trials each on one study (each trial: 1 suggest, 9 user attrs, "
          "2 objectives)")
    print(f"{'storage':<16} {'stored':>8} {'errors':>7} {'trials/s':>9} {'stuck':>6}  heartbeat support (kill -9 recovery)",
          flush=True)
    for r in bench_storage(args.workers, args.trials, args.storage or STORAGE_KINDS):
        hb = "yes" if r.heartbeats else "no: a killed worker leaves its trial RUNNING for ever"
        print(f"{r.kind:<16} {r.stored:>4}/{r.asked:<3} {r.errors:>7} {r.trials_per_s:>9.1f} {r.stuck:>6}  {hb}")
        for e in r.examples:
            print(f"    e.g. {e}")
    print("trials/s: stored trials / the slowest process's time from a common start line (start-up excluded).")
    return 0


def _screening(args) -> int:
    from ..benchmarks.screening import compare, load_role, reference_noise
    from ..audit.store import REFERENCE, SCREEN

    path, key = store_arg(args.reference)
    ref = load_role(path, REFERENCE, key)
    screenings, sources = {}, {}
    for item in args.screening:
        name, sep, store = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--screening: expected NAME=FILE[@KEY], got {item!r}")
        path, key = store_arg(store)
        screenings[name], sources[name] = load_role(path, SCREEN, key), store
    noise = reference_noise(ref)
    print(f"reference: {noise['designs']} designs; own noise |seed 0 - seed 1| median {noise['seed_diff_median_db']:.3f} dB, "
          f"max {noise['seed_diff_max_db']:.3f} dB over {noise['pairs']} designs; spread across designs std "
          f"{noise['design_std_db']:.3f} dB, range {noise['design_range_db']:.3f} dB")
    df = compare(ref, screenings, args.seeds, args.tolerance)
    for scope in ("own", "common"):
        part = df[df["designs"] == scope]
        print(f"\nscored on {'each screening' + chr(39) + 's designs' if scope == 'own' else 'the designs all share'} "
              f"(Kendall tau [90% bootstrap], cost-matched pairs right):")
        print(f"{'screening':<14} {'n':>3} {'estimator':<11} {'tau':>6} {'interval':>15} {'pairs':>11}")
        for _, r in part.iterrows():
            print(f"{r['screening']:<14} {r['n']:>3} {r['estimator']:<11} {r['tau']:>+6.2f} "
                  f"[{r['tau_lo']:+.2f}, {r['tau_hi']:+.2f}] {r['pairs_right']:>3}/{r['pairs']:<3} {r['pair_share']:>4.0%}")
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out.with_suffix(".csv"), index=False)
        out.with_suffix(".json").write_text(json.dumps({"reference": args.reference, "reference_noise": noise,
                                                          "screenings": sources,
                                                          "seeds": args.seeds, "tolerance": args.tolerance,
                                                          "rows": df.to_dict(orient="records")}, indent=2) + "\n")
        print(f"\nwritten: {out.with_suffix('.csv')}, {out.with_suffix('.json')}")
    return 0


def _upscale(args) -> int:
    import os
    import tempfile

    from PIL import Image

    from ..benchmarks.upscale import photo_mosaic, run_upscale

    with tempfile.TemporaryDirectory() as tmp:
        if args.image:
            picture, what = args.image, args.image
        else:
            h, w = args.size
            picture = os.path.join(tmp, "mosaic.png")
            Image.fromarray(photo_mosaic(args.photos, (h, w))).save(picture)
            what = f"a {w}x{h} mosaic of photographs from {args.photos}"
        with Image.open(picture) as im:
            size = im.size
        load = os.getloadavg()[0]
        print(f"upscaling {what} ({size[0]}x{size[1]}) with {args.model}, tiles of {args.tile} px, "
              f"threads {args.threads or 'default'}; load average {load:.2f} before", flush=True)
        runs = run_upscale(args.model, picture, tuple(args.backend or ("torch", "onnxruntime")), args.tile, args.threads)
    print(f"{'backend':<12} {'output':>11} {'wall':>8} {'peak memory':>12} {'max diff vs torch':>18}")
    for r in runs:
        print(f"{r.backend:<12} {r.out_size[0]:>5}x{r.out_size[1]:<5} {r.wall_s:>6.1f} s {r.peak_mib:>8.0f} MiB {r.max_diff:>12} / 255")
    print(f"load average {os.getloadavg()[0]:.2f} after")
    if args.json:
        print(json.dumps({"picture": what, "size": list(size), "tile": args.tile, "threads": args.threads,
                          "runs": [r.__dict__ for r in runs]}, indent=2))
    return 0


def _latency(args) -> int:
    import os

    import torch

    from ..deploy.latency import lr_size_for, measure, spec_runner
    from ..model.latency_table import MachineIdentity
    from .common import spec_from_args

    if args.validate is not None:
        from .bench_latency import validate_table

        return validate_table(args)
    if args.preset is None and args.spec is None and args.arch is None:
        raise ValueError("bench latency: give a network (--preset, --spec or --arch), or --validate N")
    label, spec = spec_from_args(args)
    torch.set_num_threads(args.threads)  # process-wide: the entry point's to set
    lr_size = args.lr_size or lr_size_for(spec.scale)
    load = os.getloadavg()[0]
    results = []
    for runtime in args.runtime or ["onnxruntime", "torch"]:
        run = spec_runner(spec, runtime, lr_size, args.threads)
        t = measure(run, args.repeats or 30, args.warmup)
        ident = MachineIdentity.here(runtime, args.threads)
        results.append({"runtime": runtime, "identity": ident.__dict__, **t.to_dict()})
    out = {"spec": spec.arch, "label": label, "lr_size": fmt_size(lr_size), "load_before": load,
           "load_after": os.getloadavg()[0], "results": results}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    ident = results[0]["identity"]
    print(f"{label}: {spec.arch}")
    print(f"image {fmt_size(lr_size)} LR -> x{spec.scale}; {ident['cpu']}, {ident['cores']} cores; "
          f"{args.threads} thread(s); load average {load:.2f} before, {out['load_after']:.2f} after")
    print(f"{'runtime':<22} {'median':>9} {'min':>9} {'IQR':>19} {'thread CPU':>11}")
    for r in results:
        rt = f"{r['runtime']} {r['identity']['version']}"
        print(f"{rt:<22} {r['median_ms']:>6.1f} ms {r['min_ms']:>6.1f} ms {r['q1_ms']:>7.1f}-{r['q3_ms']:<6.1f} ms "
              f"{r['cpu_median_ms']:>8.1f} ms   ({r['repeats']} runs after {r['warmup']} warm-ups)")
    return 0


def _add_latency(sub) -> None:
    """The ``latency`` subcommand's parser."""
    la = sub.add_parser("latency", help="time per image of a spec on onnxruntime (CPU) and PyTorch eager; "
                                        "--validate N: the latency table's predictions against measurements")
    add_spec_args(la, required=False)
    la.add_argument("--runtime", action="append", choices=RUNTIMES,
                    help="runtimes (default onnxruntime and torch; with --validate the first, default onnxruntime; "
                         "litert and litert-int8 need the [litert] extra)")
    la.add_argument("--lr-size", type=parse_size, metavar="WxH", help="LR input size (default: 1280x720 output, e.g. 320x180 at x4)")
    la.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    la.add_argument("--repeats", type=int, help="measured runs (default 30; with --validate: per turn, default 2)")
    la.add_argument("--warmup", type=int, default=3, help="unmeasured runs first (default 3)")
    la.add_argument("--json", action="store_true", help="print one JSON object")
    la.add_argument("--validate", type=int, metavar="N",
                    help="instead: the presets + N random specs of --space, measured in turns against the latency "
                         "table's predictions (the table is calibrated first where it lacks parts)")
    la.add_argument("--space", default="slwsr", help="with --validate: the search space to draw from (default slwsr)")
    la.add_argument("--seed", type=int, default=0, help="with --validate: the draw's seed (default 0)")
    la.add_argument("--passes", type=int, default=3, help="with --validate: turns per spec (default 3)")
    la.add_argument("--table", metavar="FILE", help="with --validate: a table file (default: this machine's)")
    la.add_argument("--out", metavar="PATH", help="with --validate: also write PATH.csv, PATH.json, PATH.html (chart)")


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="what", required=True,
                           metavar="{cost,bicubic,train,settings,mix,samplers,storage,screening,latency,upscale,docs}")
    c = sub.add_parser("cost", help="analytic vs fvcore pricing time per spec")
    c.add_argument("--preset", action="append", choices=list(PRESETS), help="preset(s) to time (default: s-lwsr16/32/64)")
    c.add_argument("--random", type=int, default=5, metavar="N", help="also time N seeded random specs (default 5)")
    c.add_argument("--repeat", type=int, default=1000, metavar="N", help="analytic calls per spec (default 1000)")
    c.add_argument("--hr-size", type=parse_size, default=DEFAULT_HR_SIZE, metavar="WxH", help="output size (default 1280x720)")
    c.add_argument("--no-fvcore", action="store_true", help="skip the (slow) fvcore cross-check")
    b = sub.add_parser("bicubic", help="imresize vs MATLAB LR, and the bicubic baseline vs published figures")
    b.add_argument("--data-root", default="../shared/data", metavar="DIR",
                   help="folder holding Set5/, Set14/, ... in the benchmark layout (default ../shared/data)")
    t = sub.add_parser("train", help="training-step speed vs the device's matmul rate; data-time share")
    t.add_argument("--preset", default="s-lwsr16", help="network (default s-lwsr16)")
    t.add_argument("--batch", type=int, default=16, help="patches per batch (default 16)")
    t.add_argument("--patch", type=int, default=48, help="LR patch size (default 48)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    t.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core)")
    t.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    t.add_argument("--steps", type=int, default=4, help="steps per round (default 4)")
    t.add_argument("--baseline", action="store_true", help="also time the plain eager fp32 NCHW loop, first")
    t.add_argument("--train-dir", default="builtin:train", metavar="DIR", help="training images (default builtin:train)")
    add_search_benchmarks(sub)
    add_deploy_benchmarks(sub)
    add_docs_benchmark(sub)
    s = sub.add_parser("storage", help="local Optuna storages under N concurrent processes: errors, speed, heartbeats")
    s.add_argument("--workers", type=int, default=8, help="concurrent processes (default 8)")
    s.add_argument("--trials", type=int, default=40, help="trials per process (default 40)")
    s.add_argument("--storage", action="append", choices=STORAGE_KINDS, help="storages to try (default: all)")
    sc = sub.add_parser("screening", help="screening settings side by side against one reference (fidelity-audit stores)")
    sc.add_argument("--reference", required=True, metavar="FILE[@KEY]",
                    help="the store holding the reference trainings (@KEY: its settings key, where it holds several)")
    sc.add_argument("--screening", action="append", required=True, metavar="NAME=FILE[@KEY]",
                    help="a screening setting: a name and the store holding its trainings (repeat for each setting)")
    sc.add_argument("--seeds", type=int, default=2, help="screening seeds per design (default 2)")
    sc.add_argument("--tolerance", type=float, default=0.15, help="cost-matched: parameters within this share (default 0.15)")
    sc.add_argument("--out", metavar="PATH", help="also write PATH.csv and PATH.json")
    _add_latency(sub)
    u = sub.add_parser("upscale", help="the upscale command on a large picture per backend: time, peak memory, agreement")
    u.add_argument("--model", required=True, metavar="BUNDLE", help="a bundle folder (finalize's OUT/bundle)")
    u.add_argument("--image", metavar="FILE", help="the picture (default: a mosaic of --photos at --size)")
    u.add_argument("--photos", default="../shared/data/train/BSD200/HR", metavar="DIR",
                   help="photographs for the mosaic (default ../shared/data/train/BSD200/HR)")
    u.add_argument("--size", type=parse_size, default=(1500, 2000), metavar="WxH", help="mosaic size (default 2000x1500)")
    u.add_argument("--backend", action="append", choices=("torch", "onnxruntime"), help="backends (default both)")
    u.add_argument("--tile", type=int, default=256, help="tile size in LR pixels (default 256)")
    u.add_argument("--threads", type=int, help="CPU threads per run (default: one per core)")
    u.add_argument("--json", action="store_true", help="also print the figures as JSON")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "slwsr bench") -> int:
    args = build_parser(prog).parse_args(argv)
    return {"cost": _cost, "bicubic": _bicubic, "train": _train, "settings": bench_settings, "mix": bench_mix, "samplers": bench_samplers, "litert": bench_litert,
            "storage": _storage,
            "screening": _screening, "latency": _latency, "upscale": _upscale, "docs": bench_docs}[args.what](args)
