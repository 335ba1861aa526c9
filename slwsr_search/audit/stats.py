"""Fidelity: how well a cheap score ranks designs the way a reference training ranks them.

Rank statistics (Kendall's tau-b, Spearman's rho, bootstrap intervals, cost-matched pair accuracy)
and :func:`summarize`, which turns an audit's trainings (:mod:`.trainings`, kept in :mod:`.store`) into the table the report
draws: for each candidate estimator, its agreement with the reference ranking.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..config import is_int
from ..training.outcomes import OK
from .store import REFERENCE, SCREEN

# ----- rank statistics ------------------------------------------------------------------------------


def _check_pair(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"scores: expected two equally long lists, got {a.shape} and {b.shape}")
    return a, b


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two score lists (ties counted as in scipy's default); NaN below 2 items
    or when either list is constant."""
    a, b = _check_pair(x, y)
    i, j = np.triu_indices(len(a), k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    n_a, n_b = np.count_nonzero(da), np.count_nonzero(db)
    if n_a == 0 or n_b == 0:
        return math.nan
    return float(np.sum(da * db) / math.sqrt(n_a * n_b))


def _ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = np.argsort(a, kind="stable")
    ranks = np.empty(len(a))
    ranks[order] = np.arange(1, len(a) + 1)
    for v in np.unique(a):
        tied = a == v
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the average ranks; NaN when undefined."""
    a, b = _check_pair(x, y)
    if len(a) < 2:
        return math.nan
    ra, rb = _ranks(a), _ranks(b)
    sa, sb = ra.std(), rb.std()
    if sa == 0 or sb == 0:
        return math.nan
    return float(np.mean((ra - ra.mean()) * (rb - rb.mean())) / (sa * sb))


def kendall_tau_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`kendall_tau` of each row pair of two (resamples x designs) arrays at once."""
    i, j = np.triu_indices(a.shape[1], k=1)
    da, db = np.sign(a[:, i] - a[:, j]), np.sign(b[:, i] - b[:, j])
    n_a, n_b = np.count_nonzero(da, axis=1), np.count_nonzero(db, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_a == 0) | (n_b == 0), np.nan, np.sum(da * db, axis=1) / np.sqrt(n_a * n_b))


