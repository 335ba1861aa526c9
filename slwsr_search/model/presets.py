"""The paper's designs as specs, by name.

* ``s-lwsr16/32/64``: the published network with every activation kept: what the authors'
  released code actually runs (its ``nn.ReLU(False)`` is still a ReLU).
* ``s-lwsr16-half`` / ``s-lwsr32-half``: the same network with the intended half-activation
  mask (12 of 26 kept, :data:`~slwsr_search.model.spec.HALF_ACTIVATION_MASK`), really removed.
"""

from __future__ import annotations

from .published import PublishedRow, published_row
from .spec import HALF_ACTIVATION_MASK, ArchSpec


def _published(n_feats: int, half: bool = False) -> ArchSpec:
    spec = ArchSpec(scale=4, n_feats=n_feats)
    return spec.with_activations(HALF_ACTIVATION_MASK) if half else spec


#: Preset name -> spec (all x4).
PRESETS: dict[str, ArchSpec] = {
    "s-lwsr16": _published(16),
    "s-lwsr32": _published(32),
    "s-lwsr64": _published(64),
    "s-lwsr16-half": _published(16, half=True),
    "s-lwsr32-half": _published(32, half=True),
}

#: Preset name -> its row of the paper's Table II. The paper's final models use the
#: half-activation setting; activations carry no parameters, so both variants share the row.
PUBLISHED: dict[str, PublishedRow] = {name: published_row(f"s-LWSR{spec.n_feats}") for name, spec in PRESETS.items()}


def get_preset(name: str) -> ArchSpec:
    """The preset called ``name``; ``ValueError`` lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"preset: unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
