"""The supernet holds every design as a path: the network it extracts for a spec is the one
``build_model`` builds, with inherited weights, and computes what the supernet computes on that path."""

from __future__ import annotations

import pytest
import torch

from slwsr_search import PRESETS
from slwsr_search.model.network import SLWSR
from slwsr_search.model.spec import BlockSpec, random_spec
from slwsr_search.model.supernet import SuperNet

torch.manual_seed(0)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_an_extracted_network_computes_the_supernets_path(scale):
    net = SuperNet(scale, max_feats=12, max_expand=6).eval()
    specs = [random_spec(seed, scales=(scale,), n_feats=(4, 8, 12), types=("res", "ir")) for seed in range(3)]
    x = torch.rand(2, 3, 9, 11) * 255
    for spec in specs:
        model = net.extract(spec).eval()
        assert isinstance(model, SLWSR) and model.spec == spec
        with torch.no_grad():
            assert torch.allclose(model(x), net(x, spec), atol=1e-3, rtol=1e-5), spec.arch


def test_the_papers_designs_are_paths_of_a_wide_enough_supernet():
    net = SuperNet(4, max_feats=16, max_expand=6).eval()
    x = torch.rand(1, 3, 8, 8) * 255
    for name in ("s-lwsr16", "s-lwsr16-half"):
        with torch.no_grad():
            assert torch.allclose(net.extract(PRESETS[name])(x), net(x, PRESETS[name]), atol=1e-3)


def test_paths_share_weights():
    """Two designs that differ in one slot's expansion inherit the same leading hidden channels."""
    net = SuperNet(4, max_feats=8, max_expand=6)
    a = PRESETS["s-lwsr16"].replace(n_feats=8)
    blocks = list(a.blocks)
    blocks[0] = BlockSpec("ir", 2, True)
    b2 = a.replace(blocks=tuple(blocks))
    blocks[0] = BlockSpec("ir", 6, True)
    b6 = a.replace(blocks=tuple(blocks))
    w2 = net.extract(b2).state_dict()["extractor.0.blocks.0.body.0.weight"]
    w6 = net.extract(b6).state_dict()["extractor.0.blocks.0.body.0.weight"]
    assert w2.shape[0] == 16 and w6.shape[0] == 48 and torch.equal(w2, w6[:16])


@pytest.mark.parametrize("change, msg", [
    (dict(n_feats=32), "n_feats: 32 is over the supernet's 16"),
    (dict(scale=2), "scale: the supernet is x4, the spec x2"),
])
def test_a_spec_outside_the_supernet_is_refused_naming_the_field(change, msg):
    with pytest.raises(ValueError, match=msg):
        SuperNet(4, max_feats=16, max_expand=6).extract(PRESETS["s-lwsr16"].replace(**change))
