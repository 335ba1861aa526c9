"""build_model: the published topology, shapes, gradients, real activation removal."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import RANDOM_SPECS
from slwsr_search import PRESETS, BlockSpec, build_model
from slwsr_search.model.network import DIV2K_RGB_MEAN
from slwsr_search.model.spec import N_SLOTS, SLOTS

SMALL = PRESETS["s-lwsr16"].replace(n_feats=8)


def _lr(h=7, w=9, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=g) * 255


def _reference_forward(model, x, mask):
    """The published x4 network written out by hand from the facts page (section 1), reading
    the weights from ``model`` by position, so it checks the builder's wiring independently."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    it = iter(convs)

    def c(t, k=3):
        m = next(it)
        return F.conv2d(t, m.weight, m.bias, padding=k // 2)

    block_no = iter(range(N_SLOTS))

    def R(t):
        keep = mask[next(block_no)]
        y = c(t)
        y = F.relu(y) if keep else y
        return t + c(y)

    mean = torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1) * 255
    head = c(x - mean)
    lb = []
    inp = head
    for k in (3, 3, 3, 3):
        b1 = R(inp); b2 = R(b1); b3 = R(b2)
        lb.append((b1, b2, b3))
        inp = b1 + b3
    l5b1 = R(inp); l5b2 = R(l5b1)
    # Convs are created in order: head, 14 extractor blocks, then fusion (1x1 + 3 blocks) x4,
    # and the pool conv after the fusion in module order: fetch it by name instead.
    pool_w = model.pool.weight
    pool = F.conv2d(torch.cat([head, lb[1][0], lb[2][0], lb[3][0], l5b1, l5b2], 1), pool_w)
    prev = l5b2
    for skip in (lb[3][2], lb[2][2], lb[1][2], lb[0][2]):
        t = c(torch.cat([prev, 0.5 * skip + 0.5 * pool], 1), k=1)
        prev = R(R(R(t)))
    y = prev + head
    next(it)  # the pool conv, used above
    y = F.pixel_shuffle(c(y), 2)
    y = F.pixel_shuffle(c(y), 2)
    return c(y) + mean


@pytest.mark.parametrize("name", ["s-lwsr16", "s-lwsr16-half", "s-lwsr32-half"])
def test_matches_hand_written_published_topology(name):
    spec = PRESETS[name]
    torch.manual_seed(0)
    model = build_model(spec).eval()
    x = _lr(6, 5, n=1)
    with torch.no_grad():
        ref = _reference_forward(model, x, [b.act for b in spec.blocks])
        out = model(x)
    assert out.shape == (1, 3, 24, 20)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("hw", [(7, 9), (1, 1), (12, 5)])
def test_output_shape(scale, hw):
    model = build_model(SMALL.replace(scale=scale))
    y = model(_lr(*hw))
    assert y.shape == (2, 3, scale * hw[0], scale * hw[1])


@pytest.mark.parametrize("i", range(0, len(RANDOM_SPECS), 5))
def test_random_specs_run(i):
    spec = RANDOM_SPECS[i]
    y = build_model(spec)(_lr(5, 7))
    assert y.shape == (2, 3, 5 * spec.scale, 7 * spec.scale) and torch.isfinite(y).all()


@pytest.mark.parametrize("spec", [SMALL, PRESETS["s-lwsr16-half"].replace(n_feats=8), RANDOM_SPECS[3], RANDOM_SPECS[7]],
                         ids=["all-kept", "half", "random3", "random7"])
def test_gradients_reach_every_parameter(spec):
    torch.manual_seed(0)
    model = build_model(spec)
    model(_lr(8, 8)).abs().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _ir_everywhere(spec, expand=2):
    return spec.replace(blocks=tuple(BlockSpec("ir", expand, b.act) for b in spec.blocks))


@pytest.mark.parametrize("base", [SMALL, _ir_everywhere(SMALL)], ids=["res", "ir"])
@pytest.mark.parametrize("slot", range(N_SLOTS), ids=SLOTS)
def test_removing_one_activation_changes_the_function(base, slot):
    torch.manual_seed(1)
    kept = build_model(base).eval()
    blocks = list(base.blocks)
    blocks[slot] = dataclasses.replace(blocks[slot], act=False)
    removed = build_model(base.replace(blocks=tuple(blocks))).eval()
    removed.load_state_dict(kept.state_dict())  # same weights: activations carry none
    x = _lr(6, 6)
    with torch.no_grad():
        assert not torch.allclose(kept(x), removed(x))


def test_removed_activations_are_gone():
    spec = PRESETS["s-lwsr16-half"]
    relus = sum(isinstance(m, nn.ReLU) for m in build_model(spec).modules())
    assert relus == spec.n_active == 12
    ir = _ir_everywhere(spec)
    assert sum(isinstance(m, nn.ReLU) for m in build_model(ir).modules()) == 2 * 12  # two per ir block


def test_mean_shift_is_a_fixed_buffer():
    model = build_model(SMALL)
    assert "rgb_mean" in dict(model.named_buffers())
    assert all("mean" not in n for n, _ in model.named_parameters())
    torch.testing.assert_close(model.rgb_mean.flatten(), torch.tensor(DIV2K_RGB_MEAN) * 255)


def test_state_dict_round_trip():
    torch.manual_seed(0)
    a, b = build_model(RANDOM_SPECS[1]), build_model(RANDOM_SPECS[1])
    b.load_state_dict(a.state_dict())
    x = _lr(5, 5)
    torch.testing.assert_close(a(x), b(x))


def test_rejects_non_spec():
    with pytest.raises(ValueError, match="spec: expected an ArchSpec"):
        build_model({"scale": 4})
    from slwsr_search.model.blocks import Upsampler
    with pytest.raises(ValueError, match="scale: unsupported value 8"):
        Upsampler(8, 16)
