"""Drawing a :class:`~.compute.Report`: the HTML page, the Markdown summary, the terminal lines and
the exported files. Renderers only draw what the report already split; none filters trials."""

from __future__ import annotations

import html
from pathlib import Path

import optuna
import pandas as pd

from ..model.spec import ArchSpec
from ..search.study import budget_line
from ..search.record import INFEASIBLE, SCREENED, TrialRecord
from .chart import by_int8, by_latency, by_loss, by_seeds, int8_cell, latency_cell, pareto_scatter
from .compute import CSV_COLUMNS, Report, chart_plan, published_frame
from .notes import report_notes

# ----- terminal -----------------------------------------------------------------------------------


def trial_line(t: optuna.trial.FrozenTrial) -> str:
    """One finished trial as one aligned line: number, params, Multi-Adds (and predicted latency in a
    study priced by it), result, seconds, arch."""
    r = TrialRecord.of(t)
    params = f"{r.params:>9,}" if r.params is not None else " " * 9
    macs = f"{r.macs / 1e9:>6.2f} G" if r.macs is not None else " " * 8
    if r.latency_ms is not None:  # a study priced by latency: its prediction beside the cost
        macs += f" {r.latency_ms:>6.0f} ms"
    if r.status == INFEASIBLE:
        what = "over budget: not trained"
    elif t.state == optuna.trial.TrialState.FAIL:
        what = f"FAILED: {r.reason or t.system_attrs.get('fail_reason', '')}"
    elif r.psnr is not None:
        what = f"PSNR {r.psnr:6.3f}  SSIM {r.ssim:.4f}"
    elif r.status == SCREENED and r.rung_psnr:
        what = f"screened: PSNR {r.rung_psnr[-1]:6.3f} at rung {r.rung}"
    else:
        what = t.state.name
    extra = f"  loss {r.loss:.3f}" if r.loss is not None else ""
    if r.int8_psnr is not None:
        extra += f"  int8 {r.int8_psnr:.3f} ({-r.int8_drop_db:+.3f})"
    if r.psnr_spread is not None:
        extra += f"  [{len(r.seed_psnr)} seeds: {r.psnr_spread[0]:.3f}-{r.psnr_spread[1]:.3f}]"
    if r.rung_psnr and len(r.rung_psnr) > 1:
        extra += "  [rungs " + " > ".join(f"{p:.3f}" for p in r.rung_psnr) + "]"
    extra += f"  (= #{r.duplicate_of})" if r.duplicate_of is not None else ""
    extra += f"  (retry of #{r.retry_of})" if r.retry_of is not None else ""
    extra += f"  [{r.baseline}]" if r.baseline else ""
    secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else 0.0
    return f"#{t.number:<4} {params} {macs}  {what:<31} {secs:6.1f} s  {r.arch or '?'}{extra}"


def _seeds(r: pd.Series) -> str:
    """``3 (28.41-28.62)``: seeds at the top rung and their PSNR range; ``1`` for one seed."""
    n = 1 if pd.isna(r["seeds"]) else int(r["seeds"])
    return f"{n} ({r['psnr_min']:.2f}-{r['psnr_max']:.2f})" if n > 1 else str(n)


def _noise_tag(rep: Report, number: int) -> str:
    """A mark on a front point whose PSNR gap to the next point is within the seed spread."""
    hit = rep.noise is not None and ((rep.noise["number"] == number) & (rep.noise["within_noise"] == True)).any()  # noqa: E712
    return f"  ~ #{int(rep.noise.loc[rep.noise['number'] == number, 'next'].iloc[0])} within noise" if hit else ""


def _latency_note(rep: Report) -> str:
    """Whose latency the tables show: the prediction names its table's machine (a phone's table
    predicts the phone's time); ``meas.`` is said only where a front point was measured, which a
    run does on the table's own machine only."""
    on = rep.latency_machine or "the machine of the study's latency table"
    note = (f"latency: time per image in ms at 1280x720 output, predicted for {on} from its latency table "
            "(docs/latency.md)")
    if rep.front["measured_latency_ms"].notna().any():
        note += "; meas.: measured after the run on that same machine, in turns, on the table's runtime and threads"
    return note + "."


def _noise_notes(rep: Report) -> list[str]:
    """What the noise marks mean, how the front was chosen, and how many designs stopped below the top rung."""
    out = []
    if by_latency(rep):
        out.append(_latency_note(rep))
    if by_loss(rep):
        out.append("front: chosen by the training loss (the study's objective: mean L1 on 0-255 pixels over the last "
                   "quarter of the steps, mean over seeds), which ranks designs closer to a long real-data training than "
                   "the validation PSNR does (docs/fidelity.md); PSNR is shown beside it, so a front point may have a "
                   "lower PSNR than a dominated one.")
    measured = rep.noise is not None and rep.noise["within_noise"].notna().any()
    if measured:
        out.append("~ #N within noise: the PSNR gap to the next Pareto point is no larger than the seed spread "
                   "(max - min over seeds) of either design: their order is not established.")
    elif len(rep.front) > 1 and by_seeds(rep):  # a supernet's scores have no seeds: its audit says how far to trust them
        out.append("noise: one seed per design at the top, so the front's PSNR gaps are unmeasured "
                   "(a study's [fidelity] seeds_at_top = 2 or more measures them).")
    if rep.screened is not None and len(rep.screened):
        out.append(f"screened: {len(rep.screened)} design(s) stopped below the top rung (scored at a lower rung only; "
                   "not on the front).")
    return out


