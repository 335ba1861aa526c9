"""Multi-fidelity studies: asynchronous successive halving over several objectives.

A study with ``[fidelity]`` scores every feasible design at its first rung (the protocol's
``steps``); the design then continues to the next rung only if it is among the best
``1/reduction`` of the results that rung holds so far, ranked as MO-ASHA ranks them: by
non-dominated rank on the study's objectives (the rung's PSNR/SSIM beside parameters and
Multi-Adds), crowding distance breaking ties within a rank. Each design decides alone, when it
reaches the rung, against whatever results are there (ASHA): no worker waits for a rung to fill.

Pure functions of plain numbers: the runner gathers the rung's results from the study and asks
:func:`promote`.
"""

from __future__ import annotations

import math
from typing import Sequence

from ..config import is_int
from .pareto import dominates


def nondominated_ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated sorting of ``points`` (every objective minimised): rank 0 for the points no
    other point dominates, rank 1 for those only rank-0 points dominate, and so on. Points equal on
    every objective share a rank."""
    n = len(points)
    dominated_by = [0] * n
    beaten: list[list[int]] = [[] for _ in range(n)]  # beaten[i]: the points i dominates
    for i in range(n):
        for j in range(n):
            if i != j and dominates(points[i], points[j]):
                beaten[i].append(j)
                dominated_by[j] += 1
    ranks = [0] * n
    current = [i for i in range(n) if dominated_by[i] == 0]
    rank = 0
    while current:
        nxt = []
        for i in current:
            ranks[i] = rank
            for j in beaten[i]:
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    nxt.append(j)
        current, rank = nxt, rank + 1
    return ranks


def crowding_distances(points: Sequence[Sequence[float]], ranks: Sequence[int]) -> list[float]:
    """NSGA-II's crowding distance of each point within its rank: for every objective, the gap
    between its two neighbours over the rank's range; the ends of each objective get infinity (so
    do points of a rank of one or two, and every point of an objective with no range)."""
    dist = [0.0] * len(points)
    for r in set(ranks):
        members = [i for i, k in enumerate(ranks) if k == r]
        if len(members) <= 2:
            for i in members:
                dist[i] = math.inf
            continue
        for m in range(len(points[members[0]])):
            order = sorted(members, key=lambda i: (points[i][m], i))
            lo, hi = points[order[0]][m], points[order[-1]][m]
            dist[order[0]] = dist[order[-1]] = math.inf
            if hi == lo:
                continue
            for a, i, b in zip(order, order[1:], order[2:]):
                dist[i] += (points[b][m] - points[a][m]) / (hi - lo)
    return dist


def ranking(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of ``points`` best first: by non-dominated rank, then by larger crowding distance,
    then by the objectives in the study's order (with few results every point of a front is an
    end of some objective, with infinite crowding: the first objective, PSNR in the built-in
    studies, then decides), then by index (earlier results first)."""
    ranks = nondominated_ranks(points)
    crowd = crowding_distances(points, ranks)
    return sorted(range(len(points)), key=lambda i: (ranks[i], -crowd[i], tuple(points[i]), i))


def promotion_quota(n: int, reduction: int) -> int:
    """How many of ``n`` results at a rung go on: ``n // reduction``, and at least one (so the first
    result at a rung goes on, and the rung's best always does)."""
    return max(1, n // reduction)


def promote(points: Sequence[Sequence[float]], me: int, reduction: int, exempt: Sequence[bool] | None = None) -> bool:
    """Whether result ``me`` of a rung's results ``points`` (every objective minimised; ``me``
    among them) is among the best :func:`promotion_quota` of them by :func:`ranking`.

    ``exempt`` marks results that go on anyway (the study's baselines): they rank with the others,
    so a design they dominate ranks lower, but take none of the quota, which counts and ranks
    only the other results."""
    if not 0 <= me < len(points):
        raise ValueError(f"me: expected an index into {len(points)} points, got {me}")
    if not is_int(reduction) or reduction < 2:
        raise ValueError(f"reduction: expected an integer >= 2, got {reduction!r}")
    exempt = list(exempt) if exempt is not None else [False] * len(points)
    if len(exempt) != len(points):
        raise ValueError(f"exempt: expected {len(points)} flags, got {len(exempt)}")
    if exempt[me]:
        return True
    ordered = [i for i in ranking(points) if not exempt[i]]
    return ordered.index(me) < promotion_quota(len(ordered), reduction)
