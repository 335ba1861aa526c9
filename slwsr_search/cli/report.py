"""``slwsr report`` / ``python -m slwsr_search.report``: export a study's Pareto report
(:func:`slwsr_search.jobs.report.write_study_report`)."""

from __future__ import annotations

from typing import Sequence

from ..reporting.render import REPORT_FILES
from ..search.storage import STORAGE_ENV, mask_url, resolve_storage
from ..search.study import StudyConfig
from ..jobs.report import write_study_report
from .common import Parser

SUMMARY = "export a study's Pareto report: interactive HTML, CSV, Markdown and one spec per Pareto point"


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description="Export a study's Pareto report: index.html (interactive, offline), trials.csv, "
               "pareto.csv, summary.md and pareto/NNN.json (one spec per Pareto point).",
               epilog="example:\n  slwsr report --study budget150k    # -> reports/budget150k/ under the current folder")
    p.add_argument("--study", required=True, metavar="NAME", help="a built-in study, or a path to a study TOML")
    p.add_argument("--storage", metavar="URL", help=f"Optuna storage URL (default: ${STORAGE_ENV}, else the study's)")
    p.add_argument("--out", metavar="DIR", help="output folder (default reports/NAME under the current folder)")
    p.add_argument("--fidelity", metavar="FILE.json",
                   help="a fidelity audit (fidelity.json) to state in the report when it audited this study's screening "
                        "(default OUT/fidelity/fidelity.json when present, else the audit shipped with a built-in study)")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "slwsr report") -> int:
    args = build_parser(prog).parse_args(argv)
    cfg = StudyConfig.load(args.study)
    storage = resolve_storage(args.storage, cfg)
    out = write_study_report(cfg, storage, args.out, args.fidelity)
    print(f"report for {cfg.name} ({mask_url(storage)}) written to {out}/: {REPORT_FILES}", flush=True)
    return 0
