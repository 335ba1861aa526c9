"""The block mix a search space's encoding draws: residual blocks per design over seeded draws,
and within a study's budget (what a random sampler, and NSGA-II's first generation, compare)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from ..model.spec import ArchSpec
from ..search.space import SearchSpace, draw_specs
from ..search.study import StudyConfig


@dataclass(frozen=True)
class BlockMix:
    """Residual blocks per drawn design: mean, median, the share with at least ``min_res``; with a
    study, how many draws fit its budget and the share of those with at least ``min_res``."""

    space: str
    encoding: str
    draws: int
    min_res: int
    mean: float
    median: float
    share_at_least: float
    feasible: int | None = None
    feasible_share_at_least: float | None = None


@dataclass(frozen=True)
class SampledMix:
    """The block mix of the distinct designs a study's sampler drew (baselines and reruns left
    out, infeasible ones kept: the sampler proposed them): how many, the mean number of residual
    blocks, the share with at least ``min_res``, the share within the study's budget."""

    designs: int
    mean: float
    share_at_least: float
    share_feasible: float


def sampled_mix(trials: pd.DataFrame, min_res: int) -> SampledMix:
    """:class:`SampledMix` of a study's trials (:func:`~slwsr_search.reporting.compute.trials_frame`)."""
    drawn = trials[trials["arch"].notna() & trials["baseline"].isna()
                   & trials["retry_of"].isna()].drop_duplicates("arch")
    counts = [ArchSpec.from_arch(a).n_res for a in drawn["arch"]]
    if not counts:
        return SampledMix(0, float("nan"), float("nan"), float("nan"))
    return SampledMix(len(counts), statistics.fmean(counts), sum(c >= min_res for c in counts) / len(counts),
                      float(drawn["feasible"].fillna(False).astype(bool).mean()))


def block_mix(space: str, draws: int, seed: int, min_res: int, study: StudyConfig | None = None) -> BlockMix:
    """Draw ``draws`` specs (seeded; repeats allowed: the sampler's prior, not distinct designs)."""
    sp = SearchSpace.load(space)
    specs = draw_specs(sp, draws, seed, seen=(), max_tries=draws, distinct=False)
    counts = [s.n_res for s in specs]
    mix = BlockMix(sp.name, sp.encoding, len(specs), min_res, statistics.fmean(counts), statistics.median(counts),
                   sum(c >= min_res for c in counts) / len(counts))
    if study is None:
        return mix
    fits = [c for s, c in zip(specs, counts) if study.fits(study.price(s))]
    share = sum(c >= min_res for c in fits) / len(fits) if fits else float("nan")
    return BlockMix(**{**mix.__dict__, "feasible": len(fits), "feasible_share_at_least": share})
