"""``python -m slwsr_search.bench``: benchmarks that print figures (never timed assertions).

``cost``: how long pricing one spec takes, analytically (:func:`count_cost`) and by fvcore
(:func:`measure_cost`, which runs the network), and that the two agree.
``bicubic``: our imresize against MATLAB-made LR images, and the bicubic baseline scored with our
pipeline beside the published figures, on the benchmark sets under ``--data-root``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from typing import Sequence

from .cli import Parser, fmt_size, parse_size, run_cli
from .cost import DEFAULT_HR_SIZE, count_cost, measure_cost
from .presets import PRESETS
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
    for name in sets:
        pairs = load_pairs(root / name, scale, progress=False)
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
            pairs = load_pairs(root / name, scale, use_lr_files=use_files, progress=False)
            r = evaluate_pairs(pairs, bicubic_upscaler(scale), scale)
            dp, ds = r.psnr - pub_p, r.ssim - pub_s
            ok = abs(dp) <= TOL_PSNR and abs(ds) <= TOL_SSIM
            bad += not ok
            print(f"{name:<9} {label:<22} {r.psnr:>7.3f} {r.ssim:>7.4f}   {pub_p:>7.2f} / {pub_s:.3f}   "
                  f"{dp:>+7.3f} {ds:>+7.4f}  {'yes' if ok else 'NO'}")
    print("\npublished: the paper's Table II (the literature's standard bicubic anchor).")
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = Parser(prog=PROG, description=__doc__)
    sub = p.add_subparsers(dest="what", required=True, metavar="{cost,bicubic}")
    c = sub.add_parser("cost", help="analytic vs fvcore pricing time per spec")
    c.add_argument("--preset", action="append", choices=list(PRESETS), help="preset(s) to time (default: s-lwsr16/32/64)")
    c.add_argument("--random", type=int, default=5, metavar="N", help="also time N seeded random specs (default 5)")
    c.add_argument("--repeat", type=int, default=1000, metavar="N", help="analytic calls per spec (default 1000)")
    c.add_argument("--hr-size", type=parse_size, default=DEFAULT_HR_SIZE, metavar="WxH", help="output size (default 1280x720)")
    c.add_argument("--no-fvcore", action="store_true", help="skip the (slow) fvcore cross-check")
    b = sub.add_parser("bicubic", help="imresize vs MATLAB LR, and the bicubic baseline vs published figures")
    b.add_argument("--data-root", default="../shared/data", metavar="DIR",
                   help="folder holding Set5/, Set14/, ... in the benchmark layout (default ../shared/data)")
    args = p.parse_args(argv)
    if args.what == "bicubic":
        return bench_bicubic(args.data_root)
    presets = args.preset or ["s-lwsr16", "s-lwsr32", "s-lwsr64"]
    return bench_cost(presets, args.random, args.repeat, args.hr_size, not args.no_fvcore)


if __name__ == "__main__":
    sys.exit(run_cli(main, prog=PROG))
