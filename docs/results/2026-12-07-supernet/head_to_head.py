"""Issue 35, item 7: gather the head-to-head trainings (head-to-head.sh) into one CSV.

    python docs/results/2026-12-07-supernet/head_to_head.py [RUNS] > docs/results/2026-12-07-supernet/head-to-head.csv
    python docs/results/2026-12-07-supernet/head_to_head.py --markdown docs/results/2026-12-07-supernet/head-to-head.csv
    python docs/results/2026-12-07-supernet/head_to_head.py --pairs docs/results/2026-12-07-supernet/head-to-head.csv \
        > docs/results/2026-12-07-supernet/head-to-head-pairs.csv

RUNS (default reports/h2h) holds one finalize run folder per training, LABEL-sSEED. Each finished one
(its table.csv written) gives one row: the design, its seed, its parameters, its Set5 and Set14 PSNR /
SSIM plain and with the x8 self-ensemble (`+`), the mean over the 19 images of Set5 + Set14 (the
long reference's own score, so s-LWSR16 here can be checked against fronts-14-designs.csv), the
training's seconds and the machine from its log. A run without table.csv is listed on stderr."""

import csv
import sys
from pathlib import Path

from slwsr_search.training.state import load_state

D = Path(__file__).parent
SIZES = {"Set5": 5, "Set14": 14}  # images per set: the reference pools them
ARCH = dict(line.split() for line in (D / "head-to-head-designs.txt").read_text().splitlines() if line.strip())
COLUMNS = ("label", "seed", "params", "set5_psnr", "set5_ssim", "set14_psnr", "set14_ssim", "pooled_psnr",
           "set5_psnr_se", "set14_psnr_se", "pooled_psnr_se", "train_s", "machine", "arch")


def scores(table: Path) -> tuple[int, dict[str, dict[str, tuple[float, float]]]]:
    """The network's parameters and ``{"" or "+": {set: (psnr, ssim)}}``: its own rows, plain and
    self-ensembled (not bicubic, not its exported graphs ``LABEL (int8)``..., not the paper's)."""
    out: dict = {}
    params = 0
    for r in csv.DictReader(table.open()):
        if r["source"] == "measured" and r["model"] != "Bicubic" and "(" not in r["model"]:
            out.setdefault("+" if r["model"].endswith("+") else "", {})[r["set"]] = (float(r["psnr"]), float(r["ssim"]))
            params = int(r["params"])
    return params, out


def pooled(by_set: dict[str, tuple[float, float]]) -> float:
    return sum(SIZES[s] * by_set[s][0] for s in SIZES) / sum(SIZES.values())


def row(run: Path) -> dict:
    label, seed = run.name.rsplit("-s", 1)
    params, s = scores(run / "table.csv")
    plain, ens = s[""], s["+"]
    extra = load_state(run / "state.pt").extra  # the training's seconds and every CPU it ran on
    return {"label": label, "seed": int(seed), "params": params,
            "set5_psnr": f"{plain['Set5'][0]:.4f}", "set5_ssim": f"{plain['Set5'][1]:.5f}",
            "set14_psnr": f"{plain['Set14'][0]:.4f}", "set14_ssim": f"{plain['Set14'][1]:.5f}",
            "pooled_psnr": f"{pooled(plain):.4f}", "set5_psnr_se": f"{ens['Set5'][0]:.4f}",
            "set14_psnr_se": f"{ens['Set14'][0]:.4f}", "pooled_psnr_se": f"{pooled(ens):.4f}",
            "train_s": f"{extra['train_s']:.1f}", "machine": " then ".join(extra["cpus"]), "arch": ARCH.get(label, "")}


def markdown(rows: list[dict]) -> str:
    """The CSV as the results page's table: one line per training, both seeds of a design together,
    in the designs file's order."""
    order = list(ARCH)
    rows = sorted(rows, key=lambda r: (order.index(r["label"]) if r["label"] in order else len(order), int(r["seed"])))
    out = ["| design | params | seed | Set5 PSNR / SSIM | Set14 PSNR / SSIM | Set5 + Set14 (19 images) | with x8 self-ensemble: Set5 / Set14 / 19 images |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['label']} | {int(r['params']):,} | {r['seed']} | {float(r['set5_psnr']):.3f} / {float(r['set5_ssim']):.4f} | "
                   f"{float(r['set14_psnr']):.3f} / {float(r['set14_ssim']):.4f} | {float(r['pooled_psnr']):.3f} | "
                   f"{float(r['set5_psnr_se']):.3f} / {float(r['set14_psnr_se']):.3f} / {float(r['pooled_psnr_se']):.3f} |")
    return "\n".join(out)


#: The comparisons item 7 asks for: each supernet pick against the design it must beat.
PAIRS = (("sn-pick-150k", "s-lwsr16"), ("sn-pick-75k", "n11-all-res"), ("sn-pick-75k", "n12-all-res"))


def pairs(rows: list[dict]) -> list[dict]:
    """Per pair with both designs trained: each one's seeds and mean over the 19 images (plain and
    with the self-ensemble), and the pick's lead over the other (negative: behind) as the mean of
    the means and its smallest and largest over every pairing of one seed with one seed."""
    out = []
    for pick, other in PAIRS:
        for col, kind in (("pooled_psnr", "plain"), ("pooled_psnr_se", "x8 self-ensemble")):
            a = [float(r[col]) for r in rows if r["label"] == pick]
            b = [float(r[col]) for r in rows if r["label"] == other]
            if not a or not b:
                continue
            leads = [x - y for x in a for y in b]
            out.append({"pick": pick, "against": other, "score": kind, "pick_seeds": len(a), "against_seeds": len(b),
                        "pick_mean": f"{sum(a) / len(a):.4f}", "against_mean": f"{sum(b) / len(b):.4f}",
                        "lead_mean": f"{sum(a) / len(a) - sum(b) / len(b):+.4f}", "lead_min": f"{min(leads):+.4f}",
                        "lead_max": f"{max(leads):+.4f}"})
    return out


def main(runs: Path) -> None:
    w = csv.DictWriter(sys.stdout, COLUMNS, lineterminator="\n")
    w.writeheader()
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        if (run / "table.csv").exists():
            w.writerow(row(run))
        else:
            print(f"{run}: not finished (no table.csv)", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--markdown"]:
        print(markdown(list(csv.DictReader(open(sys.argv[2])))))
    elif sys.argv[1:2] == ["--pairs"]:
        found = pairs(list(csv.DictReader(open(sys.argv[2]))))
        w = csv.DictWriter(sys.stdout, list(found[0]) if found else ["pick"], lineterminator="\n")
        w.writeheader()
        w.writerows(found)
    else:
        main(Path(sys.argv[1] if len(sys.argv) > 1 else "reports/h2h"))
