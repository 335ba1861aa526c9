"""Compute, then render: a study's trials as a DataFrame, split the way the report draws them.

:func:`build_report` returns a :class:`Report` already split into the Pareto front, the dominated
trials, the over-budget (priced only) trials, the failed trainings and the paper's designs trained
in the study; :mod:`.render` only draws it (HTML, Markdown, terminal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import optuna
import pandas as pd

from ..model.latency_table import MachineIdentity
from ..model.published import SETS, TABLE_II
from ..audit.stats import audit_for
from ..search.objectives import BY_COLUMN, COST, OBJECTIVES, QUALITY, Objective, chart_order, get_objectives, of_kind
from ..search.pareto import minimised, nondominated
from ..search.record import SCREENED, StudyRecord, TrialRecord

#: The objectives' columns with their companions, costs first, then qualities (the objective table's order).
_OBJECTIVE_COLUMNS = [c for kind in (COST, QUALITY) for o in of_kind(kind) for c in (o.column, *o.companions)]
#: Columns of :func:`trials_frame`, in order.
TRIAL_COLUMNS = ["number", "state", *_OBJECTIVE_COLUMNS, "feasible", "trained", "baseline",
                 "duplicate_of", "retry_of", "arch", "hash", "train_seed", "train_seconds", "steps_per_s", "device", "worker",
                 "status", "reason", "spec", "rung", "rung_psnr", "screen_psnr", "seeds", "psnr_min", "psnr_max"]
#: Columns of the exported ``trials.csv`` and ``pareto.csv`` (Multi-Adds in G is the frame's, for charts).
CSV_COLUMNS = ["number", "state", *[c for c in _OBJECTIVE_COLUMNS if c != "gmacs"], "feasible", "pareto_optimal",
               "baseline", "duplicate_of", "retry_of", "arch", "hash", "train_seed", "train_seconds", "steps_per_s",
               "device", "worker", "status", "reason", "rung", "rung_psnr", "seeds", "psnr_min", "psnr_max"]


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: its :class:`~..search.record.TrialRecord`, state and number; ``latency_ms`` the
    predicted time per image (a study that uses latency), ``measured_latency_ms`` the measured one
    (Pareto points, after a run), only when it was measured under the table the study's predictions
    come from (``StudyRecord.latency``): another machine's time is no check of them."""
    rows = []
    known = StudyRecord.of(study)
    measured = known.measured_under(known.table_identity)
    for t in study.get_trials(deepcopy=False):
        r = TrialRecord.of(t)
        rows.append({
            "number": t.number, "state": t.state.name, **{o.column: o.raw(r) for o in OBJECTIVES.values()},
            "gmacs": None if r.macs is None else r.macs / 1e9, "measured_latency_ms": measured.get(str(t.number)),
            "int8_drop_db": r.int8_drop_db, "feasible": r.feasible, "trained": r.trained, "baseline": r.baseline,
            "duplicate_of": r.duplicate_of,
            "retry_of": r.retry_of, "arch": r.arch, "hash": r.hash, "train_seed": r.train_seed,
            "train_seconds": r.train_seconds, "steps_per_s": r.steps_per_s, "device": r.device, "worker": r.worker,
            "status": r.status, "reason": r.reason or fail_reason(t), "spec": r.spec,
            "rung": r.rung, "rung_psnr": " > ".join(f"{p:.3f}" for p in r.rung_psnr) if r.rung_psnr else None,
            "screen_psnr": r.rung_psnr[-1] if r.rung_psnr else None,
            "seeds": len(r.seed_psnr) if r.seed_psnr else None,
            "psnr_min": min(r.seed_psnr) if r.seed_psnr else None, "psnr_max": max(r.seed_psnr) if r.seed_psnr else None,
        })
    df = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    # nullable integers: a CSV says 3, not 3.0, and an empty cell where there is none
    return df.astype({"number": int, "duplicate_of": "Int64", "retry_of": "Int64", "train_seed": "Int64",
                      "rung": "Int64", "seeds": "Int64"}) if len(df) else df


def fail_reason(t: optuna.trial.FrozenTrial) -> str | None:
    """Why a FAIL trial failed, as far as the storage knows (None for other states)."""
    if t.state == optuna.trial.TrialState.FAIL:
        if TrialRecord.of(t).status is None and "fail_reason" not in t.system_attrs:
            return "its worker died (no heartbeat); retried up to the study's max_retry"
        return t.system_attrs.get("fail_reason")
    return None


