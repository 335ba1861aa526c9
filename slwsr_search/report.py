"""Compute, then render: a study's trials as a DataFrame, and its Pareto front (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from .config import ROOT
from .spec import ArchSpec

#: Where reports go by default: ``reports/<study>/``.
REPORTS_DIR = ROOT / "reports"

#: Columns of :func:`trials_frame`, in order.
TRIAL_COLUMNS = ["number", "state", "params", "macs", "gmacs", "psnr", "ssim", "feasible", "trained", "baseline",
                 "duplicate_of", "retry_of", "arch", "hash", "train_seed", "train_seconds", "steps_per_s", "device", "worker",
                 "status", "reason", "spec"]

#: Objective name -> (column, direction) for :func:`pareto_mask`.
DIRECTIONS = {"psnr": ("psnr", "maximize"), "ssim": ("ssim", "maximize"),
              "params": ("params", "minimize"), "macs": ("macs", "minimize")}


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial with the user attrs the runner records (see the README's trial attrs)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        macs = a.get("macs")
        rows.append({
            "number": t.number, "state": t.state.name, "params": a.get("params"), "macs": macs,
            "gmacs": None if macs is None else macs / 1e9, "psnr": a.get("psnr"), "ssim": a.get("ssim"),
            "feasible": a.get("feasible"), "trained": a.get("status") in ("ok", "nonfinite", "oom") and "duplicate_of" not in a,
            "baseline": a.get("baseline"), "duplicate_of": a.get("duplicate_of"), "retry_of": a.get("retry_of"),
            "arch": a.get("arch"), "hash": a.get("hash"), "train_seed": a.get("train_seed"),
            "train_seconds": a.get("train_seconds"), "steps_per_s": a.get("steps_per_s"),
            "device": a.get("device"), "worker": a.get("worker"), "status": a.get("status"), "reason": a.get("reason") or _fail_reason(t),
            "spec": a.get("spec"),
        })
    df = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    # nullable integers: a CSV says 3, not 3.0, and an empty cell where there is none
    return df.astype({"number": int, "duplicate_of": "Int64", "retry_of": "Int64", "train_seed": "Int64"}) if len(df) else df


def _fail_reason(t: optuna.trial.FrozenTrial) -> str | None:
    if t.state == optuna.trial.TrialState.FAIL:
        if "status" not in t.user_attrs and "fail_reason" not in t.system_attrs:
            return "its worker died (no heartbeat); retried up to the study's max_retry"
        return t.system_attrs.get("fail_reason")
    return None


def scored_mask(df: pd.DataFrame) -> pd.Series:
    """Rows that can be on a front: COMPLETE, within budget, and trained (or reusing a training)."""
    return (df["state"] == "COMPLETE") & (df["feasible"] == True) & df["psnr"].notna()  # noqa: E712


def _minimised(df: pd.DataFrame, objectives: list[str]) -> np.ndarray:
    """The objectives' columns as an (n, d) float array, each turned into 'smaller is better'."""
    return np.column_stack([df[c].astype(float).to_numpy() * (-1 if d == "maximize" else 1)
                            for c, d in (DIRECTIONS[o] for o in objectives)])


def pareto_mask(df: pd.DataFrame, objectives: list[str]) -> pd.Series:
    """True for rows that are feasible, COMPLETE, scored, and not dominated by another such row
    in the objectives' directions (:data:`DIRECTIONS`). Duplicate rows (equal on every
    objective) are all kept."""
    ok = scored_mask(df)
    mask = pd.Series(False, index=df.index)
    if not ok.any():
        return mask
    pts = _minimised(df[ok], objectives)
    idx = df.index[ok]
    for i in range(len(pts)):
        dominated = np.any(np.all(pts <= pts[i], axis=1) & np.any(pts < pts[i], axis=1))
        mask[idx[i]] = not dominated
    return mask


def pareto_front(df: pd.DataFrame, objectives: list[str]) -> pd.DataFrame:
    """The Pareto-optimal rows, by increasing parameters."""
    return df[pareto_mask(df, objectives)].sort_values(["params", "number"])


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


