"""Tiled upscaling: equal to the whole-image run once the margin covers the receptive radius."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from slwsr_search import PRESETS, build_model
from slwsr_search.sr.tiles import receptive_radius, upscale_tiled


@pytest.mark.parametrize("convs,scale,radius", [(1, 1, 1), (2, 1, 2), (3, 2, 3)])
def test_receptive_radius_of_stacked_3x3_convs(convs, scale, radius):
    layers = [nn.Conv2d(3, 3, 3, padding=1) for _ in range(convs)]
    if scale > 1:
        layers.append(nn.Upsample(scale_factor=scale, mode="nearest"))
    assert receptive_radius(nn.Sequential(*layers), scale) == radius


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_model(PRESETS["s-lwsr16-half"]).eval()


def test_tiles_with_the_receptive_margin_equal_the_whole_image(net):
    r = receptive_radius(net, 4)
    x = torch.rand(1, 3, 70, 53, generator=torch.Generator().manual_seed(1)) * 255
    seen = []
    with torch.no_grad():
        whole = net(x)
        tiled = upscale_tiled(net, x, 4, 24, r, on_tile=lambda d, n: seen.append((d, n)))
        seamed = upscale_tiled(net, x, 4, 24, 0)
    assert tiled.shape == whole.shape == (1, 3, 280, 212)
    assert float((tiled - whole).abs().max()) <= 1e-3  # 0..255: float rounding only
    assert float((seamed - whole).abs().max()) > 1.0   # no margin: visible seams
    assert seen[-1] == (9, 9) and len(seen) == 9       # 3 x 3 tiles of 24 over 70 x 53


@pytest.mark.parametrize("kwargs,msg", [({"tile": 0}, "tile: expected >= 1"), ({"margin": -1}, "margin >= 0")])
def test_bad_tiling_arguments(net, kwargs, msg):
    args = {"tile": 8, "margin": 2, **kwargs}
    with pytest.raises(ValueError, match=msg):
        upscale_tiled(net, torch.zeros(1, 3, 8, 8), 4, args["tile"], args["margin"])
    with pytest.raises(ValueError, match="expected one image"):
        upscale_tiled(net, torch.zeros(2, 3, 8, 8), 4, 8, 2)