def _where(on_front: bool) -> str:
    return "on the Pareto front" if on_front else "dominated"


def front_table(rep: Report) -> str:
    """The Pareto-optimal trials and where each baseline stands, as terminal text."""
    if rep.front.empty:
        return "\n".join(["no feasible COMPLETE trial yet: no Pareto front", *report_notes(rep)])
    loss, lat, int8, seeds = by_loss(rep), by_latency(rep), by_int8(rep), by_seeds(rep)
    lines = [f"Pareto-optimal trials ({len(rep.front)} of {len(rep.trials)}; feasible, objectives {', '.join(rep.objectives)}):",
             f"{'#':<5} {'params':>9} {'Multi-Adds':>10} " + (f"{'latency ms':>22} " if lat else "")
             + (f"{'loss':>7} " if loss else "") + f"{'PSNR':>7} " + (f"{'seeds (min-max)':>19} " if seeds else "")
             + f"{'SSIM':>7}  "
             + (f"{'int8 PSNR (lost)':>17}  " if int8 else "") + "arch"]
    for _, r in rep.front.iterrows():
        tag = f"  [{r['baseline']}]" if isinstance(r["baseline"], str) else ""
        lines.append(f"{r['number']:<5} {int(r['params']):>9,} {r['gmacs']:>8.2f} G "
                     + (f"{latency_cell(r):>22} " if lat else "") + (f"{r['loss']:>7.3f} " if loss else "")
                     + f"{r['psnr']:>7.3f} " + (f"{_seeds(r):>19} " if seeds else "") + f"{r['ssim']:>7.4f}  " + (f"{int8_cell(r):>17}  " if int8 else "")
                     + f"{r['arch']}{tag}{_noise_tag(rep, r['number'])}")
    lines += _noise_notes(rep)
    for _, r in rep.baselines.iterrows():
        lines.append(f"baseline {r['baseline']}: #{r['number']}, PSNR {r['psnr']:.3f}, {int(r['params']):,} params: "
                     f"{_where(r['pareto_optimal'])}")
    return "\n".join(lines + report_notes(rep))


# ----- Markdown -----------------------------------------------------------------------------------


def _markdown_table(rep: Report) -> str:
    loss, lat, int8, seeds = by_loss(rep), by_latency(rep), by_int8(rep), by_seeds(rep)
    lines = ["| trial | params | Multi-Adds (G) | " + ("latency (ms) | " if lat else "") + ("training loss | " if loss else "")
             + "PSNR (dB) | " + ("seeds (min-max) | " if seeds else "") + "SSIM | " + ("int8 PSNR (lost) | " if int8 else "")
             + "arch | baseline |",
             "|---|---|---|" + ("---|" if lat else "") + ("---|" if loss else "") + ("---|" if int8 else "")
             + ("---|" if seeds else "") + "---|---|---|---|"]
    for _, r in rep.front.iterrows():
        base = r["baseline"] if isinstance(r["baseline"], str) else ""
        lines.append(f"| {r['number']} | {int(r['params']):,} | {r['macs'] / 1e9:.2f} | "
                     + (f"{latency_cell(r)} | " if lat else "") + (f"{r['loss']:.3f} | " if loss else "")
                     + f"{r['psnr']:.3f} | " + (f"{_seeds(r)} | " if seeds else "") + f"{r['ssim']:.4f} | "
                     + (f"{int8_cell(r)} | " if int8 else "")
                     + f"`{r['arch']}` | "
                     f"{(base + _noise_tag(rep, r['number'])).strip()} |")
    return "\n".join(lines)


def _budget(rep: Report, le: str = "<=") -> str:
    return budget_line(rep.max_params, rep.max_macs, rep.max_latency_ms, le, rep.max_int8_drop_db)


