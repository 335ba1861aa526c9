"""Build the s-LWSR network from an :class:`~slwsr_search.model.spec.ArchSpec`.

Input and output convention (used everywhere in this package): RGB, NCHW float tensors on the
**0..255** range (the release's ``rgb_range=255``, so the paper's L1 loss and learning rate mean
the same here). The fixed DIV2K mean shift is applied inside the model.
"""

from __future__ import annotations

import torch
from torch import nn

from .block_types import make_block
from .blocks import Upsampler, conv
from .spec import BUNCHES, FUSION_SKIPS, POOL_SOURCES, ArchSpec

#: Pixel range of model inputs and outputs.
PIXEL_RANGE = 255.0
#: DIV2K RGB mean on 0..1 (the release's ``rgb_mean``); subtracted on input, added on output.
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


class Bunch(nn.Module):
    """A chain of blocks. Returns ``(output, [every block's output])``.

    Extractor bunches of three pass on ``b1 + b3`` (local residual learning, Eq. 2); LB5 (two
    blocks) passes on ``b2``. Fusion bunches first reduce ``cat[prev, skip-mix]`` (2n channels)
    with a 1x1 conv (with bias) and pass on their last block's output.
    """

    def __init__(self, blocks: list[nn.Module], local_residual: bool, reduce: nn.Module | None = None) -> None:
        super().__init__()
        self.reduce = reduce if reduce is not None else nn.Identity()
        self.blocks = nn.ModuleList(blocks)
        self.local_residual = local_residual

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        outs = []
        x = self.reduce(x)
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        out = outs[0] + outs[-1] if self.local_residual else outs[-1]
        return out, outs


class SLWSR(nn.Module):
    """The s-LWSR network for one spec (topology: ``docs/network.md``).

    ``forward(x)``: ``x`` is (N, 3, H, W) RGB on 0..255; returns (N, 3, s*H, s*W) on 0..255
    (not clamped, so training sees the raw output).
    """

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        self.spec = spec
        n = spec.n_feats
        self.register_buffer(
            "rgb_mean", torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1) * PIXEL_RANGE, persistent=False
        )
        self.head = conv(3, n, 3)
        blocks = iter(make_block(b, n, spec.res_scale) for b in spec.blocks)
        extractor, fusion = [], []
        for name, k in BUNCHES:
            chain = [next(blocks) for _ in range(k)]
            if name.startswith("LB"):
                extractor.append(Bunch(chain, local_residual=(k == 3)))
            else:
                fusion.append(Bunch(chain, local_residual=False, reduce=conv(2 * n, n, 1)))
        self.extractor = nn.ModuleList(extractor)
        self.fusion = nn.ModuleList(fusion)
        # Indices into [head, LB1.b1, ..., LB5.b2]: which feature maps the pool and skips read.
        self.pool_index = [POOL_SOURCES.index(s) for s in spec.pool]
        self.skip_index = [POOL_SOURCES.index(s) for s in FUSION_SKIPS]
        self.pool = conv(len(spec.pool) * n, n, 1, bias=False)
        self.upsampler = Upsampler(spec.scale, n)
        self.tail = conv(n, 3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head(x - self.rgb_mean)
        feats = [head]
        y = head
        for bunch in self.extractor:
            y, outs = bunch(y)
            feats.extend(outs)
        pool = self.pool(torch.cat([feats[i] for i in self.pool_index], dim=1))
        for bunch, i in zip(self.fusion, self.skip_index):
            y, _ = bunch(torch.cat([y, 0.5 * feats[i] + 0.5 * pool], dim=1))
        y = y + head  # global residual
        return self.tail(self.upsampler(y)) + self.rgb_mean


def build_model(spec: ArchSpec) -> SLWSR:
    """The network for ``spec``, freshly initialised (PyTorch's default conv init)."""
    if not isinstance(spec, ArchSpec):
        raise ValueError(f"spec: expected an ArchSpec, got {type(spec).__name__}")
    return SLWSR(spec)
