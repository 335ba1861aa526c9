"""A weight-sharing supernet: one network holding every s-LWSR design up to a width and an
expansion, each design a path through it (issue 35; OFA-style elastic width by channel slicing).

Every slot holds both block types: the residual block's two 3x3 convolutions at the largest width,
and the inverted residual; a design of width ``n`` uses the first ``n`` channels. The expansions
either share one hidden weight (``expansions="shared"``: expansion ``t`` uses the first ``t * n``
hidden channels of the largest expansion's) or each hold their own (``"separate"``: so a slot's
residual block and each expansion are trained equally often under uniform or fair sampling, where
shared slices give the inverted residual's first hidden channels every expansion's updates). The activations are switches; the pool's 1x1 convolution is
one weight whose input columns are picked per source; a fusion bunch's reduction picks the columns
of its two inputs. :meth:`SuperNet.extract` returns the network :func:`~.network.build_model`
builds for a spec, carrying the weights it inherits, whose output equals :meth:`SuperNet.forward`
on that path (``tests/test_supernet.py``): every tool that takes a trained network takes it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import conv
from .network import DIV2K_RGB_MEAN, PIXEL_RANGE, SLWSR, build_model
from .spec import BUNCHES, FUSION_SKIPS, N_SLOTS, POOL_SOURCES, SLOTS, ArchSpec, BlockSpec


#: How a slot's inverted residuals hold their expansions' weights.
EXPANSIONS: tuple[str, ...] = ("shared", "separate")


class _IRWeights(nn.Module):
    """An inverted residual's weights at width ``n`` and hidden width ``h``."""

    def __init__(self, n: int, h: int) -> None:
        super().__init__()
        self.expand, self.dw, self.project = conv(n, h, 1), conv(h, h, 3, groups=h), conv(h, n, 1)


