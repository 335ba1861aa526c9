"""Checkpoints: a trained network's weights with its spec and training protocol, in one file."""

from __future__ import annotations

from pathlib import Path

import torch

from ..model.network import SLWSR, build_model
from ..model.spec import ArchSpec

#: Tag stored in every checkpoint, so a foreign file is told apart from ours.
CHECKPOINT_FORMAT = "slwsr-search/checkpoint-1"


def save_checkpoint(path: "str | Path", model: SLWSR, protocol: dict | None = None, extra: dict | None = None) -> None:
    """Save ``model``'s weights with its spec (as JSON) and the training protocol.

    The file holds only tensors, strings, numbers, lists and dicts, so it loads with
    ``torch.load(path, weights_only=True)``.
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "spec": model.spec.to_json(compact=True),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "protocol": dict(protocol or {}),
        "extra": dict(extra or {}),
    }
    torch.save(payload, Path(path))


def load_checkpoint(path: "str | Path") -> tuple[SLWSR, dict]:
    """``(model, checkpoint)`` from :func:`save_checkpoint`'s file (on CPU, eval mode).

    Loads with ``weights_only=True``; every error names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: checkpoint not found")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a foreign or corrupt file
        raise ValueError(f"{p}: cannot load checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{p}: not an slwsr-search checkpoint (no format tag {CHECKPOINT_FORMAT!r})")
    try:
        spec = ArchSpec.from_json(ckpt["spec"])
    except ValueError as e:
        raise ValueError(f"{p}: spec: {e}") from None
    model = build_model(spec)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise ValueError(f"{p}: weights do not fit the spec ({str(e).splitlines()[0]})") from None
    return model.eval(), ckpt
