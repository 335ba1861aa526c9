"""A study's report, read from its storage with the fidelity audit that goes with it: what ``slwsr
report`` writes and what a run ends with. Imports no torch."""

from __future__ import annotations

from pathlib import Path

import optuna

from ..audit.stats import read_audit, read_first_audit
from ..reporting.compute import Report, build_report
from ..reporting.render import write_report
from ..search.resources import default_report_dir, study_audit_files
from ..search.storage import open_existing_study
from ..search.study import StudyConfig


def study_report(cfg: StudyConfig, study: optuna.Study, report_dir: str | Path,
                 audit_file: str | Path | None = None) -> Report:
    """``cfg``'s ``study`` read once for the report that goes to ``report_dir``, stating its fidelity
    audit: ``audit_file`` when given, else the first of the report folder's and the built-in
    study's (:func:`~..search.resources.study_audit_files`) that exists."""
    audit = read_audit(audit_file) if audit_file else read_first_audit(study_audit_files(Path(report_dir), cfg.path))
    return build_report(study, list(cfg.objectives), cfg.max_params, audit, cfg.max_latency_ms, cfg.max_macs,
                        cfg.max_int8_drop_db, cfg.space.scale)


def write_study_report(cfg: StudyConfig, storage: str, out: str | Path | None = None,
                       audit_file: str | Path | None = None) -> Path:
    """Load ``cfg``'s study from ``storage`` and write its report (default ``reports/<name>``),
    stating its fidelity audit when one exists; the folder written."""
    out = Path(out or default_report_dir(cfg.name))
    return write_report(study_report(cfg, open_existing_study(cfg, storage), out, audit_file), out)
