"""Checkpoints: a trained network's weights with its spec and training protocol, in one file of
the training-state format (:mod:`.state`; its ``training`` holds the weights only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model.network import SLWSR, build_model
from .state import TrainingState, load_state, save_state


def save_checkpoint(path: "str | Path", model: SLWSR, protocol: dict | None = None, extra: dict | None = None,
                    steps: int = 0) -> None:
    """Save ``model``'s weights with its spec (as JSON), the training protocol and ``steps`` (the
    optimiser steps it had; 0 when not said), atomically.

    The file holds only tensors, strings, numbers, lists and dicts, so it loads with
    ``torch.load(path, weights_only=True)``.
    """
    save_state(path, TrainingState.of_model(model, protocol, extra, steps))


def load_checkpoint(path: "str | Path") -> tuple[SLWSR, dict[str, Any]]:
    """``(model, checkpoint)`` from :func:`save_checkpoint`'s file, or any state file holding
    weights (``finalize``'s ``state.pt`` too): the network on CPU in eval mode, and the file's
    fields (:meth:`.state.TrainingState.payload`). Every error names the file.
    """
    p = Path(path)
    state = load_state(p)
    if state.weights is None:
        raise ValueError(f"{p}: holds no weights (a file of progress only)")
    model = build_model(state.spec)
    try:
        model.load_state_dict(state.weights)
    except RuntimeError as e:
        raise ValueError(f"{p}: weights do not fit the spec ({str(e).splitlines()[0]})") from None
    return model.eval(), state.payload()
