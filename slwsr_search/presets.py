"""The paper's designs as specs, and the figures the paper published for them.

* ``s-lwsr16/32/64``: the published network with every activation kept: what the authors'
  released code actually runs (its ``nn.ReLU(False)`` is still a ReLU).
* ``s-lwsr16-half`` / ``s-lwsr32-half``: the same network with the intended half-activation
  mask (12 of 26 kept, :data:`~slwsr_search.spec.HALF_ACTIVATION_MASK`), really removed.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Published:
    """Figures as printed in the paper (Table II, x4). Not recomputed: shown only labelled as published.

    ``params_k`` in thousands; ``gmacs`` the paper's Multi-Adds in G (every conv counted at LR
    resolution, about 18% below the real count at 1280x720 output).
    """

    model: str
    params_k: int
    gmacs: float


_TABLE_II = {16: Published("s-LWSR16", 144, 8.3), 32: Published("s-LWSR32", 571, 32.9), 64: Published("s-LWSR64", 2277, 131.1)}

#: Preset name -> the paper's Table II row for that network. The paper's final models use the
#: half-activation setting; activations carry no parameters, so both variants share the row.
PUBLISHED: dict[str, Published] = {name: _TABLE_II[spec.n_feats] for name, spec in PRESETS.items()}


def get_preset(name: str) -> ArchSpec:
    """The preset called ``name``; ``ValueError`` lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"preset: unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
