"""Render a fidelity audit (:mod:`..audit.stats`): its JSON summary, the terminal table, the HTML page."""

from __future__ import annotations

import html
import math

from ..audit.horizons import HorizonSummary
from ..audit.stats import MIN_DESIGNS, AuditSummary as FidelitySummary


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)


def fidelity_dict(summary: FidelitySummary, settings: dict) -> dict:
    """The audit's summary as plain data (``fidelity.json``): settings, estimators, noise."""
    return {
        **settings,
        "designs_scored": len(summary.designs), "designs_incomplete": summary.missing,
        "interval": f"bootstrap {int(summary.level * 100)}% (percentile, designs resampled)",
        "cost_matched_tolerance": summary.tolerance,
        "estimators": [{"name": e.name, "what": e.what, "kendall_tau": _num(e.tau),
                        "kendall_tau_interval": [_num(v) for v in e.tau_interval], "spearman_rho": _num(e.rho),
                        "spearman_rho_interval": [_num(v) for v in e.rho_interval],
                        "cost_matched_pairs_right": e.pairs_right, "cost_matched_pairs": e.pairs,
                        "cost_matched_share": _num(e.pair_share)} for e in summary.estimators],
        "screen_seed_std_db": {"median": _num(summary.designs["screen_std"].median()) if len(summary.designs) else None,
                               "max": _num(summary.designs["screen_std"].max()) if len(summary.designs) else None},
        "reference_noise_db": [_num(v) for v in summary.reference_noise],
        "reference_spread_db": _num(summary.reference_spread),
    }


def fidelity_text(summary: FidelitySummary) -> str:
    """The estimator table for a terminal."""
    if not summary.estimators:
        more = (f"resume the audit to finish {summary.missing} more" if summary.missing
                else "audit more designs")
        return (f"{len(summary.designs)} design(s) with every training done: too few to rank "
                f"(at least {MIN_DESIGNS} are needed; {more})")
    lines = [f"{len(summary.designs)} designs; {int(summary.level * 100)}% bootstrap intervals; cost-matched pairs: "
             f"parameters within {summary.tolerance:.0%}",
             f"{'estimator':<12} {'Kendall tau':>22} {'Spearman rho':>22} {'matched pairs':>15}  what"]
    for e in summary.estimators:
        tau = f"{e.tau:+.2f} [{e.tau_interval[0]:+.2f}, {e.tau_interval[1]:+.2f}]"
        rho = f"{e.rho:+.2f} [{e.rho_interval[0]:+.2f}, {e.rho_interval[1]:+.2f}]"
        pairs = f"{e.pairs_right}/{e.pairs}" + (f" ({e.pair_share:.0%})" if e.pairs else "")
        lines.append(f"{e.name:<12} {tau:>22} {rho:>22} {pairs:>15}  {e.what}")
    d = summary.designs
    lines.append(f"screening seed std per design: median {d['screen_std'].median():.3f} dB, max {d['screen_std'].max():.3f} dB"
                 f"; reference PSNR spread across designs: std {summary.reference_spread:.3f} dB")
    if summary.reference_noise:
        lines.append(f"reference noise (two seeds, {len(summary.reference_noise)} designs): "
                     + ", ".join(f"{v:.3f}" for v in summary.reference_noise) + " dB")
    return "\n".join(lines)


def fidelity_html(summary: FidelitySummary, title: str, horizons: HorizonSummary | None = None) -> str:
    """Screening PSNR (seed mean, min-max bars) against reference PSNR, and the estimator table;
    with ``horizons``, the ranking at every rung of the reference's ladder after them."""
    d = summary.designs
    if not len(d):
        chart = "<p>No design has every training done yet: resume the audit.</p>"
    else:
        chart = _fidelity_chart(summary)
    rows = "".join(f"<tr><td>{e.name}</td><td>{e.tau:+.2f} [{e.tau_interval[0]:+.2f}, {e.tau_interval[1]:+.2f}]</td>"
                   f"<td>{e.rho:+.2f} [{e.rho_interval[0]:+.2f}, {e.rho_interval[1]:+.2f}]</td>"
                   f"<td>{e.pairs_right}/{e.pairs}</td><td>{html.escape(e.what)}</td></tr>" for e in summary.estimators)
    table = ("<table class='table'><tr><th>estimator</th><th>Kendall tau</th><th>Spearman rho</th>"
             f"<th>cost-matched pairs right</th><th>what</th></tr>{rows}</table>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}.table{border-collapse:collapse;"
            "font-size:13px}.table td,.table th{border:1px solid #ccc;padding:3px 6px}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><pre>{html.escape(fidelity_text(summary))}</pre>" + chart + table
            + (horizons_html(horizons) if horizons is not None and len(horizons.horizons) > 1 else "") + "</body></html>")


def _fidelity_chart(summary: FidelitySummary) -> str:
    import plotly.graph_objects as go

    d = summary.designs
    fig = go.Figure(go.Scatter(
        x=d["screen_mean"], y=d["reference_mean"], mode="markers+text", text=d["label"], textposition="top center",
        error_x=dict(type="data", symmetric=False, array=d["screen_max"] - d["screen_mean"],
                     arrayminus=d["screen_mean"] - d["screen_min"]),
        hovertext=[f"{r['label']}<br>{r['arch']}<br>{int(r['params']):,} params" for _, r in d.iterrows()],
        hoverinfo="text"))
    fig.update_layout(title=f"Screening against reference PSNR ({summary.screen_seeds} seeds: mean, min-max bars)",
                      xaxis_title="screening PSNR (dB)", yaxis_title="reference PSNR (dB)", template="plotly_white",
                      height=520)
    return fig.to_html(full_html=False, include_plotlyjs=True)


