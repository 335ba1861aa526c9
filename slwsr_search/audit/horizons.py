"""The ranking at every horizon: how each estimator agrees with a long reference scored along a ladder.

A long reference training records its validation PSNR at a ladder of steps (its ``curve``,
:mod:`.trainings`). Read at each rung, the reference is a ranking of the designs at that training
length; this module scores every candidate estimator (:func:`.stats.estimators`, plus the scores
fitted leave-one-out, :func:`loo_scores`) against each of them: Kendall tau and Spearman rho with
bootstrap intervals, cost-matched pairs and the top-1 regret, and finds the design pairs whose
order flips between the shortest and the longest rung (crossovers). numpy and pandas only.

Every horizon is a point on one schedule: the reference at 2,000 of 5,000 steps has not annealed
its learning rate as a 2,000-step training would have (cosine to 0), so it is the ranking
*along* one long training, which is what moves when training is longer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..model.spec import ArchSpec
from ..training.outcomes import OK
from .stats import (MIN_DESIGNS, ROW_FORMS, EstimatorRow, bootstrap_interval, design_table, estimators, kendall_tau, matched_pairs,
                    spearman_rho)
from .store import REFERENCE, SCREEN


def reference_curves(records: dict[str, dict]) -> pd.DataFrame:
    """One row per (design, reference seed, step): ``hash``, ``label``, ``seed``, ``step``,
    ``psnr``, ``ssim``, ``loss`` (mean training loss since the rung before; None for a reference
    scored at its end only, whose one row is its end). Finished (``ok``) references only."""
    rows = []
    for rec in records.values():
        if rec.get("role") != REFERENCE or rec.get("status") != OK:
            continue
        curve = rec.get("curve") or [{"step": rec["steps"], "psnr": rec["psnr"], "ssim": rec["ssim"], "loss": None}]
        rows += [{"hash": rec["hash"], "label": rec["label"], "seed": rec["seed"], "step": c["step"], "psnr": c["psnr"],
                  "ssim": c["ssim"], "loss": c.get("loss")} for c in curve]
    return pd.DataFrame(rows, columns=["hash", "label", "seed", "step", "psnr", "ssim", "loss"])


def top1_regret(score: np.ndarray, reference: np.ndarray) -> float:
    """The reference PSNR given up (dB, >= 0) by taking the design the score ranks first instead
    of the reference's best (ties in the score: the first of them)."""
    s, r = np.asarray(score, dtype=float), np.asarray(reference, dtype=float)
    if len(s) == 0:
        return math.nan
    return float(r.max() - r[int(np.argmax(s))])


