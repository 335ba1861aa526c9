"""Screening settings side by side, against one reference: which protocol and which score rank
designs most like the reference does, and at what cost.

Each screening is the screening trainings of a fidelity-audit store (``slwsr fidelity --store``),
one store per setting; the reference is the reference trainings of one store (say, one trained on a
GPU on real data). Trainings are matched by design hash and seed; a store holding several settings
is narrowed with the settings key its records carry. Every screening is scored on the designs it
shares with the reference, and again on the designs every screening has (``common``), so settings
are compared on the same designs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ..audit.store import REFERENCE, read_store
from ..audit.stats import design_table, summarize
from ..training.outcomes import OK


def load_role(path: str | Path, role: str, settings: str | None = None) -> dict[str, dict]:
    """The stored trainings of ``role`` in an audit store, by job key; ``settings`` picks one
    settings key where the file holds several (``ValueError`` lists them otherwise)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such audit store")
    recs = [r for r in read_store(p) if r.get("role") == role]
    keys = Counter(r.get("settings") for r in recs)
    if settings is None and len(keys) > 1:
        listed = ", ".join(f"{k} ({v} trainings, {_what(recs, k)})" for k, v in keys.items())
        raise ValueError(f"{p}: {role} trainings of {len(keys)} settings ({listed}): name one as FILE@KEY")
    if settings is not None and settings not in keys:
        raise ValueError(f"{p}: no {role} training with settings {settings!r}; found {', '.join(map(str, keys)) or 'none'}")
    return {r["key"]: r for r in recs if settings is None or r.get("settings") == settings}


def _what(recs: list[dict], key: str) -> str:
    steps = sorted({r.get("steps") for r in recs if r.get("settings") == key})
    return f"{'/'.join(map(str, steps))} steps"


def compare(reference: dict[str, dict], screenings: dict[str, dict[str, dict]], seeds: int = 2,
            tolerance: float = 0.15, n_boot: int = 2000) -> pd.DataFrame:
    """One row per (screening, designs scored on, estimator): Kendall tau and Spearman rho against
    the reference's mean PSNR with 90% bootstrap intervals, and cost-matched pairs ordered right
    (a setting's cost is timed apart: these trainings ran on different machines and loads). ``designs`` is ``own`` (every design the screening shares with the reference) or ``common``
    (the designs every screening shares with it)."""
    owned = {}
    for name, recs in screenings.items():
        table, _ = design_table({**recs, **reference}, seeds)
        owned[name] = set(table["hash"]) if len(table) else set()  # by spec hash: stores may label a design apart
    common = set.intersection(*owned.values()) if owned else set()
    rows = []
    for name, recs in screenings.items():
        for scope, hashes in (("own", owned[name]), ("common", common)):
            keep = {k: r for k, r in {**recs, **reference}.items() if r["hash"] in hashes}
            s = summarize(keep, seeds, tolerance, n_boot=n_boot)
            for e in s.estimators:
                rows.append({"screening": name, "designs": scope, "n": len(s.designs), "estimator": e.name,
                             "tau": e.tau, "tau_lo": e.tau_interval[0], "tau_hi": e.tau_interval[1], "rho": e.rho,
                             "rho_lo": e.rho_interval[0], "rho_hi": e.rho_interval[1], "pairs_right": e.pairs_right,
                             "pairs": e.pairs, "pair_share": e.pair_share})
    return pd.DataFrame(rows)


def reference_seeds(reference: dict[str, dict]) -> dict[str, dict[int, float]]:
    """Spec hash -> seed -> final PSNR (dB) of a store's finished (``ok``) reference trainings."""
    by: dict[str, dict[int, float]] = {}
    for r in reference.values():
        if r["role"] == REFERENCE and r["status"] == OK:
            by.setdefault(r["hash"], {})[r["seed"]] = r["psnr"]
    return by


def reference_noise(reference: dict[str, dict]) -> dict[str, float]:
    """The reference's own noise (|seed 0 - seed 1| per design with both) beside its spread across
    designs (std of the per-design mean), in dB."""
    by = reference_seeds(reference)
    diffs = [abs(v[0] - v[1]) for v in by.values() if 0 in v and 1 in v]
    means = [float(np.mean(list(v.values()))) for v in by.values()]
    return {"designs": len(by), "pairs": len(diffs), "seed_diff_median_db": float(np.median(diffs)) if diffs else np.nan,
            "seed_diff_max_db": float(max(diffs)) if diffs else np.nan,
            "design_std_db": float(np.std(means, ddof=1)) if len(means) > 1 else np.nan,
            "design_range_db": float(max(means) - min(means)) if means else np.nan}

