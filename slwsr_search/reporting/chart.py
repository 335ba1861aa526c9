"""The report's charts: quality (the study's ranking objective, and the PSNR) against a cost
(parameters, Multi-Adds, latency), one trace per part of a :class:`~.compute.Report`, as
:func:`~.compute.chart_plan` lists them, and the small helpers the charts and the tables share.
Drawing only: nothing here decides which trials are where."""

from __future__ import annotations

import pandas as pd

from .compute import COST_AXES, Y_TITLES, Chart, Report, front_steps


def by_loss(rep: Report) -> bool:
    """Whether the study ranks designs by the training loss (the tables then show it)."""
    return "loss" in rep.objectives


def by_seeds(rep: Report) -> bool:
    """Whether the designs were trained (from scratch, per seed): the tables then show the seeds
    and their PSNR range; a supernet-scored study trains nothing, so has no seeds to show."""
    return (rep.evaluator or {}).get("kind") != "supernet"


def by_int8(rep: Report) -> bool:
    """Whether the study scores int8 (its front then shows the int8 PSNR and what int8 lost)."""
    return "int8_psnr" in rep.front and bool(rep.front["int8_psnr"].notna().any())


def int8_cell(r: pd.Series) -> str:
    """A row's int8 PSNR and its loss against fp32, e.g. ``28.412 (-0.087)``."""
    return "-" if pd.isna(r["int8_psnr"]) else f"{r['int8_psnr']:.3f} ({-r['int8_drop_db']:+.3f})"


def by_latency(rep: Report) -> bool:
    """Whether the study has a latency objective (the tables and charts then show it)."""
    return "latency" in rep.objectives


def latency_cell(r: pd.Series) -> str:
    """``312.4 (meas. 298.1)``: predicted time per image in ms, and the one measured on the table's
    own machine when there is one (a run times its front only there)."""
    pred = "-" if pd.isna(r["latency_ms"]) else f"{r['latency_ms']:.1f}"
    return pred + ("" if pd.isna(r["measured_latency_ms"]) else f" (meas. {r['measured_latency_ms']:.1f})")


def _hover(r: pd.Series) -> str:
    psnr = "not trained" if pd.isna(r["psnr"]) else f"{r['psnr']:.3f} dB"
    ssim = "" if pd.isna(r["ssim"]) else f"<br>SSIM {r['ssim']:.4f}"
    loss = "" if pd.isna(r.get("loss")) else f"<br>training loss {r['loss']:.3f}"
    base = f"<br>baseline {r['baseline']}" if isinstance(r["baseline"], str) else ""
    lat = "" if pd.isna(r.get("latency_ms")) else f"<br>latency {latency_cell(r)} ms"
    int8 = "" if pd.isna(r.get("int8_psnr")) else f"<br>int8 PSNR {r['int8_psnr']:.3f} dB ({-r['int8_drop_db']:+.3f})"
    return (f"trial {r['number']}<br>{r['arch']}<br>{int(r['params']):,} params<br>"
            f"{r['macs'] / 1e9:.2f} G Multi-Adds{lat}<br>PSNR {psnr}{ssim}{loss}{int8}{base}")


def _has_bars(df: pd.DataFrame, y: str) -> bool:
    """Whether ``y`` has seed ranges to draw in ``df``: the PSNR (the record keeps no other
    quality's seed range) of a point trained with two seeds or more."""
    return y == "psnr" and bool((df["seeds"] > 1).any())


def _bars(df: pd.DataFrame, y: str) -> dict | None:
    """Plotly error bars from each point's seed range (min-max PSNR over seeds), when it has one."""
    if not _has_bars(df, y):
        return None
    multi = df["seeds"].fillna(1) > 1
    return dict(type="data", symmetric=False, color="#555", thickness=1,
                array=(df["psnr_max"] - df["psnr"]).where(multi, 0.0).astype(float).tolist(),
                arrayminus=(df["psnr"] - df["psnr_min"]).where(multi, 0.0).astype(float).tolist())


