"""Dominance, once: the Pareto front of a study's report, the multi-fidelity promotion rule's
non-dominated sorting and the runner's view of a result all turn objectives into 'smaller is
better' with :func:`minimised` and compare with :func:`dominates`. Plain numbers; no torch."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .objectives import Objective


def minimised(values, objectives: Sequence[Objective]) -> np.ndarray:
    """``values`` (one result's objective values, shape (d,), or many results', (n, d), in the
    order of ``objectives``) with each objective turned into 'smaller is better' (its sign)."""
    return np.asarray(values, dtype=float) * np.array([o.sign for o in objectives], dtype=float)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether ``a`` dominates ``b`` (every objective minimised): no worse in any, better in one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def nondominated(points: Sequence[Sequence[float]]) -> list[bool]:
    """For each of ``points`` (every objective minimised), whether no other point dominates it;
    points equal on every objective are all kept. :func:`dominates` over every pair, vectorised
    (a report of thousands of trials stays quick)."""
    pts = np.asarray(points, dtype=float)
    if pts.size == 0:
        return []
    pts = pts.reshape(len(pts), -1)
    return [not np.any(np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)) for p in pts]
