"""A study scored by a supernet (``[evaluator] kind = "supernet"``, ``slwsr run --supernet``): the
study's settings with it (:func:`with_supernet`) and the supernet loaded once and checked against
the study before a run records anything (:func:`supernet_scorer`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..model.supernet import SuperNet
from ..search.objectives import QUALITY
from ..search.study import StudyConfig
from ..search.study_tables import EvaluatorSettings
from .supernet import SupernetSetup, feasible_widths, load_supernet
from .supernet_audit import evaluator_record, weights_digest


def with_supernet(cfg: StudyConfig, path: str) -> StudyConfig:
    """``cfg`` scored by the supernet in ``path`` (``slwsr run --supernet``), refused where it asks
    what a supernet does not score."""
    cfg = dataclasses.replace(cfg, evaluator=EvaluatorSettings("supernet", str(path)))
    cfg.evaluator.check([o.name for o in cfg.objective_table if o.kind == QUALITY], cfg.fidelity.multi,
                        cfg.needs_int8, f"--supernet {path}")
    return cfg


def supernet_scorer(cfg: StudyConfig) -> tuple[dict | None, dict, SuperNet | None]:
    """A supernet-scored study's evaluator as its protocol key holds it: the file's name, its
    training steps and the SHA-256 of its weights (other weights, other scores: a study refuses to
    resume under another), None for a study trained from scratch; with the study's record of its
    evaluator (:func:`.supernet_audit.evaluator_record`: the audit the file records for those
    weights); and the supernet itself, whose weights that digest names. It is loaded and checked
    here, once, before a run records anything: a file rewritten since (a training still going)
    cannot score a run under the digest of other weights."""
    if cfg.evaluator.kind != "supernet":
        return None, evaluator_record(None, {}), None
    p = Path(cfg.evaluator.supernet)
    if not p.is_file():
        raise ValueError(f"{p}: supernet not found (train one: slwsr supernet train --study {cfg.name})")
    net, setup, state = load_supernet(p)
    if setup.scale != cfg.space.scale:
        raise ValueError(f"{p}: a x{setup.scale} supernet cannot score study {cfg.name!r} (x{cfg.space.scale})")
    gap = untrained(setup, cfg)
    if gap:
        raise ValueError(f"{p}: {gap}: its inherited weights there are untrained; "
                         f"train one for this study: slwsr supernet train --study {cfg.name}")
    key = {"kind": "supernet", "file": p.name, "steps": state.steps, "sha256": weights_digest(net.state_dict())}
    return key, evaluator_record(key, state.extra), net


def untrained(setup: SupernetSetup, cfg: StudyConfig) -> str | None:
    """What of ``cfg``'s space (inside its budget) no path of the supernet trained, naming the
    field and the values; None when the supernet covers the space."""
    space = cfg.space
    for field, missing in (("n_feats", [w for w in feasible_widths(cfg) if w not in setup.widths]),
                           ("blocks.choices", [c for c in space.block_choices if c not in setup.choices]),
                           ("blocks.slots", [s for s in space.block_slots if s not in setup.slots]),
                           ("pool.sources", [s for s in space.pool_sources if s not in setup.pool_sources])):
        if missing:
            return f"study {cfg.name!r} searches {field} {missing} that the supernet was not trained on"
    return None