def _title(rep: Report, chart: Chart) -> str:
    bars = " (bars: min-max over seeds)" if _has_bars(pd.concat([rep.front, rep.dominated]), chart.y) else ""
    name = Y_TITLES[chart.y].split(" (")[0]
    title = f"{name[0].upper()}{name[1:]} against {COST_AXES[chart.x]}{bars}"
    if chart.x == "latency_ms" and rep.latency_machine:  # whose time the axis is: the table's machine, not this one
        title += f"<br><sub>predicted for {rep.latency_machine} (the study's latency table)</sub>"
    if not chart.ranked:
        title += f"<br><sub>not the study's ranking: its front, chosen by {chart.ranked_by} and cost, drawn as points</sub>"
    return title


def pareto_scatter(rep: Report, chart: Chart):
    """``chart.y`` against ``chart.x``: one trace per part of the report; the front's staircase
    (:func:`~.compute.front_steps`) where the chart's axes are the objectives that chose it; against
    latency, the front's measured times too."""
    import plotly.graph_objects as go

    x, y = chart.x, chart.y

    def gx(df: pd.DataFrame) -> pd.Series:
        return df[x] / 1e9 if x == "macs" else df[x]

    scored = pd.concat([rep.front[y], rep.dominated[y]]).dropna()
    # the strip where untrained trials sit: below the worst PSNR, above the worst loss
    floor = (scored.min() - 0.3 if chart.sign < 0 else scored.max() + 0.3) if len(scored) else 0.0
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=gx(rep.dominated), y=rep.dominated[y], mode="markers", name="feasible, dominated",
                             marker=dict(color="#8fa8c8", size=8), error_y=_bars(rep.dominated, y),
                             hovertext=[_hover(r) for _, r in rep.dominated.iterrows()], hoverinfo="text"))
    by = f" (by {chart.ranked_by})" if by_loss(rep) or not chart.ranked else ""
    fig.add_trace(go.Scatter(x=gx(rep.front), y=rep.front[y], mode="markers", name=f"Pareto front{by}",
                             marker=dict(color="#d62728", size=10), error_y=_bars(rep.front, y),
                             hovertext=[_hover(r) for _, r in rep.front.iterrows()], hoverinfo="text"))
    if chart.ranked and len(rep.front):
        steps = front_steps(rep.front, chart)
        fig.add_trace(go.Scatter(x=steps["x"] / 1e9 if x == "macs" else steps["x"], y=steps["y"], mode="lines",
                                 name="the front's reach (best at this cost or less)", hoverinfo="skip",
                                 line=dict(color="#d62728", shape="hv")))
    measured = rep.front[rep.front["measured_latency_ms"].notna()] if x == "latency_ms" else rep.front.iloc[:0]
    if len(measured):
        fig.add_trace(go.Scatter(x=measured["measured_latency_ms"], y=measured[y], mode="markers",
                                 name="Pareto front, measured latency", marker=dict(color="#d62728", size=11,
                                                                                     symbol="diamond-open"),
                                 hovertext=[_hover(r) for _, r in measured.iterrows()], hoverinfo="text"))
    over = rep.over_budget
    fig.add_trace(go.Scatter(x=gx(over), y=[floor] * len(over), mode="markers",
                             name="over budget (priced, not trained)", marker=dict(color="#999999", symbol="x", size=7),
                             hovertext=[_hover(r) for _, r in over.iterrows()], hoverinfo="text"))
    if len(rep.failed):
        fig.add_trace(go.Scatter(x=gx(rep.failed), y=[floor] * len(rep.failed), mode="markers", name="training failed",
                                 marker=dict(color="#000000", symbol="triangle-down", size=8),
                                 hovertext=[f"trial {r['number']}: {r['reason']}<br>{r['arch']}" for _, r in rep.failed.iterrows()],
                                 hoverinfo="text"))
    base = rep.baselines
    fig.add_trace(go.Scatter(x=gx(base), y=base[y], mode="markers+text", name="paper's designs (same protocol)",
                             text=base["baseline"], textposition="top center",
                             marker=dict(color="#2ca02c", symbol="star", size=16, line=dict(color="black", width=1)),
                             hovertext=[_hover(r) for _, r in base.iterrows()], hoverinfo="text"))
    if x == "params" and rep.max_params:
        fig.add_vline(x=rep.max_params, line_dash="dash", line_color="#555", annotation_text="budget")
    fig.update_layout(title=_title(rep, chart), xaxis_title=COST_AXES[x], yaxis_title=Y_TITLES[y],
                      template="plotly_white", height=480, legend=dict(orientation="h", y=-0.2))
    return fig
