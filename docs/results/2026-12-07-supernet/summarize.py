"""Gather the supernet audits of this folder into two CSVs (run from the repository root after
run.sh and the extra audits in README.md):

    python docs/results/2026-12-07-supernet/summarize.py

designs.csv: one row per design of the long reference, its reference PSNR at 5,000 steps and each
audit's inherited-weight PSNR; scores.csv: one row per audit and score (tau, rho, cost-matched
pairs, top-1 regret and tau minus parameters' tau, each with its 90% bootstrap interval);
equivalence.csv: per audit, the designs' mean inherited-weight PSNR and the number of from-scratch
steps at which the reference trainings' mean PSNR was the same (linear between the ladder's
rungs), beside the reference's own tau against its 5,000-step end at each rung (ladder.csv):
how trained a path of the supernet is, in the reference's currency."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from slwsr_search.model.spec import ArchSpec

D = Path("docs/results/2026-12-07-supernet")
audits = {p.stem.removeprefix("audit-"): json.loads(p.read_text()) for p in sorted(D.glob("audit-*.json"))}
designs = None
rows = []
for name, a in audits.items():
    t = pd.DataFrame(a["designs"])[["label", "params", "reference", "supernet_psnr", "seconds"]]
    t = t.rename(columns={"supernet_psnr": f"psnr_{name}", "seconds": f"seconds_{name}"})
    designs = t if designs is None else designs.merge(t.drop(columns=["params", "reference"]), on="label")
    for s in a["scores"]:
        rows.append({"audit": name, "sampling": a["plan"]["sampling"], "expansions": a["setup"].get("expansions", "shared"),
                     "supernet_steps": a["steps"], "finetune": a["finetune"], "val": " + ".join(a["val"]),
                     "score": s["name"], "tau": s["tau"], "tau_lo": s["tau_interval"][0], "tau_hi": s["tau_interval"][1],
                     "rho": s["rho"], "rho_lo": s["rho_interval"][0], "rho_hi": s["rho_interval"][1],
                     "pairs_right": s["pairs_right"], "pairs": s["pairs"], "regret_db": s["regret_db"],
                     "regret_lo": s["regret_interval"][0], "regret_hi": s["regret_interval"][1],
                     "tau_minus_params": s["tau_minus_params"], "tau_minus_params_lo": s["tau_minus_params_interval"][0],
                     "tau_minus_params_hi": s["tau_minus_params_interval"][1]})
designs.sort_values("params").to_csv(D / "designs.csv", index=False, float_format="%.4f")
ref = pd.read_csv("docs/results/2026-12-01-samplers/fronts-14-designs.csv")
rungs = [250, 500, 1000, 2000, 3000, 4000, 5000]
ladder = pd.DataFrame({"steps": rungs, "mean_psnr": [ref[f"reference_at_{r}"].mean() for r in rungs],
                       "tau_vs_5000": [ref[f"reference_at_{r}"].corr(ref["reference_at_5000"], method="kendall") for r in rungs]})
ladder.to_csv(D / "ladder.csv", index=False, float_format="%.4f")
eq = []
for name, a in audits.items():
    m = sum(d["supernet_psnr"] for d in a["designs"]) / len(a["designs"])
    same_val = [Path(v).name for v in a["val"]] == ["Set5", "Set14"]  # the reference's validation images
    steps = ("n/a (other validation images)" if not same_val else "below 250" if m < ladder["mean_psnr"].iloc[0]
             else round(float(np.interp(m, ladder["mean_psnr"], ladder["steps"]))))
    eq.append({"audit": name, "finetune": a["finetune"], "val": " + ".join(a["val"]), "mean_inherited_psnr": m,
               "equivalent_steps": steps})
pd.DataFrame(eq).to_csv(D / "equivalence.csv", index=False, float_format="%.3f")
pd.DataFrame(rows).to_csv(D / "scores.csv", index=False, float_format="%.4f")
def _scored_by(audit: dict, design: dict, stem: str) -> bool:
    """Whether the training ``stem`` scored ``design`` in ``audit`` (of one supernet, or of one per
    width: the part of the design's width)."""
    parts = audit.get("parts") or [{"supernet": audit["supernet"], "widths": audit["setup"]["widths"]}]
    width = ArchSpec.from_arch(design["arch"]).n_feats
    return any(Path(p["supernet"]).stem.split(".")[0] == stem and width in p["widths"] for p in parts)


# each training's own figures, from its state file where this machine has it (not committed: over
# 1 MB), added to trainings.json (which keeps those of trainings run on other machines)
out = D / "trainings.json"
trainings = json.loads(out.read_text()) if out.is_file() else {}
if "uniform-3000" not in trainings and (D / "training.json").is_file():  # the first run's, written before this file
    trainings["uniform-3000"] = json.loads((D / "training.json").read_text())
for state in sorted(Path("reports/supernet").glob("*.pt")):
    if ".step" in state.name:
        continue
    import torch

    st = torch.load(state, weights_only=True)
    if st["steps"] < st["protocol"]["steps"]:  # under way (or stopped): its figures when it ends
        continue
    seconds = {n: [d["seconds"] for d in a["designs"] if _scored_by(a, d, state.stem)] for n, a in audits.items()}
    seconds = {n: v for n, v in seconds.items() if v}
    trainings[state.stem] = {
        "steps": st["steps"], "train_seconds": round(st["extra"]["train_seconds"], 1),
        "seconds_per_step": round(st["extra"]["train_seconds"] / st["steps"], 2),
        "weights": sum(v.numel() for v in st["training"]["model"].values()),
        "state_file_mb": round(state.stat().st_size / 1e6, 1), "cpus": st["extra"]["cpus"], "threads": st["extra"]["threads"],
        "setup": st["extra"]["supernet"], "plan": st["protocol"],
        "score_seconds": {n: {"mean": round(sum(v) / len(v), 2), "min": round(min(v), 1), "max": round(max(v), 1)}
                          for n, v in seconds.items()}}
out.write_text(json.dumps(trainings, indent=1) + "\n")
print(f"{len(designs)} designs, {len(audits)} audits -> {D}/designs.csv, {D}/scores.csv")
