"""Exact cost of a spec, from the spec alone (no module is built, no torch import).

Convention (CARN's, used by the lightweight-SR literature, and fvcore's):

* **params**: trainable parameters, weights and biases (the fixed mean shift is not one).
* **macs** ("Multi-Adds"): multiply-accumulates of the convolutions only, for one image whose
  super-resolved output is ``hr_size`` (default 720 x 1280, i.e. 1280x720). Each conv runs at
  the resolution it really runs at: everything up to the upsampler at LR, the second x2 stage of
  the x4 upsampler at 2x LR, ``tail`` (conv_last) at the output resolution. Biases, additions,
  ReLUs and pixel shuffles are not counted. One MAC = one "flop" in fvcore's count.

The LR input is ``(H // scale, W // scale)``; the output is ``scale`` times that, so for x3 the
default 720x1280 prices a 720x1278 output (1280 is not a multiple of 3).

The paper's published Multi-Adds count every conv at LR resolution, which understates the x4
network by about 18%; see :mod:`slwsr_search.model.published` and ``docs/cost-and-evaluation.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import is_int
from .block_types import add_costs, block_type, conv_cost
from .spec import BUNCHES, ArchSpec, BlockSpec

DEFAULT_HR_SIZE: tuple[int, int] = (720, 1280)  # (height, width) of the SR output


@dataclass(frozen=True)
class Cost:
    """Parameters and Multi-Adds of one spec at one output size.

    ``parts``: ``(part, params, macs)`` for head, extractor, pool, fusion, upsampler, tail.
    ``hr_size``/``lr_size``: (height, width) of the output priced and of its LR input.
    """

    params: int
    macs: int
    hr_size: tuple[int, int]
    lr_size: tuple[int, int]
    parts: tuple[tuple[str, int, int], ...]

    @property
    def gmacs(self) -> float:
        """Multi-Adds in G (1e9)."""
        return self.macs / 1e9


def block_cost(block: BlockSpec, n_feats: int, pixels: int) -> tuple[int, int]:
    """(params, MACs) of one residual-block slot at ``pixels`` LR positions: its block type's
    formula (:mod:`~.block_types`)."""
    return block_type(block.type).cost(block, n_feats, pixels)


def _check_hr_size(hr_size: tuple[int, int], scale: int) -> tuple[int, int]:
    try:
        h, w = hr_size
    except (TypeError, ValueError):
        raise ValueError(f"hr_size: expected (height, width), got {hr_size!r}") from None
    for v in (h, w):
        if not is_int(v) or v < scale:
            raise ValueError(f"hr_size: expected two integers >= scale ({scale}), got {hr_size!r}")
    return h, w


def count_cost(spec: ArchSpec, hr_size: tuple[int, int] = DEFAULT_HR_SIZE) -> Cost:
    """Exact parameters and Multi-Adds of ``spec`` for an SR output of ``hr_size`` = (H, W).

    Equals ``sum(p.numel() for p in build_model(spec).parameters())`` and fvcore's
    ``FlopCountAnalysis(model, lr_input).total()`` (tested). Takes microseconds.
    """
    s, n = spec.scale, spec.n_feats
    h, w = _check_hr_size(hr_size, s)
    lh, lw = h // s, w // s
    px = lh * lw  # LR positions
    head = conv_cost(3, n, 3, px)
    ext_blocks, fus_blocks = [], []
    i = 0
    for name, k in BUNCHES:
        for block in spec.blocks[i:i + k]:
            (ext_blocks if name.startswith("LB") else fus_blocks).append(block_cost(block, n, px))
        i += k
    extractor = add_costs(*ext_blocks)
    pool = conv_cost(len(spec.pool) * n, n, 1, px, bias=False)
    fusion = add_costs(*([conv_cost(2 * n, n, 1, px)] * 4), *fus_blocks)
    if s == 3:
        up = conv_cost(n, 9 * n, 3, px)
    else:  # x2: one stage at LR; x4: a second stage at 2x LR
        up = add_costs(*(conv_cost(n, 4 * n, 3, px * 4 ** j) for j in range(s // 2)))
    tail = conv_cost(n, 3, 3, px * s * s)
    parts = (("head", *head), ("extractor", *extractor), ("pool", *pool), ("fusion", *fusion),
             ("upsampler", *up), ("tail", *tail))
    return Cost(
        params=sum(p[1] for p in parts),
        macs=sum(p[2] for p in parts),
        hr_size=(lh * s, lw * s),
        lr_size=(lh, lw),
        parts=parts,
    )


def measure_cost(spec: ArchSpec, hr_size: tuple[int, int] = DEFAULT_HR_SIZE) -> tuple[int, int]:
    """The independent cross-check: build the model and return ``(numel, fvcore_macs)``.

    ``numel`` sums ``p.numel()`` over the module's parameters; ``fvcore_macs`` is fvcore's
    ``FlopCountAnalysis`` total (fvcore counts one conv MAC as one flop) on one LR input of the
    size :func:`count_cost` prices. Takes seconds (it runs the network); use only to verify.
    """
    import warnings

    import torch
    from fvcore.nn import FlopCountAnalysis

    from .network import build_model

    h, w = _check_hr_size(hr_size, spec.scale)
    model = build_model(spec).eval()
    numel = sum(p.numel() for p in model.parameters())
    x = torch.zeros(1, 3, h // spec.scale, w // spec.scale)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # jit-trace chatter; the count is what matters
        flops = FlopCountAnalysis(model, x)
        flops.unsupported_ops_warnings(False)  # adds, ReLUs, pixel shuffle: not counted by convention
        flops.uncalled_modules_warnings(False)
        macs = int(flops.total())
    return numel, macs
