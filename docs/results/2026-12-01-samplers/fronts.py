"""Issue 22 item 7, second half: the designs each sampler study found, for a long real-data
training. For every study given, its feasible Pareto front (the study's objectives), the K designs
with the best screening loss that are not baselines (a user picks from that end of a front under
the budget); each design once, labelled by the first study that found it, the others named in a
comment. Writes a design file for `slwsr fidelity --design-file` (see fronts.sh). Reads the
studies' SQLite stores, no longer in the repository (issue 34): restore them from git history
first, from the repository root: `sh docs/results/restore-dropped.sh budget150k-`.

    python docs/results/2026-12-01-samplers/fronts.py [--top 2] [--out docs/results/2026-12-01-samplers/fronts-designs.txt]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna

from slwsr_search.reporting.compute import pareto_front, trials_frame
from slwsr_search.search.storage import open_existing_study, resolve_storage, sqlite_path
from slwsr_search.search.study import StudyConfig

HERE = Path("docs/results/2026-12-01-samplers")
LONG = Path("docs/results/2026-12-01-long-reference/designs.txt")


def long_reference_designs() -> dict[str, str]:
    """arch -> label of the designs the long reference already trains (its design file)."""
    rows = [line.split() for line in LONG.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {arch: label for label, arch in rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=2, help="designs per study, best screening loss first (default 2)")
    ap.add_argument("--out", default=str(HERE / "fronts-designs.txt"))
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chosen: dict[str, list[str]] = {}  # arch -> labels (the first names it)
    lines = []
    known = long_reference_designs()
    for toml in sorted(HERE.glob("budget150k-*.toml")):
        cfg = StudyConfig.load(toml)
        if not sqlite_path(cfg.storage).is_file():
            print(f"{toml}: not run yet, left out")
            continue
        df = trials_frame(open_existing_study(cfg, resolve_storage(None, cfg)))
        front = pareto_front(df, list(cfg.objectives))
        front = front[front["baseline"].isna()].sort_values("loss").head(args.top)
        variant = cfg.name.removeprefix("budget150k-")
        for _, r in front.iterrows():
            label = f"{variant}-t{int(r['number'])}"
            chosen.setdefault(r["arch"], []).append(label)
            if r["arch"] in known:
                print(f"{label}: already in the long reference as {known[r['arch']]}")
            elif len(chosen[r["arch"]]) == 1:
                lines.append((label, r["arch"], int(r["params"]), float(r["loss"]), len(df)))
    with open(args.out, "w") as f:
        f.write("# Issue 22 item 7: per sampler study, the best feasible front designs by screening loss (fronts.py;\n"
                f"# --top {args.top}), for the long real-data reference (fronts.sh). label = study variant - trial number.\n")
        for label, arch, params, loss, n in lines:
            also = [x for x in chosen[arch] if x != label]
            f.write(f"# {params:,} params, screening loss {loss:.3f}, study at {n} trials"
                    + (f"; also on the front of {', '.join(also)}" if also else "") + "\n")
            f.write(f"{label} {arch}\n")
    for label, arch, params, loss, n in lines:
        print(f"{label:<28} {params:>8,}  loss {loss:.3f}  {arch}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
