"""Drawing a :class:`~.report.Report`: the HTML page, the Markdown summary, the terminal lines and
the exported files. Renderers only draw what the report already split; none filters trials."""

from __future__ import annotations

import html
import math
from pathlib import Path

import optuna
import pandas as pd

from ..model.spec import ArchSpec
from .fidelity import AuditSummary as FidelitySummary
from .record import INFEASIBLE, TrialRecord
from .report import CSV_COLUMNS, Report, published_frame

# ----- terminal -----------------------------------------------------------------------------------


def trial_line(t: optuna.trial.FrozenTrial) -> str:
    """One finished trial as one aligned line: number, params, Multi-Adds, result, seconds, arch."""
    r = TrialRecord.of(t)
    params = f"{r.params:>9,}" if r.params is not None else " " * 9
    macs = f"{r.macs / 1e9:>6.2f} G" if r.macs is not None else " " * 8
    if r.status == INFEASIBLE:
        what = "over budget: not trained"
    elif t.state == optuna.trial.TrialState.FAIL:
        what = f"FAILED: {r.reason or t.system_attrs.get('fail_reason', '')}"
    elif r.psnr is not None:
        what = f"PSNR {r.psnr:6.3f}  SSIM {r.ssim:.4f}"
    else:
        what = t.state.name
    extra = f"  (= #{r.duplicate_of})" if r.duplicate_of is not None else ""
    extra += f"  (retry of #{r.retry_of})" if r.retry_of is not None else ""
    extra += f"  [{r.baseline}]" if r.baseline else ""
    secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else 0.0
    return f"#{t.number:<4} {params} {macs}  {what:<31} {secs:6.1f} s  {r.arch or '?'}{extra}"


def _where(on_front: bool) -> str:
    return "on the Pareto front" if on_front else "dominated"


def front_table(rep: Report) -> str:
    """The Pareto-optimal trials and where each baseline stands, as terminal text."""
    if rep.front.empty:
        return "no feasible COMPLETE trial yet: no Pareto front"
    lines = [f"Pareto-optimal trials ({len(rep.front)} of {len(rep.trials)}; feasible, objectives {', '.join(rep.objectives)}):",
             f"{'#':<5} {'params':>9} {'Multi-Adds':>10} {'PSNR':>7} {'SSIM':>7}  arch"]
    for _, r in rep.front.iterrows():
        tag = f"  [{r['baseline']}]" if isinstance(r["baseline"], str) else ""
        lines.append(f"{r['number']:<5} {int(r['params']):>9,} {r['gmacs']:>8.2f} G {r['psnr']:>7.3f} {r['ssim']:>7.4f}  {r['arch']}{tag}")
    for _, r in rep.baselines.iterrows():
        lines.append(f"baseline {r['baseline']}: #{r['number']}, PSNR {r['psnr']:.3f}, {int(r['params']):,} params: "
                     f"{_where(r['pareto_optimal'])}")
    audit = fidelity_line(rep)
    return "\n".join(lines + ([audit] if audit else []))


# ----- Markdown -----------------------------------------------------------------------------------


def _markdown_table(front: pd.DataFrame) -> str:
    lines = ["| trial | params | Multi-Adds (G) | PSNR (dB) | SSIM | arch | baseline |", "|---|---|---|---|---|---|---|"]
    for _, r in front.iterrows():
        base = r["baseline"] if isinstance(r["baseline"], str) else ""
        lines.append(f"| {r['number']} | {int(r['params']):,} | {r['macs'] / 1e9:.2f} | {r['psnr']:.3f} | "
                     f"{r['ssim']:.4f} | `{r['arch']}` | {base} |")
    return "\n".join(lines)


def fidelity_line(rep: Report) -> str | None:
    """What the fidelity audit of this study's screening measured, in one sentence (None without one)."""
    a = rep.fidelity
    if not a or not a.get("estimators"):
        return None
    est = {e["name"]: e for e in a["estimators"]}
    singles = [e for n, e in est.items() if n.startswith("psnr_seed")]
    first = singles[0]
    ref = a["reference_protocol"]

    def tau(e: dict) -> str:
        lo, hi = e["kendall_tau_interval"]
        return f"{e['kendall_tau']:+.2f} [{lo:+.2f}, {hi:+.2f}]"

    share = first.get("cost_matched_share")
    return (f"Fidelity audit of this screening ({a['designs_scored']} designs, reference {ref['steps']} steps x "
            f"{ref['batch_size']} x {ref['lr_patch']} px on {a['reference_data'][0]}, validated on {a['reference_data'][1]}): "
            f"Kendall tau of one seed's PSNR against the reference {tau(first)} ({a['interval']}; seeds "
            + ", ".join(f"{e['kendall_tau']:+.2f}" for e in singles) + f"), of the mean of {len(singles)} seeds "
            f"{tau(est['psnr_mean'])}, of parameters alone {tau(est['params'])}"
            + (f"; cost-matched pairs ordered right by one seed: {share:.0%} of {first['cost_matched_pairs']}"
               if share is not None else "") + ".")