def scored_mask(df: pd.DataFrame) -> pd.Series:
    """Rows that can be on a front: COMPLETE, within budget, and trained (or reusing a training)."""
    return (df["state"] == "COMPLETE") & (df["feasible"] == True) & df["psnr"].notna()  # noqa: E712


def _minimised(df: pd.DataFrame, objectives: list[str]) -> np.ndarray:
    """The objectives' columns as an (n, d) float array, each turned into 'smaller is better'."""
    table = get_objectives(objectives)
    return minimised(np.column_stack([df[o.column].astype(float).to_numpy() for o in table]), table)


def pareto_mask(df: pd.DataFrame, objectives: list[str]) -> pd.Series:
    """True for rows that are feasible, COMPLETE, scored, and not dominated by another such row
    in the objectives' directions (:data:`~.objectives.OBJECTIVES`). Rows equal on every
    objective are all kept."""
    ok = scored_mask(df)
    mask = pd.Series(False, index=df.index)
    if not ok.any():
        return mask
    mask[df.index[ok]] = nondominated(_minimised(df[ok], objectives))
    return mask


def pareto_front(df: pd.DataFrame, objectives: list[str]) -> pd.DataFrame:
    """The Pareto-optimal rows, by increasing parameters."""
    return df[pareto_mask(df, objectives)].sort_values(["params", "number"])


def one_per_design(front: pd.DataFrame) -> pd.Series:
    """A mask over ``front`` keeping one row per design (by hash): the paper's design's trial where
    the design is a baseline, else its first trial; rows without a hash are kept. A design proposed
    again scores as its first trial did, so the front lists it once."""
    order = front.assign(_other=front["baseline"].isna()).sort_values(["_other", "number"])
    keep = ~order["hash"].duplicated() | order["hash"].isna()
    return keep.reindex(front.index).astype(bool)


#: Cost axes a report charts quality against, by the trials frame's column, with their titles.
COST_AXES = {o.column: o.axis_title for o in chart_order(COST)}
#: The columns of objectives a chart's y axis can show (quality), in the order a study is ranked by.
QUALITY_COLUMNS = tuple(o.column for o in chart_order(QUALITY))
#: The y axis's title for each quality column.
Y_TITLES = {o.column: o.axis_title for o in chart_order(QUALITY)}


@dataclass(frozen=True)
class Chart:
    """One quality-against-cost chart: ``y`` and ``x`` columns of the trials frame, and whether
    both are objectives of the study (``ranked``): only then does the front's staircase belong in
    this plane; otherwise the front's points are drawn as they are, without a line, and the title
    says which objective chose them."""

    y: str
    x: str
    ranked: bool
    ranked_by: str  # the label of the quality objective that chose the front

    @property
    def sign(self) -> int:
        """+1 when a smaller ``y`` is better (training loss), -1 when larger is (PSNR, SSIM)."""
        return BY_COLUMN[self.y].sign


def quality_objective(objectives: list[str]) -> Objective | None:
    """The objective a study is ranked by on quality: the first of :data:`QUALITY_COLUMNS` among its
    objectives (None when it has none)."""
    cols = {OBJECTIVES[n].column for n in objectives}
    return next((BY_COLUMN[c] for c in QUALITY_COLUMNS if c in cols), None)


def chart_plan(objectives: list[str]) -> list[Chart]:
    """The charts a report draws for a study ranked by ``objectives``: its quality objective against
    each cost axis: those every trial is priced by (``axis_always``) and those it names, in the
    objectives' chart order (latency first when it is an objective), then, when that objective is not the
    PSNR, the PSNR against parameters (kept for readers, and labelled as not the ranking)."""
    cols = {OBJECTIVES[n].column for n in objectives}
    q = quality_objective(objectives)
    quality = q.column if q else "psnr"
    label = BY_COLUMN[quality].label
    xs = [o.column for o in chart_order(COST) if o.axis_always or o.column in cols]
    charts = [Chart(quality, x, quality in cols and x in cols, label) for x in xs]
    if quality != "psnr":
        charts.append(Chart("psnr", "params", False, label))
    return charts


def front_steps(front: pd.DataFrame, chart: Chart) -> pd.DataFrame:
    """The front's staircase in ``chart``'s plane: by increasing ``x``, the best ``y`` any front point
    at that cost or below reaches (columns ``x``, ``y``). Every trial the front dominates lies on or
    behind it: a design that dominates it costs no more and scores no worse."""
    f = front[[chart.x, chart.y]].astype(float).dropna().sort_values([chart.x, chart.y])
    best = (f[chart.y] * chart.sign).cummin() * chart.sign
    return pd.DataFrame({"x": f[chart.x].to_numpy(), "y": best.to_numpy()})


def hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by ``points`` (n, d), all objectives minimised, up to ``ref`` (d,).

    Exact, by slicing along the last objective (fine for the few hundred points of a study)."""
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    pts = pts[np.argsort(pts[:, -1], kind="stable")]
    vol = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        if upper > pts[i, -1]:
            vol += (upper - pts[i, -1]) * hypervolume(pts[: i + 1, :-1], ref[:-1])
    return vol


def hv_bounds(frames: Sequence[pd.DataFrame], objectives: list[str],
              max_params: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The box hypervolumes are normalised in: per objective (minimised), the best value of the
    scored trials of all ``frames`` and a reference just beyond their worst (for ``params``, at
    least the budget); None when no trial is scored. Shared by studies compared with each other."""
    good = [_minimised(df[scored_mask(df)], objectives) for df in frames if scored_mask(df).any()]
    if not good:
        return None
    allg = np.vstack(good)
    lo, hi = allg.min(axis=0), allg.max(axis=0)
    ref = hi + 0.1 * np.where(hi > lo, hi - lo, 1.0)
    for j, o in enumerate(objectives):
        if o == "params" and max_params is not None:
            ref[j] = max(ref[j], float(max_params))
    return lo, ref


def hypervolume_history(df: pd.DataFrame, objectives: list[str], max_params: int | None = None,
                        bounds: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Normalised hypervolume of the feasible front after each trial (by trial number).

    Objectives are scaled to [0, 1] between the best value seen and a reference just beyond the
    worst (for ``params``, the budget when there is one), so 1.0 would be a single trial best at
    everything; ``bounds`` (:func:`hv_bounds` of several studies) scales several alike. Columns:
    ``number``, ``hypervolume``.
    """
    ok = scored_mask(df)
    bounds = bounds if bounds is not None else hv_bounds([df], objectives, max_params)
    if not ok.any() or bounds is None:
        return pd.DataFrame({"number": df["number"], "hypervolume": 0.0})
    raw = _minimised(df, objectives)
    lo, ref_raw = bounds
    norm = np.clip((raw - lo) / (ref_raw - lo), 0.0, None)
    out, seen, hv = [], [], 0.0
    order = np.argsort(df["number"].to_numpy(), kind="stable")
    for i in order:
        if ok.iloc[i]:  # the front changes only with a scored trial: recompute then
            seen.append(norm[i])
            hv = hypervolume(np.array(seen), np.ones(len(objectives)))
        out.append(hv)
    return pd.DataFrame({"number": df["number"].to_numpy()[order], "hypervolume": out})


def front_noise(front: pd.DataFrame) -> pd.DataFrame:
    """For each Pareto point (by parameters) and the next one: the PSNR gap, the larger of the two
    designs' seed spreads (max - min of their top-rung PSNR over seeds; NA unless both have two
    seeds or more), and whether the gap is within it (NA when not measured). Columns: ``number``,
    ``next``, ``gap_db``, ``spread_db``, ``within_noise``."""
    rows = []
    f = front.sort_values(["params", "number"])
    for (_, a), (_, b) in zip(f.iterrows(), f.iloc[1:].iterrows()):
        spreads = [r["psnr_max"] - r["psnr_min"] for r in (a, b) if pd.notna(r["seeds"]) and r["seeds"] >= 2]
        spread = max(spreads) if len(spreads) == 2 else None
        gap = abs(float(b["psnr"]) - float(a["psnr"]))
        rows.append({"number": a["number"], "next": b["number"], "gap_db": gap, "spread_db": spread,
                     "within_noise": None if spread is None else bool(gap <= spread)})
    return pd.DataFrame(rows, columns=["number", "next", "gap_db", "spread_db", "within_noise"])


def published_frame() -> pd.DataFrame:
    """The paper's Table II (:mod:`slwsr_search.model.published`) as a DataFrame: published figures
    of fully trained networks, not ours."""
    rows = []
    for r in TABLE_II:
        row = {"model": r.model, "params_k": r.params_k, "gmacs_published": r.gmacs}
        for s in SETS:
            row[f"{s.lower()}_psnr"], row[f"{s.lower()}_ssim"] = r.scores[s]
        rows.append(row)
    return pd.DataFrame(rows).astype({"params_k": "Int64"})


@dataclass
class Report:
    """Everything a report shows, computed from a study and split the way it is drawn.

    ``trials``: every trial (:func:`trials_frame` with ``pareto_optimal``). ``front``: the
    Pareto-optimal trials by parameters, one per design (:func:`one_per_design`); ``repeats``: the
    other trials of a front design (a sampler proposed it again);
    ``dominated``: the other scored trials; ``over_budget``:
    trials priced over the budget and never trained; ``failed``: FAIL trials with their reasons;
    ``baselines``: the scored trials of the paper's designs (their ``pareto_optimal`` says where
    they stand); ``hv``: normalised hypervolume after each trial; ``states``: trials per state;
    ``fidelity``: the ``fidelity.json`` of an audit of this very screening, when one is given;
    ``screened``: designs of a multi-fidelity study stopped below the top rung (scored at a lower
    rung only, so never on the front); ``noise``: :func:`front_noise` of the front;
    ``latency_machine``: :func:`latency_machine` of the study; ``evaluator``: what scored the
    designs (:class:`~..search.record.StudyRecord`'s).
    """

    study: str
    objectives: list[str]
    max_params: int | None
    protocol_desc: str
    trials: pd.DataFrame
    front: pd.DataFrame
    dominated: pd.DataFrame
    over_budget: pd.DataFrame
    failed: pd.DataFrame
    baselines: pd.DataFrame
    hv: pd.DataFrame
    states: dict[str, int]
    fidelity: dict | None = None  # the fidelity audit of this study's screening, when one exists
    screened: pd.DataFrame | None = None
    noise: pd.DataFrame | None = None
    max_latency_ms: float | None = None  # the study's latency limit, when it has one
    max_macs: int | None = None  # the study's Multi-Add limit, when it has one
    max_int8_drop_db: float | None = None  # the study's limit on the dB lost to int8, when it has one
    latency_machine: str | None = None  # the machine whose latency table priced the study, when one did
    evaluator: dict | None = None  # what scored the designs (the study record's), None for a study from before
    repeats: pd.DataFrame | None = None


def latency_machine(record: StudyRecord) -> str | None:
    """The machine the study's latency predictions are for: its latency table's identity, as
    :meth:`~..model.latency_table.MachineIdentity.describe` says it (None for a study without one)."""
    if not record.latency or not isinstance(record.latency.get("identity"), dict):
        return None
    return MachineIdentity(**record.latency["identity"]).describe()


def build_report(study: optuna.Study, objectives: list[str], max_params: int | None,
                 audit: dict | None = None, max_latency_ms: float | None = None, max_macs: int | None = None,
                 max_int8_drop_db: float | None = None, scale: int | None = None) -> Report:
    """Read ``study`` once and split its trials for the renderers. ``audit``: a ``fidelity.json``
    (:mod:`..audit.stats`), kept when it audited this study's screening protocol and data, at the
    study's ``scale`` (its search space's; None: not checked)."""
    df = trials_frame(study)
    if len(df):
        df["pareto_optimal"] = pareto_mask(df, objectives)
        hv = hypervolume_history(df, objectives, max_params)
    else:
        df["pareto_optimal"] = pd.Series(dtype=bool)
        hv = pd.DataFrame({"number": [], "hypervolume": []})
    known = StudyRecord.of(study)
    on_front = df["pareto_optimal"].astype(bool)
    scored = scored_mask(df) if len(df) else on_front
    front = df[on_front].sort_values(["params", "number"])
    first = one_per_design(front)
    return Report(
        study=study.study_name, objectives=list(objectives), max_params=max_params, max_latency_ms=max_latency_ms,
        max_macs=max_macs, max_int8_drop_db=max_int8_drop_db,
        protocol_desc=known.protocol_desc or "", trials=df,
        front=front[first], repeats=front[~first], dominated=df[scored & ~on_front],
        # priced only; a trained design over the int8 limit is infeasible too, but not over budget
        over_budget=df[(df["feasible"] == False) & df["params"].notna() & (df["trained"] != True)],  # noqa: E712
        failed=df[df["state"] == "FAIL"], baselines=df[scored & df["baseline"].notna()], hv=hv,
        states=df["state"].value_counts().to_dict() if len(df) else {},
        fidelity=audit_for(known.protocol, known.data, audit, scale),
        screened=df[(df["status"] == SCREENED) & (df["state"] == "COMPLETE")].sort_values(["params", "number"]),
        noise=front_noise(front[first]), latency_machine=latency_machine(known), evaluator=known.evaluator,
    )