def hypervolume_history(df: pd.DataFrame, objectives: list[str], max_params: int | None = None) -> pd.DataFrame:
    """Normalised hypervolume of the feasible front after each trial (by trial number).

    Objectives are scaled to [0, 1] between the best value seen and a reference just beyond the
    worst (for ``params``, the budget when there is one), so 1.0 would be a single trial best at
    everything. Columns: ``number``, ``hypervolume``.
    """
    ok = scored_mask(df)
    if not ok.any():
        return pd.DataFrame({"number": df["number"], "hypervolume": 0.0})
    raw = _minimised(df, objectives)
    good = raw[ok.to_numpy()]
    lo, hi = good.min(axis=0), good.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    ref_raw = hi + 0.1 * span
    for j, o in enumerate(objectives):
        if o == "params" and max_params is not None:
            ref_raw[j] = max(ref_raw[j], float(max_params))
    norm = (raw - lo) / (ref_raw - lo)
    out, seen, hv = [], [], 0.0
    order = np.argsort(df["number"].to_numpy(), kind="stable")
    for i in order:
        if ok.iloc[i]:  # the front changes only with a scored trial: recompute then
            seen.append(norm[i])
            hv = hypervolume(np.array(seen), np.ones(len(objectives)))
        out.append(hv)
    return pd.DataFrame({"number": df["number"].to_numpy()[order], "hypervolume": out})


#: The paper's Table II (x4, fully trained on DIV2K, ~1M iterations): model, params (K),
#: Multi-Adds (G, as published), Set5 / Set14 / B100 / Urban100 PSNR and SSIM.
PAPER_TABLE_II = [
    ("Bicubic", None, None, 28.42, 0.810, 26.10, 0.704, 25.96, 0.669, 23.15, 0.659),
    ("FSRCNN", 12, 4.6, 30.71, 0.866, 27.59, 0.753, 26.98, 0.715, 24.62, 0.728),
    ("SRCNN", 57, 52.7, 30.48, 0.863, 27.49, 0.750, 26.90, 0.710, 24.52, 0.722),
    ("s-LWSR16", 144, 8.3, 31.62, 0.886, 27.92, 0.770, 27.35, 0.729, 25.36, 0.762),
    ("s-LWSR16+", 144, 8.3, 31.78, 0.889, 28.00, 0.772, 27.40, 0.730, 25.45, 0.765),
    ("CARN-M", 412, 18.3, 31.92, 0.890, 28.42, 0.776, 27.44, 0.730, 25.63, 0.769),
    ("s-LWSR32", 571, 32.9, 32.04, 0.893, 28.15, 0.776, 27.52, 0.734, 25.87, 0.779),
    ("s-LWSR32+", 571, 32.9, 32.15, 0.894, 28.24, 0.778, 27.58, 0.736, 26.00, 0.782),
    ("IDN", 600, 34.5, 31.82, 0.890, 28.25, 0.773, 27.41, 0.730, 25.41, 0.763),
    ("VDSR", 665, 612.6, 31.35, 0.884, 28.01, 0.767, 27.29, 0.725, 25.18, 0.752),
    ("MemNet", 677, 623.9, 31.74, 0.889, 28.26, 0.772, 27.40, 0.728, 25.50, 0.763),
    ("LapSRN", 813, 149.4, 31.54, 0.885, 28.19, 0.772, 27.32, 0.728, 25.21, 0.756),
    ("CARN", 1592, 65.4, 32.13, 0.894, 28.60, 0.781, 27.58, 0.735, 26.07, 0.784),
    ("DRCN", 1774, 9788.7, 31.53, 0.885, 28.02, 0.767, 27.23, 0.723, 25.14, 0.751),
    ("s-LWSR64", 2277, 131.1, 32.28, 0.896, 28.34, 0.780, 27.61, 0.738, 26.19, 0.791),
    ("s-LWSR64+", 2277, 131.1, 32.42, 0.898, 28.42, 0.782, 27.69, 0.739, 26.39, 0.795),
    ("D-DBPN", 10426, 590.2, 32.47, 0.898, 28.82, 0.786, 27.72, 0.740, 26.38, 0.795),
    ("EDSR", 43090, 2482.0, 32.46, 0.897, 28.80, 0.788, 27.71, 0.742, 26.64, 0.803),
]


def paper_table() -> pd.DataFrame:
    """The paper's Table II as a DataFrame (published figures, fully trained; not ours)."""
    cols = ["model", "params_k", "gmacs_published", "set5_psnr", "set5_ssim", "set14_psnr", "set14_ssim",
            "b100_psnr", "b100_ssim", "urban100_psnr", "urban100_ssim"]
    return pd.DataFrame(PAPER_TABLE_II, columns=cols).astype({"params_k": "Int64"})


# ----- writing a report ------------------------------------------------------------------------------