def _budget(rep: Report, le: str = "<=") -> str:
    return f"params {le} {rep.max_params:,}" if rep.max_params else "none"


def summary_markdown(rep: Report) -> str:
    """The Pareto table in Markdown, with the context a reader of a pull request needs."""
    n = len(rep.trials)
    audit = fidelity_line(rep)
    head = [f"# Study `{rep.study}`: Pareto front", "",
            f"- trials: {n} (" + ", ".join(f"{v} {k}" for k, v in sorted(rep.states.items())) + ")" if n else "- trials: none",
            f"- objectives: {', '.join(rep.objectives)}; budget: {_budget(rep)}",
            f"- protocol: {rep.protocol_desc or 'unknown'}",
            "- Multi-Adds: conv multiply-accumulates at 1280x720 output; PSNR/SSIM: Y channel, scale-pixel border crop.",
            *([f"- {audit}"] if audit else []),
            ""]
    if rep.front.empty:
        return "\n".join(head + ["No feasible COMPLETE trial yet: there is no Pareto front to show.", ""])
    body = [_markdown_table(rep.front), ""]
    for _, r in rep.baselines.iterrows():
        body.append(f"- baseline **{r['baseline']}** (trial {r['number']}): PSNR {r['psnr']:.3f} dB, "
                    f"{int(r['params']):,} params: {_where(r['pareto_optimal'])}.")
    body.append("")
    return "\n".join(head + body)


# ----- HTML -------------------------------------------------------------------------------------


def _hover(r: pd.Series) -> str:
    psnr = "not trained" if pd.isna(r["psnr"]) else f"{r['psnr']:.3f} dB"
    ssim = "" if pd.isna(r["ssim"]) else f"<br>SSIM {r['ssim']:.4f}"
    base = f"<br>baseline {r['baseline']}" if isinstance(r["baseline"], str) else ""
    return (f"trial {r['number']}<br>{r['arch']}<br>{int(r['params']):,} params<br>"
            f"{r['macs'] / 1e9:.2f} G Multi-Adds<br>PSNR {psnr}{ssim}{base}")


def _scatter(rep: Report, x: str, x_title: str):
    """PSNR against ``x`` (``params`` or ``macs``): one trace per part of the report."""
    import plotly.graph_objects as go

    def gx(df: pd.DataFrame) -> pd.Series:
        return df[x] / 1e9 if x == "macs" else df[x]

    scored_psnr = pd.concat([rep.front["psnr"], rep.dominated["psnr"]])
    floor = (scored_psnr.min() - 0.3) if len(scored_psnr) else 0.0  # the strip where untrained trials sit
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=gx(rep.dominated), y=rep.dominated["psnr"], mode="markers", name="feasible, dominated",
                             marker=dict(color="#8fa8c8", size=8),
                             hovertext=[_hover(r) for _, r in rep.dominated.iterrows()], hoverinfo="text"))
    front = rep.front.assign(gx=gx(rep.front)).sort_values("gx")
    fig.add_trace(go.Scatter(x=front["gx"], y=front["psnr"], mode="lines+markers", name="Pareto front",
                             line=dict(color="#d62728", shape="hv"), marker=dict(color="#d62728", size=10),
                             hovertext=[_hover(r) for _, r in front.iterrows()], hoverinfo="text"))
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
    fig.add_trace(go.Scatter(x=gx(base), y=base["psnr"], mode="markers+text", name="paper's designs (same protocol)",
                             text=base["baseline"], textposition="top center",
                             marker=dict(color="#2ca02c", symbol="star", size=16, line=dict(color="black", width=1)),
                             hovertext=[_hover(r) for _, r in base.iterrows()], hoverinfo="text"))
    if x == "params" and rep.max_params:
        fig.add_vline(x=rep.max_params, line_dash="dash", line_color="#555", annotation_text="budget")
    fig.update_layout(title=f"PSNR against {x_title}", xaxis_title=x_title, yaxis_title="validation PSNR (dB)",
                      template="plotly_white", height=480, legend=dict(orientation="h", y=-0.2))
    return fig


