"""``python -m slwsr_search.bench``: benchmarks that print figures (never timed assertions).

``cost``: how long pricing one spec takes, analytically (:func:`count_cost`) and by fvcore
(:func:`measure_cost`, which runs the network), and that the two agree.
``bicubic``: our imresize against MATLAB-made LR images, and the bicubic baseline scored with our
pipeline beside the published figures, on the benchmark sets under ``--data-root``.
``train``: training-step speed against the device's measured fp32 matmul rate, and the data-time
fraction, for the optimised settings and (``--baseline``) the plain eager fp32 NCHW loop.
``storage``: N processes hammering one Optuna study with short trials (the writes of a priced,
over-budget trial) on each local storage: errors, trials lost, trials/s, heartbeat support.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import time
from typing import Sequence

from .cli import Parser, fmt_size, parse_size, run_cli
from .cost import DEFAULT_HR_SIZE, count_cost, measure_cost
from .presets import PRESETS, get_preset
from .spec import random_spec

PROG = "python -m slwsr_search.bench"


def bench_cost(presets: Sequence[str], n_random: int, repeat: int, hr_size: tuple[int, int], fvcore: bool) -> int:
    """Print analytic and fvcore pricing times per spec; return 1 if any count disagrees."""
    print(f"pricing one spec at {fmt_size(hr_size)} output (analytic: median of {repeat} calls; fvcore: one call)")
    print(f"{'spec':<34} {'params':>10} {'Multi-Adds':>11} {'analytic':>11} {'fvcore':>9}  agree")
    rng = random.Random(0)
    specs = [(name, PRESETS[name]) for name in presets]
    specs += [(f"random #{i} x{s.scale} n{s.n_feats} ir{s.n_ir}", s)
              for i, s in enumerate(random_spec(rng, n_feats=(16, 32)) for _ in range(n_random))]
    bad = 0
    analytic_us = []
    for label, spec in specs:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            cost = count_cost(spec, hr_size)
            times.append(time.perf_counter() - t0)
        us = statistics.median(times) * 1e6
        analytic_us.append(us)
        fv, agree = "-", "-"
        if fvcore:
            t0 = time.perf_counter()
            numel, macs = measure_cost(spec, hr_size)
            fv = f"{time.perf_counter() - t0:.2f} s"
            agree = "yes" if (numel, macs) == (cost.params, cost.macs) else "NO"
            bad += agree == "NO"
        print(f"{label:<34} {cost.params:>10,} {cost.gmacs:>9.2f} G {us:>8.1f} us {fv:>9}  {agree}")
    print(f"\nanalytic: median {statistics.median(analytic_us):.1f} us, max {max(analytic_us):.1f} us per spec "
          f"over {len(specs)} specs")
    return 1 if bad else 0


#: Published bicubic x4 baseline (PSNR dB, SSIM) on the Y channel (the paper's Table II).
PUBLISHED_BICUBIC_X4 = {"Set5": (28.42, 0.810), "Set14": (26.10, 0.704), "B100": (25.96, 0.669),
                        "Urban100": (23.15, 0.659)}
TOL_PSNR, TOL_SSIM = 0.02, 0.002


def bench_bicubic(data_root: str, scale: int = 4) -> int:
    """Print imresize agreement and the bicubic table; return 1 if a figure is off tolerance."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from .data import load_pairs
    from .evaluate import bicubic_upscaler, evaluate_pairs
    from .resize import imresize

    root = Path(data_root)
    sets = [name for name in PUBLISHED_BICUBIC_X4 if (root / name / "LR_bicubic" / f"X{scale}").is_dir()]
    if not sets:
        raise ValueError(f"{root}: no benchmark set with LR_bicubic/X{scale} (looked for {', '.join(PUBLISHED_BICUBIC_X4)})")
    bad = 0
    print(f"imresize(HR, 1/{scale}) against the MATLAB-made LR images (uint8, all channels):")
    print(f"{'set':<9} {'pixels':>10} {'identical':>10} {'max diff':>9} {'Pillow BICUBIC max diff':>24}")
    with_files = {name: load_pairs(root / name, scale, progress=False) for name in sets}
    for name in sets:
        pairs = with_files[name]
        total = same = worst = pil_worst = 0
        for p in pairs:
            ours = imresize(p.hr, 1 / scale)
            d = np.abs(ours.astype(int) - p.lr.astype(int))
            total, same, worst = total + d.size, same + int((d == 0).sum()), max(worst, int(d.max()))
            pil = np.asarray(Image.fromarray(p.hr).resize(p.lr.shape[1::-1], Image.Resampling.BICUBIC))
            pil_worst = max(pil_worst, int(np.abs(pil.astype(int) - p.lr.astype(int)).max()))
        ok = same / total >= 0.999 and worst <= 1
        bad += not ok
        print(f"{name:<9} {total:>10,} {100 * same / total:>9.3f}% {worst:>9} {pil_worst:>24}")
    print(f"\nbicubic x{scale} baseline, Y channel, {scale}-pixel border crop (tolerance {TOL_PSNR} dB, {TOL_SSIM} SSIM):")
    print(f"{'set':<9} {'LR images':<22} {'PSNR':>7} {'SSIM':>7}   {'published':>15}   {'dPSNR':>7} {'dSSIM':>7}  ok")
    for name in sets:
        pub_p, pub_s = PUBLISHED_BICUBIC_X4[name]
        for use_files, label in ((True, "MATLAB-made (files)"), (False, "our imresize of HR")):
            pairs = with_files[name] if use_files else load_pairs(root / name, scale, use_lr_files=False, progress=False)
            r = evaluate_pairs(pairs, bicubic_upscaler(scale), scale)
            dp, ds = r.psnr - pub_p, r.ssim - pub_s
            ok = abs(dp) <= TOL_PSNR and abs(ds) <= TOL_SSIM
            bad += not ok
            print(f"{name:<9} {label:<22} {r.psnr:>7.3f} {r.ssim:>7.4f}   {pub_p:>7.2f} / {pub_s:.3f}   "
                  f"{dp:>+7.3f} {ds:>+7.4f}  {'yes' if ok else 'NO'}")
    print("\npublished: the paper's Table II (the literature's standard bicubic anchor).")
    return 1 if bad else 0


