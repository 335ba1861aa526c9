"""Collect the head-to-head's figures from two finalize run folders into this results page's CSV
and JSON (and copy each run's small files here: log, progress, table, card; never the weights).

    python docs/results/2026-11-29-finalize/collect.py RUN_A RUN_B ...
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

from slwsr_search.model.cost import count_cost
from slwsr_search.model.spec import ArchSpec
from slwsr_search.training.finalize import count_resumes, read_progress

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "2026-11-29-finalize-head-to-head-avx512"


def main(runs: list[str]) -> None:
    rows, runs_json = [], {}
    for run in map(Path, runs):
        name = run.name
        cfg = json.loads((run / "finalize.json").read_text())
        spec = ArchSpec.from_dict(cfg["spec"])
        cost = count_cost(spec)
        progress = read_progress(run)
        log = (run / "log.txt").read_text().splitlines()
        resumes = count_resumes(run)
        for r in csv.DictReader((run / "table.csv").open()):
            if r["source"] == "measured" and r["model"] != "Bicubic":
                rows.append({"run": name, "model": r["model"], "arch": spec.arch, "params": cost.params,
                             "gmacs": round(cost.gmacs, 3), "set": r["set"], "psnr": r["psnr"], "ssim": r["ssim"],
                             "train_s": progress[-1]["train_s"],
                             "resumes": resumes})
        runs_json[name] = {"arch": spec.arch, "origin": cfg["origin"], "params": cost.params, "gmacs": cost.gmacs,
                           "protocol": cfg["protocol"], "ema_decay": cfg["ema_decay"], "progress": progress, "log": log}
        dest = HERE / name
        dest.mkdir(exist_ok=True)
        for f in ("log.txt", "progress.csv", "table.md", "table.csv", "finalize.json"):
            if (run / f).exists():
                shutil.copy(run / f, dest / f)
        shutil.copy(run / "bundle" / "MODEL_CARD.md", dest / "MODEL_CARD.md")
    with OUT.with_suffix(".csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    OUT.with_suffix(".json").write_text(json.dumps(runs_json, indent=1) + "\n")
    print(f"written {OUT.with_suffix('.csv')}, {OUT.with_suffix('.json')}")


if __name__ == "__main__":
    main(sys.argv[1:])