def render_html(rep: Report, paper: pd.DataFrame) -> str:
    """The report page: charts (plotly.js embedded once, so it opens offline) and tables."""
    import plotly.graph_objects as go

    parts = [f"<h1>Study <code>{html.escape(rep.study)}</code></h1>",
             f"<p>{len(rep.trials)} trials. Objectives: {', '.join(rep.objectives)}. Budget: {_budget(rep, '&le;')}"
             f". Protocol: {html.escape(rep.protocol_desc or 'unknown')}. Multi-Adds at 1280x720 output; "
             "PSNR/SSIM on the Y channel with a scale-pixel border crop, on the study's validation images.</p>"]
    audit = fidelity_line(rep)
    if audit:
        parts.append(f"<p class='fidelity'>{html.escape(audit)}</p>")
    if rep.front.empty:
        parts.append("<p class='empty'><b>No feasible COMPLETE trial yet</b>: there is no Pareto front to show. "
                     "Run the study (or resume it) and refresh this report.</p>")
    figs = [_scatter(rep, "params", "parameters"), _scatter(rep, "macs", "Multi-Adds (G)")]
    if len(rep.hv):
        hv = go.Figure(go.Scatter(x=rep.hv["number"], y=rep.hv["hypervolume"], mode="lines+markers", line_shape="hv"))
        hv.update_layout(title="Search progress: hypervolume of the feasible front after each trial (normalised)",
                         xaxis_title="trial", yaxis_title="hypervolume", template="plotly_white", height=360)
        figs.append(hv)
    for i, fig in enumerate(figs):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    parts.append("<h2>Pareto-optimal trials</h2>")
    if rep.front.empty:
        parts.append("<p>None yet.</p>")
    else:
        t = rep.front[["number", "params", "macs", "psnr", "ssim", "arch", "baseline"]].copy()
        t["macs"] = (t["macs"] / 1e9).map(lambda v: f"{v:.2f} G")
        t["params"] = t["params"].map(lambda v: f"{int(v):,}")
        t["psnr"] = t["psnr"].map(lambda v: f"{v:.3f}")
        t["ssim"] = t["ssim"].map(lambda v: f"{v:.4f}")
        t["spec"] = t["number"].map(lambda n: f"<a href='pareto/{int(n):03d}.json'>pareto/{int(n):03d}.json</a>")
        t = t.astype(object).fillna("")
        parts.append(t.to_html(index=False, escape=False, classes="table"))
    parts.append("<h2>Published results (not from this study)</h2>"
                 "<p>The paper's Table II, x4: <b>fully trained</b> on DIV2K for about 1M iterations, as published. "
                 "A short search trial cannot reach these figures; compare candidates with the paper's designs "
                 "trained in this study under the same protocol (the stars above). The published Multi-Adds count "
                 "every conv at LR resolution (about 18% low for s-LWSR).</p>")
    parts.append(paper.astype(object).fillna("-").to_html(index=False, classes="table"))
    style = ("<style>body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
             ".table{border-collapse:collapse;font-size:13px}.table td,.table th{border:1px solid #ccc;padding:3px 6px}"
             "code{font-size:12px}.empty{background:#fff3cd;padding:8px}</style>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(rep.study)}: Pareto report</title>"
            f"{style}</head><body>" + "\n".join(parts) + "</body></html>")


# ----- files --------------------------------------------------------------------------------------

#: What :func:`write_report` writes, for the commands' messages.
REPORT_FILES = "index.html, trials.csv, pareto.csv, summary.md, pareto/"


def write_report(rep: Report, out_dir: str | Path) -> Path:
    """Write ``index.html``, ``trials.csv``, ``pareto.csv``, ``summary.md`` and ``pareto/NNN.json``."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "pareto").mkdir(exist_ok=True)
        for old in (out / "pareto").glob("*.json"):
            old.unlink()  # a refreshed report lists only the current front
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"{out}: cannot write the report there ({e.strerror or e})") from None
    rep.trials.reindex(columns=CSV_COLUMNS).to_csv(out / "trials.csv", index=False)
    rep.front.reindex(columns=CSV_COLUMNS).to_csv(out / "pareto.csv", index=False)
    (out / "summary.md").write_text(summary_markdown(rep))
    for _, r in rep.front.iterrows():
        ArchSpec.from_json(r["spec"]).save(out / "pareto" / f"{int(r['number']):03d}.json")
    (out / "index.html").write_text(render_html(rep, published_frame()), encoding="utf-8")
    return out


# ----- the fidelity audit -----------------------------------------------------------------------------


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
        return (f"{len(summary.designs)} design(s) with every training done: too few to rank "
                f"(resume the audit to finish {summary.missing} more)")
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