def matmul_gflops(dev, n: int | None = None, repeats: int = 5) -> float:
    """Best-of-``repeats`` fp32 matmul rate (GFLOP/s) of an n x n product on ``dev`` (TF32 off)."""
    import torch

    from .train import _sync

    n = n or (8192 if dev.type == "cuda" else 2048)
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        best = math.inf
        for _ in range(repeats + 1):
            _sync(dev)
            t0 = time.perf_counter()
            a @ b
            _sync(dev)
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    return 2 * n ** 3 / best / 1e9


def bench_train(preset: str, batch: int, patch: int, device: str, rounds: int, steps_per_round: int,
                baseline: bool, train_dir: str, threads: int | None) -> int:
    """Print ms/step, achieved GFLOP/s (exact cost model), matmul GFLOP/s, ratio, data fraction."""
    import torch

    from .cost import count_cost
    from .data import PatchSampler, load_pairs
    from .train import Protocol, Speedups, _prepare_device, _sync, resolve_device, setup, train_step

    dev = resolve_device(device)
    spec = get_preset(preset)
    protocol = Protocol(batch_size=batch, lr_patch=patch)
    pairs = load_pairs(train_dir, spec.scale, min_lr_size=patch, progress=False)
    hr = patch * spec.scale
    flop_per_step = count_cost(spec, (hr, hr)).macs * batch * 2 * 3  # MACs x 2 FLOPs x (fwd + bwd = 3 fwd)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads() if threads is None else threads} threads"
    print(f"{preset}, batch {batch}, LR patch {patch}, on {dev} ({name})")
    print(f"work per step: {flop_per_step / 1e9:.1f} GFLOP (exact forward MACs x 2 x 3); "
          f"{rounds} rounds x {steps_per_round} steps after warm-up; best round reported, median beside it")
    configs = []
    # The plain loop runs first: the optimised one tunes the process's allocator, which stays tuned.
    if baseline:
        configs.append(("eager fp32 NCHW", Speedups(channels_last=False, malloc_tuning=False, flush_denormal=False,
                                                    bf16=False, tf32=False, compile=False, threads=threads)))
    configs.append(("optimised (defaults)", Speedups(threads=threads)))
    rows = []
    for label, sp in configs:
        _prepare_device(dev, sp)
        model, fwd, opt, autocast = setup(spec, dev, protocol, sp)
        sampler = PatchSampler(pairs, spec.scale, patch, batch, dev, seed=0, channels_last=sp.channels_last)
        for _ in range(3 if not sp.compile else 5):  # warm-up: oneDNN / cuDNN plans, compile
            lr_img, hr_img = sampler.sample()
            train_step(fwd, opt, lr_img, hr_img, autocast)
        _sync(dev)
        step_times, data_fracs, mm = [], [], 0.0
        for _ in range(rounds):
            mm = max(mm, matmul_gflops(dev))
            data_s = compute_s = 0.0
            for _ in range(steps_per_round):
                t0 = time.perf_counter()
                lr_img, hr_img = sampler.sample()
                _sync(dev)
                t1 = time.perf_counter()
                train_step(fwd, opt, lr_img, hr_img, autocast)
                _sync(dev)
                t2 = time.perf_counter()
                data_s, compute_s = data_s + t1 - t0, compute_s + t2 - t1
            step_times.append((data_s + compute_s) / steps_per_round)
            data_fracs.append(data_s / (data_s + compute_s))
        best = min(step_times)
        rows.append((label, best, statistics.median(step_times), flop_per_step / best / 1e9, mm,
                     statistics.median(data_fracs)))
        del model, fwd, opt, sampler
    print(f"\n{'settings':<22} {'ms/step':>8} {'(median)':>9} {'GFLOP/s':>8} {'matmul':>8} {'ratio':>6} {'data':>6}")
    for label, best, med, gf, mm, df in rows:
        print(f"{label:<22} {best * 1e3:>8.1f} {med * 1e3:>9.1f} {gf:>8.1f} {mm:>8.1f} {100 * gf / mm:>5.1f}% {100 * df:>5.2f}%")
    if baseline:
        print(f"\nspeed-up of the optimised settings over the eager fp32 NCHW loop: {rows[0][1] / rows[-1][1]:.2f}x")
    print("matmul: best fp32 n x n product rate on the same device (TF32 off), measured between rounds.")
    return 0


