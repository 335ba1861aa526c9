"""slwsr-search: architecture search for the s-LWSR super-resolution network.

Layers, bottom first; a module imports its own layer and those below it, never above
(``tests/test_layers.py`` enforces the order):

* :mod:`slwsr_search.config`: reading TOML, checking values, atomic writes (every layer may use it);
* :mod:`slwsr_search.model`: the spec as data, the network built from it, its exact cost, the
  paper's designs and published figures, the latency table and the prediction from it;
* :mod:`slwsr_search.sr`: images, data layouts, the built-in set, resizing, PSNR/SSIM, scoring;
* :mod:`slwsr_search.training`: protocols, devices and speed settings, one training, a long one,
  the one resumable training-state format;
* :mod:`slwsr_search.deploy`: bundles, ONNX export, runners, the release bundle, latency measured;
* :mod:`slwsr_search.search`: studies, spaces, storage, the trial loop, rungs, workers;
* :mod:`slwsr_search.audit`: the fidelity audit (its store, its trainings, its statistics);
* :mod:`slwsr_search.reporting`: reports read from a study and an audit, computed then drawn (no torch);
* :mod:`slwsr_search.benchmarks`: measurements behind ``slwsr bench``;
* :mod:`slwsr_search.cli`: every argument parser and every print (``slwsr COMMAND``).

The public API below covers the common uses; everything else is importable from its layer. The
names load on first use, so importing a torch-free part of the package (a report) loads no torch.
"""

from __future__ import annotations

import importlib

#: Each public name and the module that holds it.
_PUBLIC = {
    "ArchSpec": "model.spec", "BlockSpec": "model.spec", "Cost": "model.cost", "count_cost": "model.cost",
    "PRESETS": "model.presets", "build_model": "model.network", "load_bundle": "deploy.bundle",
    "save_bundle": "deploy.bundle", "load_checkpoint": "training.checkpoint", "save_checkpoint": "training.checkpoint",
}
__all__ = sorted(_PUBLIC)
__version__ = "0.2.0"


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