class _SlotWeights(nn.Module):
    """One slot's weights at the largest width ``n``: the residual block's (``res1``, ``res2``) and
    the inverted residual's: ``expand``, ``dw``, ``project`` at hidden width ``n * t`` shared by
    every expansion (``separate`` None), else one set per expansion of ``separate`` under
    ``ir[str(e)]``."""

    def __init__(self, n: int, t: int, separate: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.res1, self.res2 = conv(n, n, 3), conv(n, n, 3)
        if separate:
            self.ir = nn.ModuleDict({str(e): _IRWeights(n, n * e) for e in separate})
        else:  # the names (so the state dict) a shared supernet had before separate ones existed
            h = n * t
            self.expand, self.dw, self.project = conv(n, h, 1), conv(h, h, 3, groups=h), conv(h, n, 1)
        self.separate = bool(separate)

    def ir_weights(self, t: int) -> nn.Module:
        """The module holding expansion ``t``'s ``expand``, ``dw`` and ``project``."""
        return self.ir[str(t)] if self.separate else self


def _choice(block_type: str, expand: int | None) -> str:
    """A block choice as a space's TOML names it: ``res``, ``ir2``."""
    return f"{block_type}{expand or ''}"


class SuperNet(nn.Module):
    """Every design of ``scale`` with ``n_feats <= max_feats`` and inverted residuals of expansion
    ``<= max_expand``, as paths through shared weights. ``forward(x, spec)``: the design's output
    (0..255 in and out, as :class:`~.network.SLWSR`). ``widths`` and ``blocks`` (``(type, expand)``
    pairs), when given, are the widths and block choices it was trained on; ``slot_blocks`` (one
    tuple of such pairs per slot) the choices each slot was trained on, and ``pool_sources`` the
    pool sources its paths used: :meth:`check` refuses any other, whose slices no training path
    used. ``expansions``: one of :data:`EXPANSIONS` (separate weights are made for the inverted
    residuals ``blocks`` names, else 1..``max_expand``)."""

    def __init__(self, scale: int, max_feats: int, max_expand: int, widths: tuple[int, ...] | None = None,
                 blocks: tuple[tuple[str, int | None], ...] | None = None, expansions: str = "shared",
                 slot_blocks: tuple[tuple[tuple[str, int | None], ...], ...] | None = None,
                 pool_sources: tuple[str, ...] | None = None) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale: expected 2, 3 or 4, got {scale!r}")
        if expansions not in EXPANSIONS:
            raise ValueError(f"expansions: expected one of {', '.join(EXPANSIONS)}, got {expansions!r}")
        self.scale, self.max_feats, self.max_expand, self.expansions = scale, max_feats, max_expand, expansions
        self.widths, self.blocks = widths, None if blocks is None else {(t, e) for t, e in blocks}
        if slot_blocks is not None and len(slot_blocks) != N_SLOTS:
            raise ValueError(f"slot_blocks: expected one tuple per slot ({N_SLOTS}), got {len(slot_blocks)}")
        self.slot_blocks = None if slot_blocks is None else [set(c) for c in slot_blocks]
        self.pool_sources = pool_sources
        ts = tuple(range(1, max_expand + 1)) if blocks is None else tuple(sorted({e for t, e in blocks if t == "ir"})) or (1,)
        n = max_feats
        self.register_buffer("rgb_mean", torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1) * PIXEL_RANGE,
                             persistent=False)
        self.head = conv(3, n, 3)
        self.slots = nn.ModuleList(_SlotWeights(n, max_expand, ts if expansions == "separate" else None)
                                   for _ in range(N_SLOTS))
        self.reduce = nn.ModuleList(conv(2 * n, n, 1) for name, _ in BUNCHES if name.startswith("F"))
        self.pool = conv(len(POOL_SOURCES) * n, n, 1, bias=False)
        r = 2 if scale in (2, 4) else 3
        self.up = nn.ModuleList(conv(n, r * r * n, 3) for _ in range(2 if scale == 4 else 1))
        self.tail = conv(n, 3, 3)

    def check(self, spec: ArchSpec) -> None:
        """``ValueError`` naming the field of a spec this supernet does not hold."""
        if spec.scale != self.scale:
            raise ValueError(f"scale: the supernet is x{self.scale}, the spec x{spec.scale}")
        if spec.n_feats > self.max_feats:
            raise ValueError(f"n_feats: {spec.n_feats} is over the supernet's {self.max_feats}")
        if self.widths is not None and spec.n_feats not in self.widths:
            raise ValueError(f"n_feats: the supernet was trained at widths {list(self.widths)}, not {spec.n_feats}")
        for b in spec.blocks:
            if b.type not in ("res", "ir") or (b.type == "ir" and b.expand > self.max_expand):
                raise ValueError(f"blocks: {b.token} is not in the supernet (res, ir up to {self.max_expand})")
            if self.blocks is not None and (b.type, b.expand) not in self.blocks:
                raise ValueError(f"blocks: {_choice(b.type, b.expand)} is not a block choice the supernet was trained on")
        for slot, b, trained in zip(SLOTS, spec.blocks, self.slot_blocks or ()):
            if (b.type, b.expand) not in trained:
                raise ValueError(f"blocks: {slot} holds {_choice(b.type, b.expand)}, which no training path used there "
                                 f"(trained: {', '.join(sorted(_choice(*c) for c in trained))})")
        unused = [src for src in spec.pool if self.pool_sources is not None and src not in self.pool_sources]
        if unused:
            raise ValueError(f"pool: {unused[0]} is not a source the supernet's paths used ({', '.join(self.pool_sources)})")

    def _block(self, w: _SlotWeights, b: BlockSpec, x: torch.Tensor, n: int, res_scale: float) -> torch.Tensor:
        act = F.relu if b.act else (lambda t: t)
        if b.type == "res":
            y = _conv(w.res2, act(_conv(w.res1, x, n, n)), n, n)
        else:
            h, ir = n * b.expand, w.ir_weights(b.expand)
            y = act(_conv(ir.expand, x, h, n))
            y = act(F.conv2d(y, ir.dw.weight[:h], ir.dw.bias[:h], padding=1, groups=h))
            y = _conv(ir.project, y, n, h)
        return x + res_scale * y

    def forward(self, x: torch.Tensor, spec: ArchSpec) -> torch.Tensor:
        n, blocks = spec.n_feats, iter(zip(self.slots, spec.blocks))
        head = _conv(self.head, x - self.rgb_mean, n, 3)
        feats, y, fusion, pool = [head], head, 0, None  # pool: set after LB5, read by the fusion bunches
        for name, k in BUNCHES:
            if name.startswith("F"):
                mix = 0.5 * feats[POOL_SOURCES.index(FUSION_SKIPS[fusion])] + 0.5 * pool
                y = _conv(self.reduce[fusion], torch.cat([y, mix], 1), n, cols=_columns(self.max_feats, n, (0, 1)))
                fusion += 1
            outs = []
            for _ in range(k):
                w, b = next(blocks)
                y = self._block(w, b, y, n, spec.res_scale)
                outs.append(y)
            if name.startswith("LB"):
                feats.extend(outs)
                y = outs[0] + outs[-1] if k == 3 else outs[-1]
                if name == "LB5":
                    picked = [POOL_SOURCES.index(s) for s in spec.pool]
                    pool = _conv(self.pool, torch.cat([feats[i] for i in picked], 1), n,
                                 cols=_columns(self.max_feats, n, picked))
        y = y + head
        r = 2 if self.scale in (2, 4) else 3
        for up in self.up:
            y = F.pixel_shuffle(_conv(up, y, r * r * n, n), r)
        return _conv(self.tail, y, 3, n) + self.rgb_mean

    def extract(self, spec: ArchSpec) -> SLWSR:
        """The network ``build_model(spec)`` builds, with the weights this path inherits."""
        self.check(spec)
        model = build_model(spec)
        with torch.no_grad():
            for name, p in model.state_dict().items():
                p.copy_(self._inherited(name, p.shape, spec))
        return model

    def _inherited(self, name: str, shape: torch.Size, spec: ArchSpec) -> torch.Tensor:
        """The supernet's slice that ``name`` (a key of the design's state dict) inherits."""
        n, parts = spec.n_feats, name.split(".")
        if parts[0] in ("head", "tail"):
            return _slice(getattr(self, parts[0]), parts[-1], shape)
        if parts[0] == "pool":
            return self.pool.weight[:n][:, _columns(self.max_feats, n, [POOL_SOURCES.index(s) for s in spec.pool])]
        if parts[0] == "upsampler":
            return _slice(self.up[int(parts[1]) // 2], parts[-1], shape)
        bunch = int(parts[1]) + (0 if parts[0] == "extractor" else 5)
        if parts[2] == "reduce":
            w = self.reduce[int(parts[1])]
            return w.bias[:n] if parts[-1] == "bias" else w.weight[:n][:, _columns(self.max_feats, n, (0, 1))]
        slot = sum(k for _, k in BUNCHES[:bunch]) + int(parts[3])
        w, layer, b = self.slots[slot], int(parts[5]), spec.blocks[slot]
        ir = None if b.type == "res" else w.ir_weights(b.expand)
        mod = (w.res1, None, w.res2)[layer] if ir is None else (ir.expand, None, ir.dw, None, ir.project)[layer]
        return _slice(mod, parts[-1], shape)


def _conv(m: nn.Conv2d, x: torch.Tensor, c_out: int, c_in: int | None = None, cols: list[int] | None = None) -> torch.Tensor:
    """``m`` applied with its first ``c_out`` filters over the first ``c_in`` input channels (or the
    input columns ``cols``)."""
    w = m.weight[:c_out]
    w = w[:, cols] if cols is not None else w[:, :c_in]
    return F.conv2d(x, w, None if m.bias is None else m.bias[:c_out], padding=m.kernel_size[0] // 2)


def _columns(max_feats: int, n: int, sources) -> list[int]:
    """The input columns of a concatenation of ``sources`` (indices of ``max_feats``-wide blocks),
    ``n`` channels each."""
    return [i * max_feats + c for i in sources for c in range(n)]


def _slice(m: nn.Conv2d, what: str, shape: torch.Size) -> torch.Tensor:
    """The leading slice of ``m``'s weight or bias of ``shape``."""
    t = m.weight if what == "weight" else m.bias
    return t[tuple(slice(0, s) for s in shape)]
