"""Issue 22 item 8: s-LWSR16 against budget150k's pick (trial 3 = t3-d1), 2 seeds each, from the
long reference's final checkpoints (the same 5,000-step protocol for both), scored on Set5 and
Set14 with and without the x8 self-ensemble by `slwsr evaluate`. Run from the repository root:

    python docs/results/2026-12-03-head-to-head/score.py [--out docs/results/2026-12-03-head-to-head/scores]

Writes OUT.csv (one row per design, seed, set, ensemble) and prints the table. The four training
states it reads are no longer in the repository (issue 34); restore them from git history first:

    sh docs/results/restore-dropped.sh s-lwsr16-3c39d084f57e-s t3-d1-78ddf8d1de56-s
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

RUNS = Path("docs/results/2026-12-01-long-reference/audit-runs")
DESIGNS = ("s-lwsr16", "t3-d1")
SETS = ("../shared/data/Set5", "../shared/data/Set14")
STEPS = 5000


def checkpoint(label: str, seed: int) -> Path:
    name = re.compile(rf"{re.escape(label)}-[0-9a-f]{{12}}-s{seed}-")  # not s-lwsr16-half for s-lwsr16
    found = [p for p in RUNS.glob("*/state.pt") if name.match(p.parent.name)]
    if len(found) != 1:
        sys.exit(f"{RUNS}: expected one run folder of {label} seed {seed}, found {[str(p) for p in found]} "
                 "(restore the training states: sh docs/results/restore-dropped.sh s-lwsr16-3c39d084f57e-s t3-d1-78ddf8d1de56-s)")
    progress = (found[0].parent / "progress.csv").read_text().splitlines()
    last = int(progress[-1].split(",")[0])
    if last != STEPS:
        sys.exit(f"{found[0].parent}: trained to step {last}, not {STEPS}: the long reference is not finished")
    return found[0]


def score(ckpt: Path, data: str, ensemble: bool) -> dict:
    cmd = [sys.executable, "-m", "slwsr_search.evaluate", "--data", data, "--checkpoint", str(ckpt), "--json"]
    out = subprocess.run(cmd + (["--self-ensemble"] if ensemble else []), capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/results/2026-12-03-head-to-head/scores")
    args = ap.parse_args()
    rows = []
    for label in DESIGNS:
        for seed in (0, 1):
            ckpt = checkpoint(label, seed)
            for data in SETS:
                for ens in (False, True):
                    r = score(ckpt, data, ens)
                    rows.append({"design": label, "arch": r["method"], "seed": seed, "set": Path(data).name,
                                 "self_ensemble": ens, "psnr": round(r["psnr"], 4), "ssim": round(r["ssim"], 5),
                                 "checkpoint": str(ckpt)})
                    print(f"{label:10s} seed {seed} {Path(data).name:6s} {'+' if ens else ' '} {r['psnr']:.3f} / {r['ssim']:.4f}",
                          flush=True)
    with open(f"{args.out}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
