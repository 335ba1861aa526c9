"""A supernet's audit travels with it: ``slwsr supernet audit`` records its headline in the
supernet's state file (:func:`record_audit`), and a study scored by that supernet names it in its
record, report, summary and dashboard (:func:`evaluator_record`). An audit holds only for the
weights it scored: one recorded for other weights (a training continued since) is not shown."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from pathlib import Path
from typing import Any, Sequence

from ..machine import cpu_label
from ..reporting.notes import data_names
from ..training.state import load_state, save_state
from .supernet_scores import SupernetAudit

#: The key of the recorded audits in a supernet file's ``extra``.
AUDITS = "audits"
#: What a study scored by a supernet ranks by, so the score its audit headline reports.
STUDY_SCORE = "supernet_psnr"


def weights_digest(weights: dict[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of a state dict (names and bytes, in name order)."""
    digest = hashlib.sha256()
    for k, v in sorted(weights.items()):
        digest.update(k.encode() + v.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def audit_summary(audit: SupernetAudit, reference: str, val: Sequence[str], digest: str) -> dict[str, Any]:
    """The headline of ``audit`` (the study's score, :data:`STUDY_SCORE`, against parameters alone),
    with what it was measured on and the digest of the weights it scored."""
    rows = {r.name: r for r in audit.rows}
    r, p = rows[STUDY_SCORE], rows["params"]
    return {"reference": Path(reference).name, "horizon": audit.horizon, "finetune": audit.finetune,
            "designs": len(audit.table), "val": data_names(" + ".join(val)), "score": STUDY_SCORE,
            "tau": r.tau, "tau_interval": list(r.tau_interval), "params_tau": p.tau,
            "params_interval": list(p.tau_interval), "minus_params_interval": list(r.tau_minus_params_interval),
            "regret_db": r.regret_db, "level": audit.level, "weights": digest,
            "when": datetime.date.today().isoformat(), "cpu": cpu_label()}


#: What the supernets of one score or audit may differ in (one supernet per width, each its own length).
MAY_DIFFER = ("widths", "steps")


def _kind(setup: Any, state: Any) -> dict[str, Any]:
    return {**setup.to_dict(), **state.protocol}


def check_together(parts: Sequence[tuple[Path, Any, Any]]) -> None:
    """``(path, setup, state)`` of supernets scored together: ``ValueError`` naming the file and the
    field in which one differs from the first beyond :data:`MAY_DIFFER`."""
    (p0, s0, st0), *rest = parts
    first = _kind(s0, st0)
    for p, su, st in rest:
        this = _kind(su, st)
        bad = [k for k, v in first.items() if k not in MAY_DIFFER and this.get(k) != v]
        if bad:
            raise ValueError(f"{p}: trained with {bad[0]} {this.get(bad[0])!r}, {p0} with {first[bad[0]]!r}; "
                             f"supernets scored together differ only in {' and '.join(MAY_DIFFER)}")


def audit_document(parts: Sequence[tuple[Path, Any, Any]], audit: SupernetAudit, reference: str, val: Sequence[str],
                   device: str) -> dict[str, Any]:
    """What ``slwsr supernet audit --out`` writes: the supernet(s) (``(path, setup, state)`` each;
    for several, ``parts`` with each one's file, steps, widths and plan, ``steps`` their sum and the
    setup's ``widths`` their union), the reference, validation images, machine and the audit."""
    (path, setup, state), many = parts[0], len(parts) > 1
    doc: dict[str, Any] = {"supernet": [str(p) for p, _, _ in parts] if many else str(path),
                           "steps": sum(st.steps for _, _, st in parts), "plan": state.protocol,
                           "setup": {**setup.to_dict(), "widths": sorted({w for _, su, _ in parts for w in su.widths})}}
    if many:
        doc["parts"] = [{"supernet": str(p), "steps": st.steps, "widths": list(su.widths), "plan": st.protocol}
                        for p, su, st in parts]
    return {**doc, "reference": reference, "val": list(val), "cpu": cpu_label(), "device": device, **audit.to_dict()}


def record_audit(path: str | Path, summary: dict[str, Any]) -> None:
    """Add ``summary`` to the audits of the supernet file ``path`` (rewritten atomically), in place
    of an earlier one of the same weights, reference, horizon, validation images and fine-tune."""
    state = load_state(path)
    same = ("weights", "reference", "horizon", "val", "finetune")
    kept = [a for a in state.extra.get(AUDITS, []) if any(a.get(k) != summary[k] for k in same)]
    save_state(path, dataclasses.replace(state, extra={**state.extra, AUDITS: [*kept, summary]}))


def latest_audit(extra: dict[str, Any], digest: str) -> dict[str, Any] | None:
    """The newest audit recorded in a supernet file's ``extra`` that scored these weights as a
    study does (no fine-tune), or None."""
    ok = [a for a in extra.get(AUDITS, []) if a.get("weights") == digest and not a.get("finetune")]
    return ok[-1] if ok else None


def evaluator_record(scorer: dict | None, extra: dict[str, Any]) -> dict[str, Any]:
    """What scored a study's designs, as its record keeps it: ``{"kind": "scratch"}``, or the
    supernet's protocol key (``scorer``) with the audit its file's ``extra`` records for those weights."""
    if scorer is None:
        return {"kind": "scratch"}
    return {**scorer, "audit": latest_audit(extra, scorer["sha256"])}
