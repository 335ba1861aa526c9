"""How well the latency table predicts measured time per image (``slwsr bench latency --validate N``).

Specs: the paper's designs whose width the table covers, then ``N`` distinct specs drawn from a
search space by a seeded random sampler. Each is exported as a bundle's graph is and measured in
turns with the others (:func:`~slwsr_search.deploy.latency.round_robin`), then compared with
:func:`~slwsr_search.model.latency_table.predict_latency`: Spearman's rho, the median absolute
percentage error and the share within +-10%; beside them the rho of Multi-Adds and of parameters
against the measured time (what a search without a latency model ranks by).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..model.cost import count_cost
from ..deploy.latency import quartiles, round_robin, spec_workload
from ..model.latency_table import LatencyTable, predict_latency
from ..model.presets import PRESETS
from ..model.spec import ArchSpec


@dataclass(frozen=True)
class Row:
    """One spec: ``measured_ms`` (median over its turns, with ``q1_ms``/``q3_ms``) against
    ``predicted_ms``; ``n_ir`` inverted residuals of 26 slots."""

    label: str
    arch: str
    n_feats: int
    n_ir: int
    params: int
    macs: int
    predicted_ms: float
    measured_ms: float
    q1_ms: float
    q3_ms: float

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted_ms - self.measured_ms) / self.measured_ms


def validation_specs(n: int, widths: tuple[int, ...], seed: int = 0, space: str = "slwsr") -> list[tuple[str, ArchSpec]]:
    """The presets whose width is in ``widths`` (the table's), then ``n`` distinct specs from the
    search space ``space`` (seeded random sampler; the same arguments give the same specs)."""
    import optuna

    from ..search.space import SearchSpace, draw_specs

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the throwaway study's creation notice
    sp = SearchSpace.load(space)
    out = [(name, spec) for name, spec in PRESETS.items() if spec.n_feats in widths and spec.scale == sp.scale]
    drawn = draw_specs(sp, n, seed, keep=lambda spec: spec.n_feats in widths, seen={s.hash for _, s in out},
                       max_tries=100 * n + 100)
    if len(drawn) < n:
        raise ValueError(f"--validate: only {len(drawn)} distinct specs of widths {widths} found in space {space!r}")
    out += [(f"r{k}", spec) for k, spec in enumerate(drawn)]
    return out


def validate(specs: list[tuple[str, ArchSpec]], table: LatencyTable, passes: int = 3, repeats: int = 2, warmup: int = 1,
             on_prepare: Callable[[int, str], None] | None = None,
             on_turn: Callable[[int, int], None] | None = None) -> list[Row]:
    """Measure every spec on ``table``'s runtime and threads, in turns, and set it beside its prediction."""
    ident = table.identity
    workloads = []
    for i, (label, spec) in enumerate(specs):
        if on_prepare is not None:
            on_prepare(i, label)
        workloads.append(spec_workload(spec, ident.runtime, tuple(table.lr_size), ident.threads))
    times = round_robin(workloads, passes, repeats, warmup, on_turn)
    hr = (table.lr_size[0] * table.scale, table.lr_size[1] * table.scale)
    rows = []
    for (label, spec), t in zip(specs, times):
        q1, med, q3 = quartiles(t)
        cost = count_cost(spec, hr)
        rows.append(Row(label, spec.arch, spec.n_feats, spec.n_ir, cost.params, cost.macs,
                        predict_latency(spec, table).ms, med, q1, q3))
    return rows


def spearman(a, b) -> float:
    """Spearman's rank correlation (average ranks for ties), without scipy."""
    df = pd.DataFrame({"a": np.asarray(a, dtype=float), "b": np.asarray(b, dtype=float)}).rank()
    return float(df["a"].corr(df["b"]))


def summarise(rows: list[Row]) -> dict:
    """The figures of a validation: over all rows, and over the ``ir``-heavy ones (13+ of 26 slots)
    and within each width (where Multi-Adds and latency part ways most)."""

    def figures(rs: list[Row]) -> dict:
        meas = [r.measured_ms for r in rs]
        errs = [abs(r.error) for r in rs]
        return {"specs": len(rs),
                "rho_predicted": spearman([r.predicted_ms for r in rs], meas),
                "rho_macs": spearman([r.macs for r in rs], meas),
                "rho_params": spearman([r.params for r in rs], meas),
                "mdape": statistics.median(errs), "within_10pct": sum(e <= 0.10 for e in errs) / len(errs),
                "mean_error": statistics.fmean(r.error for r in rs)}

    out = {"all": figures(rows)}
    heavy = [r for r in rows if r.n_ir >= 13]
    if len(heavy) >= 3:
        out["ir_heavy"] = figures(heavy)
    for n in sorted({r.n_feats for r in rows}):
        same = [r for r in rows if r.n_feats == n]
        if len(same) >= 3:
            out[f"n{n}"] = figures(same)
    return out


def rows_frame(rows: list[Row]) -> pd.DataFrame:
    df = pd.DataFrame([asdict(r) for r in rows])
    df["error_pct"] = [100 * r.error for r in rows]
    return df


def scatter_html(rows: list[Row], title: str) -> str:
    """Predicted against measured time, one point per spec (colour: inverted residuals of 26), the
    line of equality and +-10% around it; plotly.js embedded (opens offline)."""
    import plotly.graph_objects as go

    hi = max(max(r.measured_ms for r in rows), max(r.predicted_ms for r in rows)) * 1.05
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, hi], y=[0, hi], mode="lines", name="predicted = measured", line=dict(color="#555")))
    for f, name in ((1.1, "+10%"), (0.9, "-10%")):
        fig.add_trace(go.Scatter(x=[0, hi], y=[0, hi * f], mode="lines", name=name,
                                 line=dict(color="#aaa", dash="dash")))
    fig.add_trace(go.Scatter(
        x=[r.measured_ms for r in rows], y=[r.predicted_ms for r in rows], mode="markers", name="spec",
        marker=dict(color=[r.n_ir for r in rows], colorscale="Viridis", size=9, showscale=True,
                    colorbar=dict(title="ir blocks")),
        error_x=dict(type="data", symmetric=False, array=[r.q3_ms - r.measured_ms for r in rows],
                     arrayminus=[r.measured_ms - r.q1_ms for r in rows], thickness=1, color="#999"),
        hovertext=[f"{r.label} n{r.n_feats}, {r.n_ir} ir<br>{r.arch}<br>{r.params:,} params, {r.macs / 1e9:.2f} G"
                   for r in rows], hoverinfo="text"))
    fig.update_layout(title=title, xaxis_title="measured (ms, median over turns; bars: interquartile range)",
                      yaxis_title="predicted from the table (ms)", template="plotly_white", height=560)
    return fig.to_html(full_html=True, include_plotlyjs=True)
