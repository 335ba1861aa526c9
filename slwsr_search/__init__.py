"""slwsr-search: architecture search for the s-LWSR super-resolution network.

Layers, imported one way (commands -> search -> training -> sr -> model):

* :mod:`slwsr_search.model`: the spec as data, the network built from it, its exact cost, the
  paper's designs and published figures, checkpoints and model bundles;
* :mod:`slwsr_search.sr`: images, data layouts, the built-in set, resizing, PSNR/SSIM, scoring;
* :mod:`slwsr_search.training`: protocols, devices and speed settings, one training;
* :mod:`slwsr_search.search`: studies, spaces, storage, the trial loop, workers, reports;
* :mod:`slwsr_search.benchmarks`: measurements behind ``slwsr bench``;
* :mod:`slwsr_search.cli`: every argument parser and every print (``slwsr COMMAND``).

The public API below covers the common uses; everything else is importable from its layer.
"""

from .model.bundle import load_bundle, save_bundle
from .model.checkpoint import load_checkpoint, save_checkpoint
from .model.cost import Cost, count_cost
from .model.network import build_model
from .model.presets import PRESETS
from .model.spec import ArchSpec, BlockSpec

__all__ = ["ArchSpec", "BlockSpec", "Cost", "PRESETS", "build_model", "count_cost", "load_bundle", "load_checkpoint",
           "save_bundle", "save_checkpoint"]
__version__ = "0.2.0"
