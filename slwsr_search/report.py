"""Compute, then render: a study's trials as a DataFrame, and its Pareto front (pure functions)."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd

#: Columns of :func:`trials_frame`, in order.
TRIAL_COLUMNS = ["number", "state", "params", "macs", "gmacs", "psnr", "ssim", "feasible", "trained", "baseline",
                 "duplicate_of", "arch", "hash", "train_seconds", "steps_per_s", "device", "status", "reason", "spec"]

#: Objective name -> (column, direction) for :func:`pareto_mask`.
DIRECTIONS = {"psnr": ("psnr", "maximize"), "ssim": ("ssim", "maximize"),
              "params": ("params", "minimize"), "macs": ("macs", "minimize")}


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial with the user attrs the runner records (see the README's trial attrs)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        macs = a.get("macs")
        rows.append({
            "number": t.number, "state": t.state.name, "params": a.get("params"), "macs": macs,
            "gmacs": None if macs is None else macs / 1e9, "psnr": a.get("psnr"), "ssim": a.get("ssim"),
            "feasible": a.get("feasible"), "trained": a.get("status") in ("ok", "nonfinite", "oom") and "duplicate_of" not in a,
            "baseline": a.get("baseline"), "duplicate_of": a.get("duplicate_of"), "arch": a.get("arch"),
            "hash": a.get("hash"), "train_seconds": a.get("train_seconds"), "steps_per_s": a.get("steps_per_s"),
            "device": a.get("device"), "status": a.get("status"), "reason": a.get("reason") or _fail_reason(t),
            "spec": a.get("spec"),
        })
    df = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    return df.astype({"number": int}) if len(df) else df


def _fail_reason(t: optuna.trial.FrozenTrial) -> str | None:
    if t.state == optuna.trial.TrialState.FAIL:
        return t.system_attrs.get("fail_reason")
    return None


def pareto_mask(df: pd.DataFrame, objectives: list[str]) -> pd.Series:
    """True for rows that are feasible, COMPLETE, scored, and not dominated by another such row
    in the objectives' directions (:data:`DIRECTIONS`). Duplicate rows (equal on every
    objective) are all kept."""
    ok = (df["state"] == "COMPLETE") & (df["feasible"] == True) & df["psnr"].notna()  # noqa: E712
    mask = pd.Series(False, index=df.index)
    if not ok.any():
        return mask
    cols = [DIRECTIONS[o] for o in objectives]
    # Turn every objective into 'smaller is better'.
    pts = np.column_stack([df.loc[ok, c].astype(float).to_numpy() * (-1 if d == "maximize" else 1) for c, d in cols])
    idx = df.index[ok]
    for i in range(len(pts)):
        dominated = np.any(np.all(pts <= pts[i], axis=1) & np.any(pts < pts[i], axis=1))
        mask[idx[i]] = not dominated
    return mask


def pareto_front(df: pd.DataFrame, objectives: list[str]) -> pd.DataFrame:
    """The Pareto-optimal rows, by increasing parameters."""
    return df[pareto_mask(df, objectives)].sort_values(["params", "number"])