CSV_COLUMNS = ["number", "state", "params", "macs", "psnr", "ssim", "feasible", "pareto_optimal", "baseline",
               "duplicate_of", "retry_of", "arch", "hash", "train_seed", "train_seconds", "steps_per_s", "device",
               "worker", "status", "reason"]


@dataclass
class Report:
    """Everything a report shows, computed from a study (rendering is separate)."""

    study: str
    objectives: list[str]
    max_params: int | None
    trials: pd.DataFrame
    pareto: pd.DataFrame
    hv: pd.DataFrame
    protocol_desc: str


def build_report(study: optuna.Study, objectives: list[str], max_params: int | None) -> Report:
    df = trials_frame(study)
    if len(df):
        df["pareto_optimal"] = pareto_mask(df, objectives)
        front = pareto_front(df, objectives)
        hv = hypervolume_history(df, objectives, max_params)
    else:
        df["pareto_optimal"] = pd.Series(dtype=bool)
        front, hv = df.copy(), pd.DataFrame({"number": [], "hypervolume": []})
    return Report(study.study_name, list(objectives), max_params, df, front, hv,
                  str(study.user_attrs.get("protocol_desc", "")))


def _markdown_table(front: pd.DataFrame) -> str:
    lines = ["| trial | params | Multi-Adds (G) | PSNR (dB) | SSIM | arch | baseline |", "|---|---|---|---|---|---|---|"]
    for _, r in front.iterrows():
        base = r["baseline"] if isinstance(r["baseline"], str) else ""
        lines.append(f"| {r['number']} | {int(r['params']):,} | {r['macs'] / 1e9:.2f} | {r['psnr']:.3f} | "
                     f"{r['ssim']:.4f} | `{r['arch']}` | {base} |")
    return "\n".join(lines)


def summary_markdown(rep: Report) -> str:
    """The Pareto table in Markdown, with the context a reader of a pull request needs."""
    df = rep.trials
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    head = [f"# Study `{rep.study}`: Pareto front", "",
            f"- trials: {len(df)} (" + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + ")" if len(df) else "- trials: none",
            f"- objectives: {', '.join(rep.objectives)}; budget: "
            + (f"params <= {rep.max_params:,}" if rep.max_params else "none"),
            f"- protocol: {rep.protocol_desc or 'unknown'}",
            "- Multi-Adds: conv multiply-accumulates at 1280x720 output; PSNR/SSIM: Y channel, scale-pixel border crop.",
            ""]
    if rep.pareto.empty:
        return "\n".join(head + ["No feasible COMPLETE trial yet: there is no Pareto front to show.", ""])
    body = [_markdown_table(rep.pareto), ""]
    base = df[df["baseline"].notna() & (df["state"] == "COMPLETE")]
    for _, r in base.iterrows():
        where = "on the Pareto front" if r["pareto_optimal"] else "dominated"
        body.append(f"- baseline **{r['baseline']}** (trial {r['number']}): PSNR {r['psnr']:.3f} dB, "
                    f"{int(r['params']):,} params: {where}.")
    body.append("")
    return "\n".join(head + body)


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
    rep.pareto.reindex(columns=CSV_COLUMNS).to_csv(out / "pareto.csv", index=False)
    (out / "summary.md").write_text(summary_markdown(rep))
    for _, r in rep.pareto.iterrows():
        spec = ArchSpec.from_json(r["spec"])
        spec.save(out / "pareto" / f"{int(r['number']):03d}.json")
    (out / "index.html").write_text(render_html(rep, paper_table()), encoding="utf-8")
    return out


# ----- rendering (a thin layer over the frames above) ------------------------------------------------


def _hover(r: pd.Series) -> str:
    psnr = "not trained" if pd.isna(r["psnr"]) else f"{r['psnr']:.3f} dB"
    ssim = "" if pd.isna(r["ssim"]) else f"<br>SSIM {r['ssim']:.4f}"
    base = f"<br>baseline {r['baseline']}" if isinstance(r["baseline"], str) else ""
    return (f"trial {r['number']}<br>{r['arch']}<br>{int(r['params']):,} params<br>"
            f"{r['macs'] / 1e9:.2f} G Multi-Adds<br>PSNR {psnr}{ssim}{base}")


