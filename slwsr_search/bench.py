"""``python -m slwsr_search.bench``: benchmarks that print figures (never timed assertions).

``cost``: how long pricing one spec takes, analytically (:func:`count_cost`) and by fvcore
(:func:`measure_cost`, which runs the network), and that the two agree.
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


def main(argv: Sequence[str] | None = None) -> int:
    p = Parser(prog=PROG, description=__doc__)
    sub = p.add_subparsers(dest="what", required=True, metavar="{cost}")
    c = sub.add_parser("cost", help="analytic vs fvcore pricing time per spec")
    c.add_argument("--preset", action="append", choices=list(PRESETS), help="preset(s) to time (default: s-lwsr16/32/64)")
    c.add_argument("--random", type=int, default=5, metavar="N", help="also time N seeded random specs (default 5)")
    c.add_argument("--repeat", type=int, default=1000, metavar="N", help="analytic calls per spec (default 1000)")
    c.add_argument("--hr-size", type=parse_size, default=DEFAULT_HR_SIZE, metavar="WxH", help="output size (default 1280x720)")
    c.add_argument("--no-fvcore", action="store_true", help="skip the (slow) fvcore cross-check")
    args = p.parse_args(argv)
    presets = args.preset or ["s-lwsr16", "s-lwsr32", "s-lwsr64"]
    return bench_cost(presets, args.random, args.repeat, args.hr_size, not args.no_fvcore)


if __name__ == "__main__":
    sys.exit(run_cli(main, prog=PROG))