# ----- the ranking at every horizon (a long reference scored along a ladder) ---------------------------


def horizons_rows(h: HorizonSummary) -> list[dict]:
    """One row per estimator and rung (``fidelity-horizons.csv``, and ``horizons.estimators`` in
    ``fidelity.json``)."""
    return [{"horizon": r.horizon, "name": r.name, "kendall_tau": _num(r.tau),
             "kendall_tau_interval": [_num(v) for v in r.tau_interval], "spearman_rho": _num(r.rho),
             "spearman_rho_interval": [_num(v) for v in r.rho_interval], "cost_matched_pairs_right": r.pairs_right,
             "cost_matched_pairs": r.pairs, "cost_matched_share": _num(r.pair_share), "top1_regret_db": _num(r.regret),
             "top1_regret_interval": [_num(v) for v in r.regret_interval]} for r in h.rows]


def horizons_dict(h: HorizonSummary) -> dict:
    """The ranking at every rung as plain data (``horizons`` in ``fidelity.json``)."""
    return {"steps": h.horizons, "estimators": horizons_rows(h),
            "reference_psnr": {label: [_num(v) for v in row] for label, row in zip(h.reference.index, h.reference.to_numpy())},
            "reference_noise_db": {str(k): [_num(v) for v in vs] for k, vs in h.noise.items()},
            "reference_spread_db": {str(k): _num(v) for k, v in h.spread.items()},
            "reference_retest_tau": {str(k): _num(v) for k, v in h.retest.items()},
            "crossovers": [{"ahead_early": c.ahead_early, "ahead_late": c.ahead_late, "flips": list(c.flips),
                            "margin_early_db": _num(c.margin_early), "margin_late_db": _num(c.margin_late)}
                           for c in h.crossovers]}


def horizons_text(h: HorizonSummary) -> str:
    """Kendall tau of every estimator at every rung, the longest rung's full row, the crossovers."""
    last = h.horizons[-1]
    head = f"{'estimator':<19}" + "".join(f"{s:>8,}" for s in h.horizons)
    lines = [f"Kendall tau against the reference at each rung (steps); {len(h.reference)} designs", head]
    for name in h.names:
        taus = {r.horizon: r.tau for r in h.rows if r.name == name}
        lines.append(f"{name:<19}" + "".join(f"{taus[s]:>+8.2f}" for s in h.horizons))
    lines.append(f"at {last:,} steps: tau [interval], cost-matched pairs, top-1 regret (dB) [interval]")
    for r in h.at(last):
        pairs = f"{r.pairs_right}/{r.pairs}" + (f" ({r.pair_share:.0%})" if r.pairs else "")
        lines.append(f"  {r.name:<19} {r.tau:+.2f} [{r.tau_interval[0]:+.2f}, {r.tau_interval[1]:+.2f}]  {pairs:>12}  "
                     f"{r.regret:.3f} [{r.regret_interval[0]:.3f}, {r.regret_interval[1]:.3f}]")
    noise = h.noise.get(last) or []
    lines.append(f"reference at {last:,} steps: spread across designs {h.spread[last]:.3f} dB (std); seed noise "
                 + (", ".join(f"{v:.3f}" for v in noise) + " dB" if noise else "not measured (no second seed yet)"))
    if noise:
        lines.append(f"  a rerun of the reference on other seeds would agree with it at Kendall tau "
                     f"{h.retest[last]:.2f} (simulated from that noise): about the most any estimator can show")
    if h.crossovers:
        lines.append(f"crossovers ({len(h.crossovers)} pairs ordered one way at {h.horizons[0]:,} steps, the other at {last:,}):")
        lines += [f"  {c.ahead_late} overtakes {c.ahead_early} (behind by {c.margin_early:.3f} dB, ahead by "
                  f"{c.margin_late:.3f} dB; order changed at {', '.join(f'{s:,}' for s in c.flips)})" for c in h.crossovers]
    else:
        lines.append("crossovers: none (every pair keeps its order from the first rung to the last)")
    return "\n".join(lines)


def horizons_html(h: HorizonSummary) -> str:
    """Tau against the horizon per estimator, the reference curves, and the text above."""
    import plotly.graph_objects as go

    tau = go.Figure()
    for name in h.names:
        rows = [r for r in h.rows if r.name == name]
        tau.add_trace(go.Scatter(x=[r.horizon for r in rows], y=[r.tau for r in rows], mode="lines+markers", name=name,
                                 error_y=dict(type="data", symmetric=False,
                                              array=[r.tau_interval[1] - r.tau for r in rows],
                                              arrayminus=[r.tau - r.tau_interval[0] for r in rows], thickness=1)))
    tau.update_layout(title="Kendall tau against the reference, by the reference's training length (90% intervals)",
                      xaxis=dict(title="reference steps", type="log"), yaxis_title="Kendall tau",
                      template="plotly_white", height=520)
    curves = go.Figure()
    for label, row in zip(h.reference.index, h.reference.to_numpy()):
        curves.add_trace(go.Scatter(x=h.horizons, y=row, mode="lines+markers", name=str(label)))
    curves.update_layout(title="Reference PSNR along the training (seed mean)", template="plotly_white", height=520,
                         xaxis=dict(title="steps", type="log"), yaxis_title="validation PSNR (dB)")
    return (f"<h2>The ranking at every horizon</h2><pre>{html.escape(horizons_text(h))}</pre>"
            + tau.to_html(full_html=False, include_plotlyjs=False) + curves.to_html(full_html=False, include_plotlyjs=False))
