"""The sentences a report adds under its title (compute, then render: they read the
:class:`~.compute.Report` and filter nothing): what ranked the front (:func:`evaluator_sentence`) and
what the fidelity audit of the study's screening measured (:func:`fidelity_line`)."""

from __future__ import annotations

import re

from .chart import by_loss
from .compute import Report


def report_notes(rep: Report) -> list[str]:
    """The notes of ``rep``, each one sentence or a few, in the order a reader needs them."""
    return [n for n in (evaluator_sentence(rep.evaluator), repeats_line(rep), fidelity_line(rep)) if n]


def repeats_line(rep: Report) -> str | None:
    """How many trials repeat a front design (listed once), or None."""
    n = 0 if rep.repeats is None else len(rep.repeats)
    return (f"{n} other trial(s) of front designs are not listed: each scored a design the table lists "
            "(a sampler proposed it again; trials.csv holds every trial).") if n else None


def evaluator_sentence(e: dict | None) -> str | None:
    """Which evaluator ranked the designs, and for a supernet its audited Kendall tau, from a study
    record's ``evaluator`` (:func:`~..jobs.supernet_audit.evaluator_record`); None for a study run
    before it was recorded."""
    if not e:
        return None
    if e.get("kind") != "supernet":
        return "Ranked by: a brief training of each design from scratch (the protocol above)."
    text = (f"Ranked by: the weights each design inherits from supernet {e['file']} ({e['steps']:,} steps, "
            f"weights {e['sha256']}), no training per design.")
    a = e.get("audit")
    if not a:
        return text + (" Not audited against a long reference, so how well it ranks designs is unmeasured "
                       "(slwsr supernet audit).")
    iv = lambda v, i: f"{v:+.2f} [{i[0]:+.2f}, {i[1]:+.2f}]"  # noqa: E731
    lo, hi = a["minus_params_interval"]
    verdict = "ahead of" if lo > 0 else "behind" if hi < 0 else "not told apart from"
    horizon = f"{a['horizon']:,} steps" if a.get("horizon") else "their end"
    return text + (f" Its audit ({a['designs']} designs of {a['reference']} at {horizon}, scored on {a['val']}, "
                   f"{a['when']}): Kendall tau {iv(a['tau'], a['tau_interval'])} ({a['level']:.0%} interval), "
                   f"parameters alone {iv(a['params_tau'], a['params_interval'])}, difference "
                   f"{iv(a['tau'] - a['params_tau'], a['minus_params_interval'])}: {verdict} parameters alone beyond "
                   f"noise; top-1 regret {a['regret_db']:.3f} dB.")


def data_names(source: str) -> str:
    """A data source as a reader of the report knows it: each folder of a ``" + "``-joined source
    by its last path component (``../shared/data/train/T91 + ../shared/data/train/BSD200`` ->
    ``T91 + BSD200``), a ``builtin:`` set by its name. An audit records the folders of the machine
    it ran on, which a reader elsewhere does not have."""
    def name(part: str) -> str:
        part = part.strip()
        if part.startswith("builtin:"):
            return part
        return re.split(r"[\\/]", part.rstrip("/\\"))[-1] or part
    return " + ".join(name(p) for p in source.split(" + "))


#: The project, as a reader of a report finds its pages (paths in its repository).
PROJECT = "slwsr-search"


def audit_page(a: dict) -> str | None:
    """The results page of one of the project's own audits, whose store lies in
    ``docs/results/NAME/`` (each measurement there has its page ``docs/results/NAME.md``), as a
    repository path a reader can follow; None for a user's audit."""
    m = re.search(r"(?:^|/)docs/results/([^/]+)/[^/]+$", str(a.get("store") or "").replace("\\", "/"))
    return f"docs/results/{m.group(1)}.md in {PROJECT}" if m else None


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

    score = est.get("loss_tail") if by_loss(rep) else est.get("psnr_mean")  # what this study ranks by
    share = score.get("cost_matched_share") if score else None
    return (f"Fidelity audit of this screening ({a['designs_scored']} designs, reference {ref['steps']} steps x "
            f"{ref['batch_size']} x {ref['lr_patch']} px on {data_names(a['reference_data'][0])}, validated on "
            f"{data_names(a['reference_data'][1])}" + (f"; results: {page}" if (page := audit_page(a)) else "") + "): "
            f"Kendall tau against the reference of one seed's PSNR {tau(first)} ({a['interval']}; seeds "
            + ", ".join(f"{e['kendall_tau']:+.2f}" for e in singles) + f"), of the mean of {len(singles)} seeds' PSNR "
            f"{tau(est['psnr_mean'])}"
            + (f", of the training loss {tau(est['loss_tail'])}" if "loss_tail" in est else "")
            + f", of parameters alone {tau(est['params'])}"
            + (f"; cost-matched pairs ordered right by the study's score ({score['name']}): {share:.0%} of "
               f"{score['cost_matched_pairs']}" if share is not None else "") + "."
            + horizon_clause(a.get("horizons"), score["name"] if score else "psnr_mean"))


def horizon_clause(h: dict | None, name: str) -> str:
    """How the ranking by ``name`` moved along the reference's ladder (``horizons`` of a
    ``fidelity.json``), as a sentence; empty with fewer than two rungs."""
    if not h or len(h.get("steps", [])) < 2:
        return ""
    rows = {r["horizon"]: r for r in h["estimators"] if r["name"] == name}
    first, last = h["steps"][0], h["steps"][-1]
    if first not in rows or last not in rows:
        return ""
    a, b = rows[first], rows[last]
    lo, hi = b["kendall_tau_interval"]
    noise = h["reference_noise_db"].get(str(last)) or []
    retest = (h.get("reference_retest_tau") or {}).get(str(last))
    return (f" Along the reference's training, the study's score ranked the designs at tau {a['kendall_tau']:+.2f} after "
            f"{first:,} steps and {b['kendall_tau']:+.2f} [{lo:+.2f}, {hi:+.2f}] after {last:,} (the audited horizon; "
            f"top-1 regret {b['top1_regret_db']:.2f} dB there); {len(h['crossovers'])} design pair(s) swapped order "
            f"between the two" + (f"; the reference's seed noise at {last:,} steps: up to {max(noise):.2f} dB" if noise
                                  else "")
            + (f" (a rerun of the reference on other seeds would agree with it at about tau {retest:+.2f})"
               if noise and retest is not None else "") + ".")