def top1_regret_rows(score: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """:func:`top1_regret` of each row pair of two (resamples x designs) arrays at once."""
    pick = np.argmax(score, axis=1)
    return reference.max(axis=1) - reference[np.arange(len(reference)), pick]


ROW_FORMS[top1_regret] = top1_regret_rows


@dataclass(frozen=True)
class HorizonRow(EstimatorRow):
    """An :class:`~.stats.EstimatorRow` against the reference at one rung (``horizon`` steps),
    with the top-1 regret (dB) and its bootstrap interval."""

    horizon: int
    regret: float
    regret_interval: tuple[float, float]


@dataclass(frozen=True)
class Crossover:
    """Two designs the reference orders one way at the shortest rung and the other at the longest:
    ``ahead_early`` led at ``horizons[0]``, ``ahead_late`` leads at the last; ``flips`` are the rungs
    at which the order changed (from the rung before); margins in dB (positive: the leader's)."""

    ahead_early: str
    ahead_late: str
    flips: tuple[int, ...]
    margin_early: float
    margin_late: float


@dataclass
class HorizonSummary:
    """The ranking at every rung: ``horizons`` (steps), ``rows`` (every estimator at every rung),
    ``reference`` (designs x horizons: seed-mean PSNR), ``noise`` (per rung, the |difference|
    between two reference seeds of each repeated design, dB), ``spread`` (per rung, the PSNR's
    std across designs, dB), ``crossovers``, the estimators' ``names`` in table order, and
    ``retest`` (per rung, :func:`retest_tau`: how far the reference agrees with a rerun of itself;
    NaN without a second seed)."""

    horizons: list[int]
    rows: list[HorizonRow]
    reference: pd.DataFrame
    noise: dict[int, list[float]]
    spread: dict[int, float]
    crossovers: list[Crossover]
    names: list[str] = field(default_factory=list)
    retest: dict[int, float] = field(default_factory=dict)

    def at(self, horizon: int) -> list[HorizonRow]:
        return [r for r in self.rows if r.horizon == horizon]


def retest_tau(reference: np.ndarray, seed_diffs: list[float], draws: int = 2000, seed: int = 0) -> float:
    """The Kendall tau at which the reference would agree with a rerun of itself on other seeds:
    the mean tau between two copies of ``reference`` (PSNR per design, dB), each plus independent
    Gaussian seed noise. The noise's sigma comes from ``seed_diffs`` (|seed 0 - seed 1| of the
    designs trained twice; sigma = their root mean square / sqrt 2), and the observed PSNRs stand in
    for the noise-free ones. No estimator can be expected to agree with the reference much beyond
    this. NaN without ``seed_diffs`` or below two designs."""
    if not seed_diffs or len(reference) < 2:
        return float("nan")
    sigma = math.sqrt(float(np.mean(np.square(seed_diffs))) / 2)
    rng = np.random.default_rng(seed)
    a = reference + rng.normal(0, sigma, (draws, len(reference)))
    b = reference + rng.normal(0, sigma, (draws, len(reference)))
    return float(np.nanmean([kendall_tau(x, y) for x, y in zip(a, b)]))


def loo_scores(table: pd.DataFrame, reference: np.ndarray, columns: list[str]) -> np.ndarray:
    """Each design's reference PSNR predicted by a least-squares line on ``columns`` of the design
    table (plus a constant), fitted on the *other* designs (leave-one-out): a fitted score whose
    every prediction is for a design the fit never saw."""
    x = np.column_stack([np.ones(len(table))] + [table[c].to_numpy(dtype=float) for c in columns])
    out = np.empty(len(table))
    for i in range(len(table)):
        keep = np.arange(len(table)) != i
        coef, *_ = np.linalg.lstsq(x[keep], reference[keep], rcond=None)
        out[i] = x[i] @ coef
    return out


#: Scores fitted leave-one-out (:func:`loo_scores`): name, what, the design-table columns.
FITTED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("loss+logparams_loo", "the loss and log parameters, a line fitted leave-one-out", ("loss_tail", "log_params")),
    ("loss+blockmix_loo", "the loss and the share of residual blocks, a line fitted leave-one-out",
     ("loss_tail", "res_share")),
)


#: The loss curve over the screening's rungs, extrapolated to the horizon (:func:`extrapolated_loss`).
EXTRAPOLATED = ("loss_extrap", "minus the screening's loss curve over its rungs, extrapolated (linear in log steps) "
                               "to the horizon")


def extrapolated_loss(rung_loss: np.ndarray, rung_steps: list[int], horizon: int) -> np.ndarray:
    """Each design's training loss at ``horizon`` steps, extrapolated from its mean loss over each
    screening rung (``rung_loss``: designs x rungs; rung k spans steps ``rung_steps[k-1]`` to
    ``rung_steps[k]``, placed at its geometric middle) by a line in log steps through the last two."""
    bounds = [0] + list(rung_steps)
    mids = np.log([max(1.0, math.sqrt(max(a, 1) * b)) for a, b in zip(bounds, bounds[1:])])
    l1, l2 = rung_loss[:, -2], rung_loss[:, -1]
    return l2 + (l2 - l1) * (math.log(horizon) - mids[-1]) / (mids[-1] - mids[-2])


def _design_scores(table: pd.DataFrame, screen_seeds: int, extrapolate: bool) -> dict[str, tuple[str, np.ndarray | None]]:
    """Each plain estimator's score per design (None for those that depend on the horizon: the
    fitted ones and the extrapolated loss)."""
    rungs = "rung0_mean" in table and table["rung0_mean"].notna().all()
    out: dict[str, tuple[str, np.ndarray | None]] = {
        name: (what, score(table).to_numpy(dtype=float)) for name, what, score in estimators(screen_seeds, rungs)}
    if extrapolate:
        out[EXTRAPOLATED[0]] = (EXTRAPOLATED[1], None)
    out.update({name: (what, None) for name, what, _ in FITTED})
    return out