def _scatter(rep: Report, x: str, x_title: str):
    import plotly.graph_objects as go

    df = rep.trials.copy()
    df["gx"] = df[x] / 1e9 if x == "macs" else df[x]
    fig = go.Figure()
    trained = df[scored_mask(df)]
    floor = (trained["psnr"].min() - 0.3) if len(trained) else 0.0
    others = trained[~trained["pareto_optimal"].astype(bool)]
    fig.add_trace(go.Scatter(x=others["gx"], y=others["psnr"], mode="markers", name="feasible, dominated",
                             marker=dict(color="#8fa8c8", size=8), hovertext=[_hover(r) for _, r in others.iterrows()],
                             hoverinfo="text"))
    front = trained[trained["pareto_optimal"].astype(bool)].sort_values("gx")
    fig.add_trace(go.Scatter(x=front["gx"], y=front["psnr"], mode="lines+markers", name="Pareto front",
                             line=dict(color="#d62728", shape="hv"), marker=dict(color="#d62728", size=10),
                             hovertext=[_hover(r) for _, r in front.iterrows()], hoverinfo="text"))
    infeasible = df[(df["feasible"] == False) & df["params"].notna()]  # noqa: E712
    fig.add_trace(go.Scatter(x=infeasible["gx"], y=[floor] * len(infeasible), mode="markers",
                             name="over budget (priced, not trained)", marker=dict(color="#999999", symbol="x", size=7),
                             hovertext=[_hover(r) for _, r in infeasible.iterrows()], hoverinfo="text"))
    failed = df[df["state"] == "FAIL"]
    if len(failed):
        fig.add_trace(go.Scatter(x=failed["gx"], y=[floor] * len(failed), mode="markers", name="training failed",
                                 marker=dict(color="#000000", symbol="triangle-down", size=8),
                                 hovertext=[f"trial {r['number']}: {r['reason']}<br>{r['arch']}" for _, r in failed.iterrows()],
                                 hoverinfo="text"))
    base = trained[trained["baseline"].notna()]
    fig.add_trace(go.Scatter(x=base["gx"], y=base["psnr"], mode="markers+text", name="paper's designs (same protocol)",
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
    import html

    import plotly.graph_objects as go

    parts = [f"<h1>Study <code>{html.escape(rep.study)}</code></h1>",
             f"<p>{len(rep.trials)} trials. Objectives: {', '.join(rep.objectives)}. Budget: "
             + (f"params &le; {rep.max_params:,}" if rep.max_params else "none")
             + f". Protocol: {html.escape(rep.protocol_desc or 'unknown')}. Multi-Adds at 1280x720 output; "
             "PSNR/SSIM on the Y channel with a scale-pixel border crop, on the study's validation images.</p>"]
    if rep.pareto.empty:
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
    if rep.pareto.empty:
        parts.append("<p>None yet.</p>")
    else:
        t = rep.pareto[["number", "params", "macs", "psnr", "ssim", "arch", "baseline"]].copy()
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


# ----- command line ---------------------------------------------------------------------------------------

PROG = "python -m slwsr_search.report"


def main(argv=None) -> int:
    import sys

    from .cli import Parser
    from .study import StudyConfig, mask_url, resolve_storage

    p = Parser(prog=PROG, description="Export a study's Pareto report: index.html (interactive, offline), trials.csv, "
               "pareto.csv, summary.md and pareto/NNN.json (one spec per Pareto point).",
               epilog="example:\n  python -m slwsr_search.report --study budget150k    # -> reports/budget150k/")
    p.add_argument("--study", required=True, metavar="NAME", help="a study in studies/ (or a path to a study TOML)")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL (default: $SLWSR_STORAGE, else the study's)")
    p.add_argument("--out", metavar="DIR", help="output folder (default reports/NAME)")
    args = p.parse_args(argv)
    cfg = StudyConfig.load(args.study)
    storage = resolve_storage(args.storage, cfg)
    out = write_study_report(cfg, storage, args.out)
    print(f"report for {cfg.name} ({mask_url(storage)}) written to {out}/: index.html, trials.csv, pareto.csv, "
          "summary.md, pareto/")
    sys.stdout.flush()
    return 0


def write_study_report(cfg, storage: str, out: str | Path | None = None) -> Path:
    """Load ``cfg``'s study from ``storage`` and write its report (default ``reports/<name>``)."""
    from .study import open_existing_study

    study = open_existing_study(cfg, storage)
    rep = build_report(study, list(cfg.objectives), cfg.max_params)
    return write_report(rep, out or REPORTS_DIR / cfg.name)


if __name__ == "__main__":
    import sys

    from .cli import run_cli

    sys.exit(run_cli(main, prog=PROG))