def summary_markdown(rep: Report) -> str:
    """The Pareto table in Markdown, with the context a reader of a pull request needs."""
    n = len(rep.trials)
    head = [f"# Study `{rep.study}`: Pareto front", "",
            f"- trials: {n} (" + ", ".join(f"{v} {k}" for k, v in sorted(rep.states.items())) + ")" if n else "- trials: none",
            f"- objectives: {', '.join(rep.objectives)}; budget: {_budget(rep)}",
            f"- protocol: {rep.protocol_desc or 'unknown'}",
            "- Multi-Adds: conv multiply-accumulates at 1280x720 output; PSNR/SSIM: Y channel, scale-pixel border crop.",
            *(f"- {note}" for note in report_notes(rep)),
            ""]
    if rep.front.empty:
        return "\n".join(head + ["No feasible COMPLETE trial yet: there is no Pareto front to show.", ""])
    body = [_markdown_table(rep), "", *[f"- {n}" for n in _noise_notes(rep)]]
    for _, r in rep.baselines.iterrows():
        body.append(f"- baseline **{r['baseline']}** (trial {r['number']}): PSNR {r['psnr']:.3f} dB, "
                    f"{int(r['params']):,} params: {_where(r['pareto_optimal'])}.")
    body.append("")
    return "\n".join(head + body)


# ----- HTML -------------------------------------------------------------------------------------


def report_figures(rep: Report) -> list:
    """The report's plotly figures, in page order: each chart of :func:`~.compute.chart_plan`, then
    the search's progress (hypervolume after each trial)."""
    import plotly.graph_objects as go

    figs = [pareto_scatter(rep, chart) for chart in chart_plan(rep.objectives)]
    if len(rep.hv):
        hv = go.Figure(go.Scatter(x=rep.hv["number"], y=rep.hv["hypervolume"], mode="lines+markers", line_shape="hv"))
        hv.update_layout(title="Search progress: hypervolume of the feasible front after each trial (normalised)",
                         xaxis_title="trial", yaxis_title="hypervolume", template="plotly_white", height=360)
        figs.append(hv)
    return figs


def render_html(rep: Report, paper: pd.DataFrame) -> str:
    """The report page: charts (plotly.js embedded once, so it opens offline) and tables."""
    parts = [f"<h1>Study <code>{html.escape(rep.study)}</code></h1>",
             f"<p>{len(rep.trials)} trials. Objectives: {', '.join(rep.objectives)}. Budget: {_budget(rep, '&le;')}"
             f". Protocol: {html.escape(rep.protocol_desc or 'unknown')}. Multi-Adds at 1280x720 output; "
             "PSNR/SSIM on the Y channel with a scale-pixel border crop, on the study's validation images.</p>"]
    parts += [f"<p class='fidelity'>{html.escape(note)}</p>" for note in report_notes(rep)]
    if rep.front.empty:
        parts.append("<p class='empty'><b>No feasible COMPLETE trial yet</b>: there is no Pareto front to show. "
                     "Run the study (or resume it) and refresh this report.</p>")
    for i, fig in enumerate(report_figures(rep)):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    parts.append("<h2>Pareto-optimal trials</h2>")
    if rep.front.empty:
        parts.append("<p>None yet.</p>")
    else:
        t = rep.front[["number", "params", "macs", *(["loss"] if by_loss(rep) else []), "psnr", "ssim", "arch",
                       "baseline"]].copy()
        if by_latency(rep):
            t.insert(3, "latency (ms)", [latency_cell(r) for _, r in rep.front.iterrows()])
        if by_loss(rep):
            t["loss"] = t["loss"].map(lambda v: f"{v:.3f}")
        t["macs"] = (t["macs"] / 1e9).map(lambda v: f"{v:.2f} G")
        t["params"] = t["params"].map(lambda v: f"{int(v):,}")
        t["psnr"] = t["psnr"].map(lambda v: f"{v:.3f}")
        at = list(t.columns).index("psnr") + 1
        if by_seeds(rep):  # a supernet's scores have neither seeds nor their noise marks
            t.insert(at, "seeds (min-max)", [_seeds(r) for _, r in rep.front.iterrows()])
            t.insert(at + 1, "noise", [_noise_tag(rep, n).strip() for n in rep.front["number"]])
        t["ssim"] = t["ssim"].map(lambda v: f"{v:.4f}")
        t["spec"] = t["number"].map(lambda n: f"<a href='pareto/{int(n):03d}.json'>pareto/{int(n):03d}.json</a>")
        t = t.astype(object).fillna("")
        parts.append(t.to_html(index=False, escape=False, classes="table"))
        parts += [f"<p>{html.escape(n)}</p>" for n in _noise_notes(rep)]
    if rep.screened is not None and len(rep.screened):
        parts.append("<h2>Screened designs (stopped below the top rung)</h2><p>Scored at a lower rung only, with less "
                     "training than the front's designs: their PSNR is not comparable with the front's and they are "
                     "not drawn above.</p>")
        sc = rep.screened[["number", "params", "macs", "rung", "rung_psnr", "arch"]].copy()
        sc["macs"] = (sc["macs"] / 1e9).map(lambda v: f"{v:.2f} G")
        sc["params"] = sc["params"].map(lambda v: f"{int(v):,}")
        sc = sc.rename(columns={"rung": "stopped at rung", "rung_psnr": "PSNR at each rung (dB)"})
        parts.append(sc.astype(object).fillna("").to_html(index=False, classes="table"))
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