def _reference_at(curves: pd.DataFrame, table: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """Designs (the table's order) x the rungs every one of them reached: seed-mean PSNR."""
    c = curves[curves["hash"].isin(table["hash"])]
    mean = c.groupby(["hash", "step"])["psnr"].mean().unstack("step")
    steps = [int(s) for s in mean.columns if mean[s].notna().all()]
    ref = mean.loc[table["hash"], steps]
    ref.index = table["label"]
    return ref, steps


def horizon_summary(records: dict[str, dict], screen_seeds: int, tolerance: float = 0.15, level: float = 0.9,
                    n_boot: int = 2000, rung_steps: list[int] | None = None) -> HorizonSummary | None:
    """Every estimator against the reference at every rung all complete designs reached; None
    below :data:`~.stats.MIN_DESIGNS` designs. ``rung_steps``: the steps at which the screening's
    rungs end (a screening with two or more rungs; it adds the extrapolated loss)."""
    table, _ = design_table(records, screen_seeds)
    if len(table) < MIN_DESIGNS:
        return None
    table, rung_loss = _with_features(table, records, screen_seeds)
    curves = reference_curves(records)
    ref, steps = _reference_at(curves, table)
    extrapolate = rung_steps is not None and len(rung_steps) > 1 and rung_loss is not None
    scores = _design_scores(table, screen_seeds, extrapolate)
    fitted = {n: list(c) for n, _, c in FITTED}
    rows = []
    for h in steps:
        r = ref[h].to_numpy(dtype=float)
        for name, (_, x) in scores.items():
            if name == EXTRAPOLATED[0]:
                x = -extrapolated_loss(rung_loss, rung_steps, h)
            elif x is None:
                x = loo_scores(table, r, fitted[name])
            rows.append(_row(h, name, scores[name][0], x, r, table["params"], tolerance, level, n_boot))
    noise, spread = _noise(curves, table, steps), {h: float(ref[h].std(ddof=1)) for h in steps}
    retest = {h: retest_tau(ref[h].to_numpy(dtype=float), noise[h]) for h in steps}
    return HorizonSummary(steps, rows, ref, noise, spread, crossovers(ref), list(scores), retest)


def _with_features(table: pd.DataFrame, records: dict[str, dict],
                   screen_seeds: int) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The design table with its spec hash, log parameters and share of residual blocks; and the
    screening's seed-mean loss per rung (designs x rungs; None without rungs)."""
    t = table.copy()
    t["log_params"] = np.log(t["params"].astype(float))
    t["res_share"] = [_res_share(a) for a in t["arch"]]
    screens = {(r["hash"], r["seed"]): r for r in records.values() if r.get("role") == SCREEN}
    losses = [[screens[(h, s)].get("rung_loss") for s in range(screen_seeds)] for h in t["hash"]]
    if not all(all(l and len(l) > 1 for l in per) for per in losses):
        return t, None
    return t, np.array([np.mean(per, axis=0) for per in losses])


def _res_share(arch: str) -> float:
    """The share of the 26 slots that hold a plain residual block."""
    spec = ArchSpec.from_arch(arch)
    return spec.n_res / len(spec.blocks)


def _row(h: int, name: str, what: str, x: np.ndarray, r: np.ndarray, params, tolerance: float, level: float,
         n_boot: int) -> HorizonRow:
    right, pairs = matched_pairs(x, r, params, tolerance)
    return HorizonRow(name, what, kendall_tau(x, r), bootstrap_interval(x, r, kendall_tau, n_boot, level),
                      spearman_rho(x, r), bootstrap_interval(x, r, spearman_rho, n_boot, level), right, pairs,
                      h, top1_regret(x, r), bootstrap_interval(x, r, top1_regret, n_boot, level))


def _noise(curves: pd.DataFrame, table: pd.DataFrame, steps: list[int]) -> dict[int, list[float]]:
    """Per rung, |seed 0 - seed 1| of each design trained with two reference seeds (dB)."""
    c = curves[curves["hash"].isin(table["hash"])]
    out: dict[int, list[float]] = {}
    for h in steps:
        at = c[c["step"] == h].set_index(["hash", "seed"])["psnr"]
        out[h] = [float(abs(at[(k, 0)] - at[(k, 1)])) for k in table["hash"] if (k, 0) in at.index and (k, 1) in at.index]
    return out


def crossovers(reference: pd.DataFrame) -> list[Crossover]:
    """Design pairs ordered one way at the first rung (column) and the other at the last, from a
    designs x rungs table of reference PSNR; the largest late margin first."""
    labels, values = list(reference.index), reference.to_numpy(dtype=float)
    steps = [int(s) for s in reference.columns]
    out = []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            d = values[i] - values[j]
            if d[0] == 0 or d[-1] == 0 or np.sign(d[0]) == np.sign(d[-1]):
                continue
            early, late = (i, j) if d[0] > 0 else (j, i)
            signs = np.sign(d)
            flips = tuple(steps[k] for k in range(1, len(d)) if signs[k] != signs[k - 1])
            out.append(Crossover(labels[early], labels[late], flips, float(abs(d[0])), float(abs(d[-1]))))
    return sorted(out, key=lambda c: -c.margin_late)
