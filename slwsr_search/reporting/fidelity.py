"""Render a fidelity audit (:mod:`..audit.stats`): its JSON summary, the terminal table, the HTML page."""

from __future__ import annotations

import html
import math

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


def fidelity_html(summary: FidelitySummary, title: str) -> str:
    """Screening PSNR (seed mean, min-max bars) against reference PSNR, and the estimator table."""
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
            + "</body></html>")


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
