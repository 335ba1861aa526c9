"""Gather the supernet audits of this folder into two CSVs (run from the repository root after
run.sh and the extra audits in README.md):

    python docs/results/2026-12-07-supernet/summarize.py

designs.csv: one row per design of the long reference, its reference PSNR at 5,000 steps and each
audit's inherited-weight PSNR; scores.csv: one row per audit and score (tau, rho, cost-matched
pairs, top-1 regret and tau minus parameters' tau, each with its 90% bootstrap interval)."""

import json
from pathlib import Path

import pandas as pd

D = Path("docs/results/2026-12-07-supernet")
audits = {p.stem.removeprefix("audit-"): json.loads(p.read_text()) for p in sorted(D.glob("audit-*.json"))}
designs = None
rows = []
for name, a in audits.items():
    t = pd.DataFrame(a["designs"])[["label", "params", "reference", "supernet_psnr", "seconds"]]
    t = t.rename(columns={"supernet_psnr": f"psnr_{name}", "seconds": f"seconds_{name}"})
    designs = t if designs is None else designs.merge(t.drop(columns=["params", "reference"]), on="label")
    for s in a["scores"]:
        rows.append({"audit": name, "supernet_steps": a["steps"], "finetune": a["finetune"], "val": " + ".join(a["val"]),
                     "score": s["name"], "tau": s["tau"], "tau_lo": s["tau_interval"][0], "tau_hi": s["tau_interval"][1],
                     "rho": s["rho"], "rho_lo": s["rho_interval"][0], "rho_hi": s["rho_interval"][1],
                     "pairs_right": s["pairs_right"], "pairs": s["pairs"], "regret_db": s["regret_db"],
                     "regret_lo": s["regret_interval"][0], "regret_hi": s["regret_interval"][1],
                     "tau_minus_params": s["tau_minus_params"], "tau_minus_params_lo": s["tau_minus_params_interval"][0],
                     "tau_minus_params_hi": s["tau_minus_params_interval"][1]})
designs.sort_values("params").to_csv(D / "designs.csv", index=False, float_format="%.4f")
pd.DataFrame(rows).to_csv(D / "scores.csv", index=False, float_format="%.4f")
# the training's own figures, from its state file where this machine has it (not committed: over 1 MB)
state = Path("reports/supernet/uniform-3000.pt")
if state.is_file():
    import torch

    st = torch.load(state, weights_only=True)
    weights = sum(v.numel() for v in st["training"]["model"].values())
    seconds = {n: [d["seconds"] for d in a["designs"]] for n, a in audits.items()}
    (D / "training.json").write_text(json.dumps({
        "steps": st["steps"], "train_seconds": round(st["extra"]["train_seconds"], 1),
        "seconds_per_step": round(st["extra"]["train_seconds"] / st["steps"], 2), "weights": weights,
        "state_file_mb": round(state.stat().st_size / 1e6, 1), "cpus": st["extra"]["cpus"], "threads": st["extra"]["threads"],
        "setup": st["extra"]["supernet"], "plan": st["protocol"],
        "score_seconds": {n: {"mean": round(sum(v) / len(v), 2), "min": round(min(v), 1), "max": round(max(v), 1)}
                          for n, v in seconds.items()}}, indent=1) + "\n")
print(f"{len(designs)} designs, {len(audits)} audits -> {D}/designs.csv, {D}/scores.csv")
