"""What a study's front is worth after a long training: its designs looked up in a long reference
(a fidelity-audit store, ``slwsr fidelity --reference-steps ...``), so samplers and encodings can be
compared by the quality a user would get, not by the screening score they were searched with."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from ..reporting.compute import QUALITY_COLUMNS, pareto_front, quality_objective
from .screening import reference_seeds


@dataclass(frozen=True)
class FrontQuality:
    """A study's feasible front against a long reference. ``front``: its designs that are not
    baselines; ``scored``: how many of them the reference has trained. ``pick``: the front design
    best on the study's quality objective (what a user picking under the budget takes), with its
    reference PSNR (dB; None when the reference has not trained it). ``best``: the front design with
    the best reference PSNR among those scored. ``psnr`` values are means over reference seeds."""

    front: int
    scored: int
    pick_arch: str | None
    pick_params: int | None
    pick_psnr: float | None
    best_arch: str | None
    best_params: int | None
    best_psnr: float | None


def reference_psnr(records: dict[str, dict]) -> dict[str, float]:
    """Spec hash -> mean final PSNR (dB) over a store's finished reference trainings (its seeds)."""
    return {h: statistics.fmean(by_seed.values()) for h, by_seed in reference_seeds(records).items()}


def front_quality(trials: pd.DataFrame, objectives: list[str], reference: dict[str, float]) -> FrontQuality:
    """:class:`FrontQuality` of a study's trials (:func:`~slwsr_search.reporting.compute.trials_frame`)
    against ``reference`` (:func:`reference_psnr`). ``ValueError`` when the objectives have no
    quality objective to pick by (:func:`~slwsr_search.reporting.compute.quality_objective`, the one
    the report ranks by)."""
    q = quality_objective(objectives)
    if q is None:
        raise ValueError(f"objectives {objectives}: none of them is a quality objective ({', '.join(QUALITY_COLUMNS)})")
    front = pareto_front(trials, objectives)
    front = front[front["baseline"].isna()].drop_duplicates("hash")
    if front.empty:
        return FrontQuality(0, 0, None, None, None, None, None, None)
    pick = front.sort_values([q.column, "number"], ascending=[q.direction == "minimize", True]).iloc[0]
    scored = front[front["hash"].isin(reference.keys())]
    best = scored.loc[scored["hash"].map(reference).idxmax()] if len(scored) else None
    return FrontQuality(
        front=len(front), scored=len(scored),
        pick_arch=pick["arch"], pick_params=int(pick["params"]), pick_psnr=reference.get(pick["hash"]),
        best_arch=None if best is None else best["arch"], best_params=None if best is None else int(best["params"]),
        best_psnr=None if best is None else reference[best["hash"]])
