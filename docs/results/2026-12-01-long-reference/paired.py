"""Is parameters' lead over the loss at 5,000 steps more than the 8 designs' sampling noise?
Paired bootstrap over designs (the same resample for both estimators) of the difference in Kendall
tau against the reference at 5,000 steps; 90% percentile interval. Run from the repository root
after run.sh has written its fidelity.csv:

    python docs/results/2026-12-01-long-reference/paired.py reports/budget150k/fidelity-long/fidelity.csv
"""

import sys

import numpy as np
import pandas as pd

from slwsr_search.audit.stats import kendall_tau

rows = pd.read_csv(sys.argv[1])
ref = rows["reference_at_5000"].to_numpy()
scores = {"params": rows["params"].to_numpy(float), "loss_tail": -rows["loss_tail"].to_numpy(),
          "psnr_mean": rows["screen_mean"].to_numpy()}
rng = np.random.default_rng(0)
diffs = {k: [] for k in scores if k != "params"}
for _ in range(5000):
    i = rng.integers(0, len(ref), len(ref))
    if len(set(i)) < 3:
        continue
    t = {k: kendall_tau(v[i], ref[i]) for k, v in scores.items()}
    for k in diffs:
        if not (np.isnan(t["params"]) or np.isnan(t[k])):
            diffs[k].append(t["params"] - t[k])
for k, d in diffs.items():
    lo, hi = np.percentile(d, [5, 95])
    point = kendall_tau(scores["params"], ref) - kendall_tau(scores[k], ref)
    print(f"tau(params) - tau({k}) at 5,000 steps: {point:+.2f} [{lo:+.2f}, {hi:+.2f}] over {len(d)} resamples")
