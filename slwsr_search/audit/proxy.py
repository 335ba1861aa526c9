"""A cheap score (a proxy: a supernet's inherited-weight PSNR, parameters, ...) against a long
reference training, read from a fidelity audit's per-design CSV (``slwsr fidelity``'s
``fidelity.csv``: ``label``, ``arch``, ``params``, ``macs``, ``reference_mean`` and, along a
ladder, ``reference_at_<steps>``). For each score: Kendall's tau and Spearman's rho with bootstrap
intervals (designs resampled), the share of cost-matched pairs ordered right, top-1 regret with
its interval, and tau's paired difference to parameters alone (the same resamples for both), so
"ahead of parameters beyond noise" is a reading of one interval. Higher scores rank higher.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .horizons import top1_regret
from .stats import MIN_DESIGNS, EstimatorRow, bootstrap_interval, kendall_tau, kendall_tau_rows, matched_pairs, spearman_rho

#: The baseline every score is paired against.
BASELINE = "params"


def read_reference(path: str | Path, horizon: int | None = None) -> pd.DataFrame:
    """The designs of a fidelity CSV with their reference PSNR at ``horizon`` steps (the column
    ``reference_at_<horizon>``; None: ``reference_mean``) as ``reference``. ``ValueError`` naming
    the file and the column it lacks."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: reference CSV not found")
    table = pd.read_csv(p)
    col = "reference_mean" if horizon is None else f"reference_at_{horizon}"
    for need in ("label", "arch", "params", "macs", col):
        if need not in table:
            have = sorted(c for c in table if c.startswith("reference_at_"))
            raise ValueError(f"{p}: no column {need!r}" + (f" (horizons held: {', '.join(have)})" if have else ""))
    out = table[["label", "arch", "params", "macs"]].copy()
    out["reference"] = table[col].astype(float)
    out = out.dropna(subset=["reference"]).reset_index(drop=True)
    if len(out) < MIN_DESIGNS:
        raise ValueError(f"{p}: {len(out)} design(s) with a {col}; rank statistics need at least {MIN_DESIGNS}")
    return out


@dataclass(frozen=True)
class ProxyRow(EstimatorRow):
    """An :class:`~.stats.EstimatorRow` (``what``: the score's column) with top-1 regret and tau's
    paired difference to parameters alone, each with its interval (see the module doc)."""

    regret_db: float
    regret_interval: tuple[float, float]
    tau_minus_params: float
    tau_minus_params_interval: tuple[float, float]

    def to_dict(self) -> dict:
        return asdict(self)


def paired_tau_difference(x: Sequence[float], base: Sequence[float], ref: Sequence[float], n_boot: int = 2000,
                          level: float = 0.9, seed: int = 0) -> tuple[float, tuple[float, float]]:
    """``tau(x, ref) - tau(base, ref)`` and its percentile bootstrap interval, both taus computed on
    the same resample of designs each time (resamples where either is undefined left out)."""
    a, b, r = (np.asarray(v, dtype=float) for v in (x, base, ref))
    idx = np.random.default_rng(seed).integers(0, len(r), (n_boot, len(r)))
    d = kendall_tau_rows(a[idx], r[idx]) - kendall_tau_rows(b[idx], r[idx])
    d = d[~np.isnan(d)]
    point = kendall_tau(a, r) - kendall_tau(b, r)
    if not len(d):
        return point, (math.nan, math.nan)
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return point, (float(lo), float(hi))


def proxy_rows(table: pd.DataFrame, scores: Sequence[str], tolerance: float = 0.15, level: float = 0.9,
               n_boot: int = 2000, seed: int = 0) -> list[ProxyRow]:
    """A :class:`ProxyRow` for each column of ``scores`` in ``table`` (which holds ``reference``
    and ``params``), parameters alone among them. Deterministic per ``seed``."""
    ref, params = table["reference"].to_numpy(float), table["params"].to_numpy(float)
    rows = []
    for name in [BASELINE, *(s for s in scores if s != BASELINE)]:
        x = table[name].to_numpy(float)
        right, pairs = matched_pairs(x, ref, params, tolerance)
        diff, diff_iv = paired_tau_difference(x, params, ref, n_boot, level, seed)
        rows.append(ProxyRow(name, name, kendall_tau(x, ref), bootstrap_interval(x, ref, kendall_tau, n_boot, level, seed),
                             spearman_rho(x, ref), bootstrap_interval(x, ref, spearman_rho, n_boot, level, seed),
                             right, pairs, top1_regret(x, ref), bootstrap_interval(x, ref, top1_regret, n_boot, level, seed),
                             diff, diff_iv))
    return rows
