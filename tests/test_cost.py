"""count_cost: exact against numel and fvcore; the published figures and why they differ."""

from __future__ import annotations

import pytest

from helpers import RANDOM_SPECS
from slwsr_search import PRESETS, build_model, count_cost
from slwsr_search.model.cost import measure_cost
from slwsr_search.model.presets import PUBLISHED

# Checked figures (facts page, section 2): params, Multi-Adds at 1280x720 output in G.
EXPECTED = {"s-lwsr16": (143_731, 10.18), "s-lwsr32": (571_107, 39.89), "s-lwsr64": (2_276_803, 157.88),
            "s-lwsr16-half": (143_731, 10.18), "s-lwsr32-half": (571_107, 39.89)}


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_figures(name):
    cost = count_cost(PRESETS[name])
    params, gmacs = EXPECTED[name]
    assert cost.params == params
    assert round(cost.gmacs, 2) == gmacs
    assert cost.hr_size == (720, 1280) and cost.lr_size == (180, 320)
    assert sum(p for _, p, _ in cost.parts) == cost.params and sum(m for *_, m in cost.parts) == cost.macs


@pytest.mark.parametrize("name", ["s-lwsr16", "s-lwsr32", "s-lwsr64"])
def test_published_multi_adds_are_params_times_lr_pixels(name):
    # Why the paper's 8.3 / 32.9 / 131.1 G are ~18% low: they equal params x LR pixels
    # (320 x 180), i.e. every conv counted at LR resolution, although the x4 upsampler's second
    # conv runs at 2x LR and the last conv at 4x LR.
    cost, pub = count_cost(PRESETS[name]), PUBLISHED[name]
    assert round(cost.params * 320 * 180 / 1e9, 1) == pub.gmacs
    assert 0.16 < 1 - pub.gmacs / cost.gmacs < 0.19
    assert round(cost.params / 1000) == pub.params_k


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_agree_with_numel_and_fvcore(name):
    spec = PRESETS[name]
    hr = (48, 64)  # fvcore runs the network; the count is linear in pixels, so small is enough
    assert measure_cost(spec, hr) == (count_cost(spec, hr).params, count_cost(spec, hr).macs)


def test_s_lwsr16_agrees_with_fvcore_at_720p():
    cost = count_cost(PRESETS["s-lwsr16"])
    assert measure_cost(PRESETS["s-lwsr16"]) == (cost.params, cost.macs) == (143_731, 10_184_601_600)


@pytest.mark.parametrize("i", range(len(RANDOM_SPECS)))
def test_random_specs_agree_with_numel_and_fvcore(i):
    spec = RANDOM_SPECS[i]
    hr = (30, 36)  # a multiple of 2, 3 and 4 ... and also an odd size below
    cost = count_cost(spec, hr)
    numel = sum(p.numel() for p in build_model(spec).parameters())
    assert cost.params == numel
    assert measure_cost(spec, hr) == (cost.params, cost.macs)
    odd = (29, 37)
    assert measure_cost(spec, odd)[1] == count_cost(spec, odd).macs


def test_x3_prices_a_whole_multiple_of_the_scale():
    cost = count_cost(PRESETS["s-lwsr16"].replace(scale=3))
    assert cost.lr_size == (240, 426) and cost.hr_size == (720, 1278)


def test_mixes_of_blocks_change_the_cost_as_expected():
    base = count_cost(PRESETS["s-lwsr16"])
    from slwsr_search import BlockSpec
    blocks = list(PRESETS["s-lwsr16"].blocks)
    blocks[0] = BlockSpec("ir", 2, True)  # 1x1 16->32 (+32), dw 3x3 on 32 (+32), 1x1 32->16 (+16)
    ir = count_cost(PRESETS["s-lwsr16"].replace(blocks=tuple(blocks)))
    assert base.params - ir.params == 2 * (16 * 16 * 9 + 16) - (16 * 32 + 32 + 32 * 9 + 32 + 32 * 16 + 16)
    fewer_pool = count_cost(PRESETS["s-lwsr16"].replace(pool=("head",)))
    assert base.params - fewer_pool.params == 5 * 16 * 16


@pytest.mark.parametrize("hr", [(3, 1280), (720,), "720x1280", (720.0, 1280)])
def test_bad_hr_size(hr):
    with pytest.raises(ValueError, match="hr_size"):
        count_cost(PRESETS["s-lwsr16"], hr)
