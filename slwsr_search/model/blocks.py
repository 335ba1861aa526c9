"""The network's building blocks. Every choice is made in ``__init__``; ``forward`` is plain.

All convolutions are 'same'-padded and carry a bias, as in the release, unless stated.
"""

from __future__ import annotations

import torch
from torch import nn



def conv(c_in: int, c_out: int, k: int, *, bias: bool = True, groups: int = 1) -> nn.Conv2d:
    """A stride-1 convolution with 'same' padding (k odd)."""
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias, groups=groups)


def activation(kept: bool) -> nn.Module:
    """ReLU when kept; an identity when removed (really removed, unlike the release's ``ReLU(False)``).

    In place: it always follows a conv, whose backward does not need its output (saves an
    allocation per block; measured faster on CPU).
    """
    return nn.ReLU(inplace=True) if kept else nn.Identity()


class Scale(nn.Module):
    """Multiply by a fixed factor (the residual scaling ``res_scale``)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def residual_branch(layers: list[nn.Module], res_scale: float) -> nn.Sequential:
    """The layers of a residual branch, with the ``res_scale`` factor appended only when it is not 1."""
    return nn.Sequential(*layers, *([Scale(res_scale)] if res_scale != 1.0 else []))


class Residual(nn.Module):
    """``x + res_scale * branch(x)``, the branch ``layers`` in a row as ``body``: every block type's
    shape (a new type whose branch is a chain of layers needs no class of its own)."""

    def __init__(self, layers: list[nn.Module], res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = residual_branch(layers, res_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        y += x  # in place: the branch's last op (conv or scale) does not need its output for backward
        return y


class ResBlock(Residual):
    """The paper's residual block (Eq. 1, EDSR style, no BN): ``x + a * conv3(act(conv3(x)))``."""

    def __init__(self, n_feats: int, act: bool = True, res_scale: float = 1.0) -> None:
        super().__init__([conv(n_feats, n_feats, 3), activation(act), conv(n_feats, n_feats, 3)], res_scale)


class InvertedResidual(Residual):
    """MobileNetV2 inverted residual with linear bottleneck, without batch norm (as EDSR drops it).

    ``x + a * proj1x1(act(dw3x3(act(expand1x1(x)))))`` with hidden width ``expand * n_feats``;
    the projection is linear. ``act=False`` removes both activations.
    """

    def __init__(self, n_feats: int, expand: int, act: bool = True, res_scale: float = 1.0) -> None:
        hidden = n_feats * expand
        super().__init__([
            conv(n_feats, hidden, 1), activation(act),
            conv(hidden, hidden, 3, groups=hidden), activation(act),
            conv(hidden, n_feats, 1),
        ], res_scale)


class Upsampler(nn.Sequential):
    """Sub-pixel upsampler: x2 and x4 as one or two [conv3x3 n->4n, PixelShuffle(2)], x3 as
    [conv3x3 n->9n, PixelShuffle(3)]. Other scales raise ``ValueError``."""

    def __init__(self, scale: int, n_feats: int) -> None:
        if scale in (2, 4):
            factors = [2] * (scale // 2)
        elif scale == 3:
            factors = [3]
        else:
            raise ValueError(f"scale: unsupported value {scale!r}; supported: 2, 3, 4")
        layers: list[nn.Module] = []
        for r in factors:
            layers += [conv(n_feats, r * r * n_feats, 3), nn.PixelShuffle(r)]
        super().__init__(*layers)