# ----- storage -----------------------------------------------------------------------------------

STORAGE_KINDS = ("sqlite-wal", "sqlite-default", "journal-file")


def _storage_of(kind: str, folder: str, heartbeat: bool):
    import optuna

    from .study import FaultTolerance, make_storage

    if kind == "sqlite-wal":  # ours: WAL, synchronous=NORMAL, 60 s busy timeout, heartbeats
        return make_storage(f"sqlite:///{folder}/wal.db", FaultTolerance() if heartbeat else None)
    if kind == "sqlite-default":  # Optuna's plain RDBStorage on a SQLite file
        return optuna.storages.RDBStorage(f"sqlite:///{folder}/plain.db")
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(f"{folder}/journal.log"))


def _storage_worker(kind: str, folder: str, n_trials: int, queue, barrier) -> None:
    """One process: ``n_trials`` trials of ~10 attribute writes each, started together with the
    others (``barrier``); reports (done, errors, seconds from the start line)."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    errors: list[str] = []
    done = 0
    try:
        study = optuna.load_study(study_name="bench", storage=_storage_of(kind, folder, heartbeat=True),
                                  sampler=optuna.samplers.RandomSampler())
    except Exception as e:  # noqa: BLE001 - counted, not hidden
        barrier.wait()
        queue.put((0, [f"open: {type(e).__name__}: {e}"], 0.0))
        return
    barrier.wait()
    t0 = time.perf_counter()

    def objective(trial):
        x = trial.suggest_int("n_feats", 4, 64)
        for k in ("arch", "spec", "hash", "params", "macs", "protocol_key", "train_seed", "worker"):
            trial.set_user_attr(k, f"{k}-{x}")
        trial.set_user_attr("status", "infeasible")
        return float(x), float(-x)

    for _ in range(n_trials):
        try:
            study.optimize(objective, n_trials=1)
            done += 1
        except Exception as e:  # noqa: BLE001 - counted, not hidden
            errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:120]}")
    queue.put((done, errors, time.perf_counter() - t0))


def bench_storage(workers: int, trials: int, kinds: Sequence[str]) -> int:
    """Print, per storage kind: trials stored vs asked, errors, aggregate trials/s, heartbeat support."""
    import multiprocessing as mp
    import tempfile

    import optuna

    from optuna.storages._heartbeat import BaseHeartbeat

    print(f"{workers} processes x {trials} trials each on one study (each trial: 1 suggest, 9 user attrs, 2 objectives)")
    print(f"{'storage':<16} {'stored':>8} {'errors':>7} {'trials/s':>9} {'stuck':>6}  heartbeat support (kill -9 recovery)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ctx = mp.get_context("spawn")
    for kind in kinds:
        with tempfile.TemporaryDirectory() as folder:
            storage = _storage_of(kind, folder, heartbeat=False)
            optuna.create_study(study_name="bench", storage=storage, directions=["minimize", "maximize"])
            queue, barrier = ctx.Queue(), ctx.Barrier(workers)
            procs = [ctx.Process(target=_storage_worker, args=(kind, folder, trials, queue, barrier)) for _ in range(workers)]
            for pr in procs:
                pr.start()
            results = [queue.get() for _ in procs]
            for pr in procs:
                pr.join()
            wall = max(r[2] for r in results) or math.inf
            study = optuna.load_study(study_name="bench", storage=_storage_of(kind, folder, heartbeat=False))
            states = [t.state for t in study.get_trials(deepcopy=False)]
            stored = sum(st == optuna.trial.TrialState.COMPLETE for st in states)
            stuck = sum(st == optuna.trial.TrialState.RUNNING for st in states)
            errors = [e for _, errs, _ in results for e in errs]
            hb = isinstance(storage, BaseHeartbeat)
            print(f"{kind:<16} {stored:>4}/{workers * trials:<3} {len(errors):>7} {stored / wall:>9.1f} {stuck:>6}  "
                  f"{'yes' if hb else 'no: a killed worker leaves its trial RUNNING for ever'}")
            for e in sorted(set(errors))[:3]:
                print(f"    e.g. {e}")
    print("trials/s: stored trials / the slowest process's time from a common start line (start-up excluded).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = Parser(prog=PROG, description=__doc__)
    sub = p.add_subparsers(dest="what", required=True, metavar="{cost,bicubic,train,storage}")
    c = sub.add_parser("cost", help="analytic vs fvcore pricing time per spec")
    c.add_argument("--preset", action="append", choices=list(PRESETS), help="preset(s) to time (default: s-lwsr16/32/64)")
    c.add_argument("--random", type=int, default=5, metavar="N", help="also time N seeded random specs (default 5)")
    c.add_argument("--repeat", type=int, default=1000, metavar="N", help="analytic calls per spec (default 1000)")
    c.add_argument("--hr-size", type=parse_size, default=DEFAULT_HR_SIZE, metavar="WxH", help="output size (default 1280x720)")
    c.add_argument("--no-fvcore", action="store_true", help="skip the (slow) fvcore cross-check")
    b = sub.add_parser("bicubic", help="imresize vs MATLAB LR, and the bicubic baseline vs published figures")
    b.add_argument("--data-root", default="../shared/data", metavar="DIR",
                   help="folder holding Set5/, Set14/, ... in the benchmark layout (default ../shared/data)")
    t = sub.add_parser("train", help="training-step speed vs the device's matmul rate; data-time fraction")
    t.add_argument("--preset", default="s-lwsr16", help="network (default s-lwsr16)")
    t.add_argument("--batch", type=int, default=16, help="patches per batch (default 16)")
    t.add_argument("--patch", type=int, default=48, help="LR patch size (default 48)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    t.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core)")
    t.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    t.add_argument("--steps", type=int, default=4, help="steps per round (default 4)")
    t.add_argument("--baseline", action="store_true", help="also time the plain eager fp32 NCHW loop, first")
    t.add_argument("--train-dir", default="builtin:train", metavar="DIR", help="training images (default builtin:train)")
    s = sub.add_parser("storage", help="local Optuna storages under N concurrent processes: errors, speed, heartbeats")
    s.add_argument("--workers", type=int, default=8, help="concurrent processes (default 8)")
    s.add_argument("--trials", type=int, default=40, help="trials per process (default 40)")
    s.add_argument("--storage", action="append", choices=STORAGE_KINDS, help="storages to try (default: all)")
    args = p.parse_args(argv)
    if args.what == "storage":
        if args.workers < 1 or args.trials < 1:
            raise ValueError("--workers and --trials: expected integers >= 1")
        return bench_storage(args.workers, args.trials, args.storage or STORAGE_KINDS)
    if args.what == "train":
        return bench_train(args.preset, args.batch, args.patch, args.device, args.rounds, args.steps,
                           args.baseline, args.train_dir, args.threads)
    if args.what == "bicubic":
        return bench_bicubic(args.data_root)
    presets = args.preset or ["s-lwsr16", "s-lwsr32", "s-lwsr64"]
    return bench_cost(presets, args.random, args.repeat, args.hr_size, not args.no_fvcore)


if __name__ == "__main__":
    sys.exit(run_cli(main, prog=PROG))
