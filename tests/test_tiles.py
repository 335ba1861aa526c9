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


@pytest.mark.parametrize("n,size,margin", [(10, 20, 3), (100, 40, 10), (41, 40, 10), (61, 40, 10), (200, 180, 55), (7, 7, 3)])
def test_windows_are_the_fixed_size_and_their_kept_centres_tile_the_picture(n, size, margin):
    from slwsr_search.sr.tiles import window_boxes

    boxes = window_boxes(n, 5, (size, 5), margin)
    rows = [(b.y0, b.y1, b.ty0, b.ty1) for b in boxes]
    assert [r[:2] for r in rows][0][0] == 0 and rows[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))                 # consecutive, no gap, no overlap
    assert all(t1 - t0 == min(size, n) for _, _, t0, t1 in rows)             # every window the fixed size
    assert all(0 <= t0 and t1 <= n for _, _, t0, t1 in rows)                 # inside the picture
    for y0, y1, t0, t1 in rows:                                              # the margin kept on inner sides
        assert (y0 == 0 or y0 - t0 >= margin) and (y1 == n or t1 - y1 >= margin)


def test_a_window_too_small_for_its_margin_names_the_sizes():
    from slwsr_search.sr.tiles import window_boxes

    with pytest.raises(ValueError, match="a window of 20 px .* margin of 10 px per side on a picture of 50 px: it needs at least 21"):
        window_boxes(50, 50, (20, 20), 10)
    assert len(window_boxes(20, 20, (20, 20), 10)) == 1  # a picture that fits runs whole, whatever the margin


def test_a_fixed_size_runner_in_windows_equals_the_whole_image(net):
    """A runner that takes one size only (a .tflite's contract), run in windows with the receptive
    margin, equals the whole-image run; a picture smaller than the window is padded and differs
    only near its padded edges."""
    import numpy as np

    from slwsr_search.deploy.runners import padded_runner, runner_upscaler, torch_runner, window_upscaler

    run, size, r = torch_runner(net), (130, 120), receptive_radius(net, 4)

    def fixed(x):
        assert x.shape[2:] == size, x.shape  # what a .tflite refuses
        return run(x)

    lr = (np.random.default_rng(2).random((150, 140, 3)) * 255).astype(np.uint8)
    whole = runner_upscaler(run)(lr)
    windowed = window_upscaler(padded_runner(fixed, size, 4), size, 4, r)(lr)
    assert windowed.shape == whole.shape and np.abs(windowed - whole).max() < 0.05  # 0..255: rounding only
    small = lr[:50, :61]
    padded = window_upscaler(padded_runner(fixed, size, 4), size, 4, r)(small)
    ref = runner_upscaler(run)(small)
    assert padded.shape == ref.shape == (200, 244, 3)
    assert np.abs(padded - ref)[:100, :100].max() < 0.05  # far from the padded bottom/right edges: equal
    assert np.abs(padded - ref).max() > 0.05              # near them: the padding shows
    with pytest.raises(ValueError, match="at most 120x130"):
        padded_runner(fixed, size, 4)(np.zeros((1, 3, 131, 10), np.float32))
