"""Is parameters' lead over the loss at 5,000 steps more than the designs' sampling noise?
Paired bootstrap over designs (the same resample for both estimators) of the difference in Kendall
tau against the reference at 5,000 steps; 90% percentile interval. Also the loss + log-parameters
line fitted leave-one-out against the loss, the fit redone inside every resample (each design's
prediction fitted on the resample's other designs, its own copies left out), so the interval
carries the fit's own noise. Run from the repository root
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
X = np.column_stack([np.ones(len(ref)), rows["loss_tail"].to_numpy(float), np.log(rows["params"].to_numpy(float))])


def loo_fit(i: np.ndarray) -> np.ndarray:
    """The fitted score of resample ``i`` (design indices), each design's copies left out of its own fit."""
    out = np.empty(len(i))
    for j, d in enumerate(i):
        keep = i != d
        if len(set(i[keep])) < 3:  # too few other designs for a line in 2 variables
            return np.full(len(i), np.nan)
        coef, *_ = np.linalg.lstsq(X[i[keep]], ref[i[keep]], rcond=None)
        out[j] = X[d] @ coef
    return out


rng = np.random.default_rng(0)
diffs = {k: [] for k in scores if k != "params"}
fitted = []
for _ in range(5000):
    i = rng.integers(0, len(ref), len(ref))
    if len(set(i)) < 3:
        continue
    t = {k: kendall_tau(v[i], ref[i]) for k, v in scores.items()}
    for k in diffs:
        if not (np.isnan(t["params"]) or np.isnan(t[k])):
            diffs[k].append(t["params"] - t[k])
    f = loo_fit(i)
    if not (np.isnan(f).any() or np.isnan(t["loss_tail"])):
        tf = kendall_tau(f, ref[i])
        if not np.isnan(tf):
            fitted.append(tf - t["loss_tail"])
for k, d in diffs.items():
    lo, hi = np.percentile(d, [5, 95])
    point = kendall_tau(scores["params"], ref) - kendall_tau(scores[k], ref)
    print(f"tau(params) - tau({k}) at 5,000 steps: {point:+.2f} [{lo:+.2f}, {hi:+.2f}] over {len(d)} resamples")
lo, hi = np.percentile(fitted, [5, 95])
point = kendall_tau(loo_fit(np.arange(len(ref))), ref) - kendall_tau(scores["loss_tail"], ref)
print(f"tau(loss+logparams_loo) - tau(loss_tail) at 5,000 steps: {point:+.2f} [{lo:+.2f}, {hi:+.2f}] over {len(fitted)} resamples")
