"""slwsr-search: architecture search for the s-LWSR super-resolution network.

Public API: :class:`ArchSpec` (a variant as data), :func:`build_model` (spec -> torch module),
:func:`count_cost` (exact parameters and Multi-Adds from the spec alone), :data:`PRESETS`
(the paper's designs by name).
"""

from .cost import Cost, count_cost
from .model import build_model
from .presets import PRESETS
from .spec import ArchSpec, BlockSpec

__all__ = ["ArchSpec", "BlockSpec", "Cost", "PRESETS", "build_model", "count_cost"]
__version__ = "0.1.0"