def _rank_rows(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along each row, ties sharing the mean of their positions."""
    below = (a[:, :, None] > a[:, None, :]).sum(axis=2)
    tied = (a[:, :, None] == a[:, None, :]).sum(axis=2)
    return below + (tied + 1) / 2


def spearman_rho_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`spearman_rho` of each row pair of two (resamples x designs) arrays at once."""
    ra, rb = _rank_rows(a), _rank_rows(b)
    ra, rb = ra - ra.mean(axis=1, keepdims=True), rb - rb.mean(axis=1, keepdims=True)
    sa, sb = np.sqrt((ra ** 2).mean(axis=1)), np.sqrt((rb ** 2).mean(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((sa == 0) | (sb == 0), np.nan, (ra * rb).mean(axis=1) / (sa * sb))


#: Statistics the bootstrap computes over all resamples at once (the plain one -> its row form).
ROW_FORMS: dict[Callable, Callable] = {kendall_tau: kendall_tau_rows, spearman_rho: spearman_rho_rows}


def bootstrap_interval(x: Sequence[float], y: Sequence[float], stat: Callable[[np.ndarray, np.ndarray], float],
                       n_boot: int = 2000, level: float = 0.9, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(x, y)``, resampling the designs (pairs) with
    replacement; resamples where the statistic is undefined are left out. Deterministic per seed.
    A statistic with a row form (:data:`ROW_FORMS`) is computed over every resample at once."""
    a, b = _check_pair(x, y)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n_boot, len(a)))
    rows = ROW_FORMS.get(stat)
    values = rows(a[idx], b[idx]) if rows else np.array([stat(a[k], b[k]) for k in idx], dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return math.nan, math.nan
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def matched_pairs(score: Sequence[float], reference: Sequence[float], params: Sequence[float],
                  tolerance: float = 0.15) -> tuple[int, int]:
    """``(correctly ordered, all)`` pairs of designs whose parameters are within ``tolerance`` of
    each other (relative to the larger): where capacity carries no information, does the score
    order the pair as the reference does? Pairs tied in either are not counted."""
    s, r = _check_pair(score, reference)
    p = np.asarray(params, dtype=float)
    right = total = 0
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            if abs(p[i] - p[j]) > tolerance * max(p[i], p[j]) or s[i] == s[j] or r[i] == r[j]:
                continue
            total += 1
            right += int((s[i] > s[j]) == (r[i] > r[j]))
    return right, total




# ----- scoring an audit -------------------------------------------------------------------------------

#: Below this many designs with complete results, rank statistics are not computed.
MIN_DESIGNS = 4


@dataclass(frozen=True)
class EstimatorRow:
    """One candidate score's agreement with the reference PSNR over the audited designs: tau and
    rho with bootstrap intervals (``level``), and correctly ordered cost-matched pairs."""

    name: str
    what: str
    tau: float
    tau_interval: tuple[float, float]
    rho: float
    rho_interval: tuple[float, float]
    pairs_right: int
    pairs: int

    @property
    def pair_share(self) -> float:
        return self.pairs_right / self.pairs if self.pairs else math.nan


@dataclass
class AuditSummary:
    """What an audit measured. ``designs``: one row per design (screening PSNR per seed, their
    mean, std, min and max; the loss estimators; reference PSNR per seed and mean) for the
    designs with every training done. ``estimators``: one :class:`EstimatorRow` per candidate.
    ``reference_noise``: |difference| between the two reference seeds, per repeated design.
    ``reference_spread``: std of the reference PSNR across designs (what the ranking resolves)."""

    designs: pd.DataFrame
    estimators: list[EstimatorRow]
    reference_noise: list[float]
    reference_spread: float
    screen_seeds: int
    tolerance: float
    level: float
    missing: int


def design_table(records: dict[str, dict], screen_seeds: int) -> tuple[pd.DataFrame, int]:
    """Per-design rows from an audit's stored trainings; ``(table, designs left out)``: a design
    (by spec hash: audits may label one design differently) enters only with every screening seed
    and at least one reference training finished ``ok``."""
    by_design: dict[str, dict] = {}
    for rec in records.values():
        d = by_design.setdefault(rec["hash"], {"label": rec["label"], "arch": rec["arch"], "params": rec["params"],
                                               "macs": rec["macs"], SCREEN: {}, REFERENCE: {}})
        d[rec["role"]][rec["seed"]] = rec
    rows, missing = [], 0
    for h, d in by_design.items():
        screen = [d[SCREEN].get(s) for s in range(screen_seeds)]
        refs = [r for _, r in sorted(d[REFERENCE].items()) if r["status"] == OK]
        if any(r is None or r["status"] != OK for r in screen) or not refs:
            missing += 1
            continue
        psnrs = np.array([r["psnr"] for r in screen])
        row = {"label": d["label"], "hash": h, "params": d["params"], "macs": d["macs"]}
        row.update({f"screen_psnr_{s}": p for s, p in enumerate(psnrs)})
        row.update({"screen_mean": psnrs.mean(), "screen_std": psnrs.std(ddof=1) if len(psnrs) > 1 else math.nan,
                    "screen_min": psnrs.min(), "screen_max": psnrs.max(),
                    "loss_tail": float(np.mean([r["loss_tail"] for r in screen])),
                    "loss_mean": float(np.mean([r["loss_mean"] for r in screen]))})
        if all(len(r.get("rung_psnr") or []) > 1 for r in screen):  # a screening with rungs: its first rung too
            row["rung0_mean"] = float(np.mean([r["rung_psnr"][0] for r in screen]))
        row.update({f"reference_psnr_{r['seed']}": r["psnr"] for r in refs})
        row.update({"reference_mean": float(np.mean([r["psnr"] for r in refs])), "arch": d["arch"]})
        rows.append(row)
    table = pd.DataFrame(rows)
    return (table.sort_values("params").reset_index(drop=True) if len(table) else table), missing


def estimators(screen_seeds: int, rungs: bool = False) -> list[tuple[str, str, Callable[[pd.DataFrame], pd.Series]]]:
    """The candidate scores: ``(name, what, higher-is-better score of a design table)``; with
    ``rungs``, the screening PSNR is the top rung's and the first rung's seed mean is one more."""
    out = [(f"psnr_seed{s}", f"screening PSNR, seed {s} alone", (lambda t, s=s: t[f"screen_psnr_{s}"]))
           for s in range(screen_seeds)]
    if rungs:
        out += [("rung0_mean", f"first-rung PSNR, mean of {screen_seeds} seeds", lambda t: t["rung0_mean"])]
    out += [("psnr_mean", f"screening PSNR, mean of {screen_seeds} seeds", lambda t: t["screen_mean"]),
            ("loss_tail", "minus the mean training loss over the last quarter of the steps (seed mean)",
             lambda t: -t["loss_tail"]),
            ("loss_mean", "minus the mean training loss over every step (sum of training losses; seed mean)",
             lambda t: -t["loss_mean"]),
            ("params", "parameters (no training)", lambda t: t["params"].astype(float)),
            ("macs", "Multi-Adds (no training)", lambda t: t["macs"].astype(float))]
    return out


def summarize(records: dict[str, dict], screen_seeds: int, tolerance: float = 0.15, level: float = 0.9,
              n_boot: int = 2000) -> AuditSummary:
    """Score every candidate estimator against the reference PSNR on the audited designs."""
    table, missing = design_table(records, screen_seeds)
    rows: list[EstimatorRow] = []
    if len(table) >= MIN_DESIGNS:
        ref = table["reference_mean"].to_numpy()
        rungs = "rung0_mean" in table and table["rung0_mean"].notna().all()
        for name, what, score in estimators(screen_seeds, rungs):
            x = score(table).to_numpy(dtype=float)
            right, pairs = matched_pairs(x, ref, table["params"], tolerance)
            rows.append(EstimatorRow(name, what, kendall_tau(x, ref), bootstrap_interval(x, ref, kendall_tau, n_boot, level),
                                     spearman_rho(x, ref), bootstrap_interval(x, ref, spearman_rho, n_boot, level),
                                     right, pairs))
    noise = []
    if len(table) and "reference_psnr_1" in table:
        both = table.dropna(subset=["reference_psnr_0", "reference_psnr_1"])
        noise = list((both["reference_psnr_0"] - both["reference_psnr_1"]).abs())
    spread = float(table["reference_mean"].std(ddof=1)) if len(table) > 1 else math.nan
    return AuditSummary(table, rows, noise, spread, screen_seeds, tolerance, level, missing)


# ----- an audit beside a study's report -------------------------------------------------------------


def screening_signature(protocol: dict, data: Sequence[str], scale: int | None = None) -> dict:
    """What makes an audit's screening the study's: the protocol without its seed (each trial
    trains with its own), the data sources and the ``scale`` (left out when None: files written
    before the signature held it name it in their designs, :func:`audit_scale`)."""
    sig = {"protocol": {k: v for k, v in protocol.items() if k != "seed"}, "data": list(data)}
    return sig if scale is None else {**sig, "scale": scale}


#: The scale at the start of a design's arch string (``x4-n16-...``: :attr:`ArchSpec.arch`).
_ARCH_SCALE = re.compile(r"x(\d+)-")


def audit_scale(audit: dict) -> int | None:
    """The scale an audit's screening trained at: its signature's, else the one every design's
    arch string names (a file written before the signature held the scale, such as the shipped
    ``budget150k.fidelity.json``: x4); None when it names none, or several."""
    sig = audit.get("screening_signature")
    if isinstance(sig, dict) and "scale" in sig:
        return sig["scale"] if is_int(sig["scale"]) else None
    named = set()
    for d in audit.get("designs") or []:
        m = _ARCH_SCALE.match(d.get("arch", "")) if isinstance(d, dict) and isinstance(d.get("arch"), str) else None
        named.add(int(m.group(1)) if m else None)
    return named.pop() if len(named) == 1 else None


def read_audit(path: str | Path) -> dict | None:
    """A ``fidelity.json`` written by ``slwsr fidelity``, or None when there is none; an unreadable
    one is a ``ValueError`` naming the file."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{p}: cannot read the fidelity audit ({e})") from None


def read_first_audit(paths: Sequence[str | Path]) -> dict | None:
    """The first of ``paths`` that holds a ``fidelity.json`` (:func:`read_audit`), or None."""
    for p in paths:
        audit = read_audit(p)
        if audit is not None:
            return audit
    return None


def audit_for(study_protocol: dict | None, study_data: Sequence[str] | None, audit: dict | None,
              scale: int | None = None) -> dict | None:
    """``audit`` (a ``fidelity.json``) when its screening is the study's, else None: the same
    protocol (without the seed) and data, and, given the study's ``scale``, the same scale
    (:func:`audit_scale`; an audit that records no scale and names no design is not refused on it)."""
    if audit is None or study_protocol is None or study_data is None:
        return None
    sig = audit.get("screening_signature")
    if not isinstance(sig, dict) or {k: v for k, v in sig.items() if k != "scale"} != screening_signature(
            study_protocol, study_data):
        return None
    if scale is not None and "scale" not in sig and not audit.get("designs"):
        return audit  # nothing in the file says its scale
    if scale is not None and audit_scale(audit) != scale:
        return None
    return audit
