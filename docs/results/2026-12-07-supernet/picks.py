"""Issue 35, item 7: the designs of the head-to-head, by rule from committed files (no hand pick).

    python docs/results/2026-12-07-supernet/picks.py > docs/results/2026-12-07-supernet/head-to-head-designs.txt

The supernet's picks: the design of highest inherited-weight PSNR among the Pareto fronts of the six
supernet-scored sampler studies (samplers/run-*.log: NSGA-II, TPE, random x 2 seeds, 150 s each on
the 5,000-step uniform supernet with separate expansions), within 150,000 and within 75,000
parameters. Beside them: s-LWSR16 (the paper's), the all-residual n12 s-LWSR the issue names (81,207
parameters, over 75,000) and the all-residual n11 (68,346, within it). One 'LABEL ARCH' per line."""

import re
from pathlib import Path

D = Path(__file__).parent
ROW = re.compile(r"\s*\d+\s+([\d,]+)\s+[\d.]+ G\s+([\d.]+)\s+.*?(x4-\S+)")
front = {}
for log in sorted((D / "samplers").glob("run-*.log")):
    for line in log.read_text().splitlines():
        m = ROW.match(line)
        if m:
            front[m.group(3)] = (float(m.group(2)), int(m.group(1).replace(",", "")))


def pick(limit: int) -> str:
    # highest PSNR; ties (to the printed 0.001 dB) to the fewer parameters
    return min((a for a, (_, p) in front.items() if p <= limit), key=lambda a: (-front[a][0], front[a][1]))


RES = "RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h,2.1,3.1,4.1,5.1,5.2"
for label, arch in [("sn-pick-150k", pick(150_000)), ("s-lwsr16", f"x4-n16-{RES}"), ("sn-pick-75k", pick(75_000)),
                    ("n12-all-res", f"x4-n12-{RES}"), ("n11-all-res", f"x4-n11-{RES}")]:
    print(label, arch)
