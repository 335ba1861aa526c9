"""Block types: every registered type (and the recipe's example, registered for the test) through
tokens, JSON, grammar, cost, builder, random draws, search spaces, latency parts and exports; and
what a spec is, costs and draws pinned as they were before the types moved into one registry."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import warnings

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from helpers import RANDOM_SPECS
from slwsr_search import PRESETS, ArchSpec, BlockSpec, build_model, count_cost
from slwsr_search.deploy import calibrate
from slwsr_search.deploy.calibrate import block_part, export_part, part_module, plan
from slwsr_search.deploy.onnx_export import INPUT
from slwsr_search.model import block_types
from slwsr_search.model.block_types import EXPORTS, BlockType, IntParam, add_costs, conv_cost, make_block, register, registered
from slwsr_search.model.cost import block_cost
from slwsr_search.model.latency_table import LatencyTable, MachineIdentity, predict_latency, spec_keys
from slwsr_search.model.spec import BLOCK_TYPES, N_SLOTS, RES, SLOTS, _with_block_rule, random_spec
from slwsr_search.search.space import ENCODINGS, SearchSpace, parse_block_choice

optuna.logging.set_verbosity(optuna.logging.WARNING)


# ----- the recipe's worked example: WDSR's wide-activation block, one declaration ---------------------


def _wide_build(block: BlockSpec, n_feats: int, res_scale: float) -> nn.Module:
    from slwsr_search.model.blocks import Residual, activation, conv

    hidden = n_feats * block.expand
    return Residual([conv(n_feats, hidden, 3), activation(block.act), conv(hidden, n_feats, 3)], res_scale)


def _wide_cost(block: BlockSpec, n_feats: int, pixels: int) -> tuple[int, int]:
    hidden = n_feats * block.expand
    return add_costs(conv_cost(n_feats, hidden, 3, pixels), conv_cost(hidden, n_feats, 3, pixels))


#: Not registered in the package: the fixture below registers it for one test at a time.
WIDE = BlockType("wide", "W", "wide-activation block", _wide_build, _wide_cost,
                 param=IntParam("width", "width multiplier", "width", "M"), exports=("onnx",))


def _register_wide(monkeypatch) -> None:
    monkeypatch.setattr(block_types, "_REGISTRY", dict(block_types._REGISTRY))  # restored after the test
    register(WIDE)


@pytest.fixture(params=[*registered(), WIDE], ids=lambda t: t.name)
def decl(request, monkeypatch) -> BlockType:
    """Every registered block type, and :data:`WIDE` registered for the test: what a new type gets."""
    if request.param is WIDE:
        _register_wide(monkeypatch)
    return request.param


def _blocks(decl: BlockType) -> list[BlockSpec]:
    """The type's blocks at a few parameter values, activation kept and removed."""
    values = [None] if decl.param is None else [decl.param.minimum, decl.param.example, 12]
    return [BlockSpec(decl.name, v, act) for v in values for act in (True, False)]


def _spec_of(blocks: list[BlockSpec], n_feats: int = 4) -> ArchSpec:
    return ArchSpec(scale=4, n_feats=n_feats, blocks=tuple(itertools.islice(itertools.cycle(blocks), N_SLOTS)),
                    pool=("head", "LB5.b2"))


def _space(choices: list[str], encoding: str) -> SearchSpace:
    data = {"n_feats": [4], "blocks": {"choices": choices, "encoding": encoding},
            "activations": {"keep": ["1/2", "all"]}, "pool": {"sources": ["head", "LB2.b1"]}}
    return SearchSpace.from_dict("t", data, "t.toml")


# ----- every type -----------------------------------------------------------------------------------


def test_tokens_json_and_kinds_round_trip(decl):
    for block in _blocks(decl):
        assert block.token[0] == (decl.letter if block.act else decl.letter.lower())
        assert BlockSpec.from_dict(json.loads(json.dumps(block.to_dict()))) == block
        assert parse_block_choice(block.kind) == dataclasses.replace(block, act=True)
    spec = _spec_of(_blocks(decl))
    assert ArchSpec.from_arch(spec.arch) == spec and ArchSpec.from_json(spec.to_json()) == spec


def test_the_grammar_and_the_errors_name_the_type(decl):
    alt, what = decl.grammar()
    assert re.search(rf"(:=|\|) {re.escape(alt)} +{re.escape(what)}$", _with_block_rule("  BLOCK    := x"), re.M)
    with pytest.raises(ValueError, match=re.escape(decl.token_forms())):
        ArchSpec.from_arch("x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RR-pool:h")
    token, says = (decl.letter, "needs") if decl.param else (decl.letter + "2", "takes no")
    with pytest.raises(ValueError, match=f"arch: F4.b3: an? {decl.noun} {says}"):
        ArchSpec.from_arch(f"x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RR{token}-pool:h")
    if decl.param is not None:
        p = decl.param
        with pytest.raises(ValueError, match=f"w: missing key '{p.key}' \\(required for '{decl.name}' blocks\\)"):
            BlockSpec.from_dict({"type": decl.name, "act": True}, "w")
        with pytest.raises(ValueError, match=f"w.{p.key}: {p.what} must be >= {p.minimum}, got {p.minimum - 1}"):
            BlockSpec.from_dict({"type": decl.name, p.key: p.minimum - 1, "act": True}, "w")
    else:
        with pytest.raises(ValueError, match=f"w.expand: only 'ir' blocks have an expansion ratio.* got 2 on a '{decl.name}' block"):
            BlockSpec.from_dict({"type": decl.name, "expand": 2, "act": True}, "w")


def test_the_cost_is_the_built_modules(decl):
    from fvcore.nn import FlopCountAnalysis

    for block in (b for b in _blocks(decl) if b.act):
        for n in (4, 7):
            module = make_block(block, n, 1.0).eval()
            params, macs = block_cost(block, n, 5 * 6)
            assert params == sum(p.numel() for p in module.parameters()), block
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                flops = FlopCountAnalysis(module, torch.zeros(1, n, 5, 6))
                flops.unsupported_ops_warnings(False)
                assert int(flops.total()) == macs, block


def test_the_builder_keeps_the_shape_and_scales_the_branch(decl):
    x = torch.rand(2, 6, 5, 7) * 50
    for block in _blocks(decl):
        torch.manual_seed(0)
        full = make_block(block, 6, 1.0).eval()
        torch.manual_seed(0)
        half = make_block(block, 6, 0.5).eval()
        with torch.no_grad():
            y, z = full(x.clone()), half(x.clone())
        assert y.shape == x.shape
        torch.testing.assert_close(z - x, 0.5 * (y - x), rtol=1e-4, atol=1e-3)  # x + res_scale * branch(x)
        assert any(isinstance(m, nn.ReLU) for m in full.modules()) == block.act  # a removed activation is gone


def test_random_spec_draws_the_type_and_its_parameter(decl):
    blocks = [b for seed in range(5) for b in random_spec(seed, n_feats=(4,), types=(decl.name,), max_expand=3).blocks]
    assert {b.type for b in blocks} == {decl.name}
    assert {b.expand for b in blocks} == ({None} if decl.param is None else set(range(decl.param.minimum, 4)))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_search_spaces_draw_and_encode_the_type(decl, encoding):
    kinds = [b.kind for b in _blocks(decl)[:4:2]]
    choices = list(dict.fromkeys([RES.kind, "ir2", *kinds]))
    space = _space(choices, encoding)
    spec = _spec_of([dataclasses.replace(parse_block_choice(k), act=True) for k in kinds]).replace(pool=("head",))
    assert space.decode(space.encode(spec)) == spec
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = set()
    for _ in range(30):
        trial = study.ask()
        s = space.suggest(trial)
        study.tell(trial, 0.0)
        assert sorted(trial.params) == sorted(space.param_names)  # fixed length: NSGA-II evolves them all
        assert space.decode(space.encode(s)) == s
        drawn |= {b.kind for b in s.blocks}
    assert drawn == set(choices)


def test_latency_parts_are_named_after_the_kind(decl):
    blocks = _blocks(decl)
    parts = plan([4], blocks)
    assert {p.key for p in parts if p.block} == {f"block:{b.kind}:n4:{'act' if b.act else 'noact'}" for b in blocks}
    table = LatencyTable(MachineIdentity("cpu", 1, "onnxruntime", "1", 1), 4, (8, 8), {p.key: 1.0 for p in parts}, 1, 1, 0)
    assert predict_latency(_spec_of(blocks), table).ms == pytest.approx(1.0 + N_SLOTS)


def test_its_exports_are_known_and_onnx_runs_its_part(decl):
    import onnxruntime as ort

    assert set(decl.exports) <= set(EXPORTS)
    if "onnx" not in decl.exports:
        return
    for block in _blocks(decl)[:2]:
        module, x = part_module(block_part(block, 4, copies=2), 4, (5, 6))
        session = ort.InferenceSession(export_part(module, x), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            ref = module(x.clone()).numpy()
        np.testing.assert_allclose(session.run(None, {INPUT: x.numpy()})[0], ref, rtol=1e-4, atol=1e-3)


# ----- the registry ---------------------------------------------------------------------------------


def test_the_shared_random_specs_hold_every_type():
    # so every test generated from helpers.RANDOM_SPECS (cost against fvcore, round trips, runs) covers a new type
    assert BLOCK_TYPES == tuple(t.name for t in registered())
    assert {b.type for s in RANDOM_SPECS for b in s.blocks} == set(BLOCK_TYPES)


@pytest.mark.parametrize("changes,msg", [
    ({}, "block type 'res': already registered"),
    ({"name": "dense"}, "block type 'dense': letter 'R' is taken by 'res'"),
    ({"name": "dense", "letter": "d"}, "block type 'dense': letter: expected one upper-case letter, got 'd'"),
    ({"name": "order", "letter": "O"}, "block type name: expected lower-case letters, not one of"),
    ({"name": "Dense", "letter": "D"}, "block type name: expected lower-case letters"),
    ({"name": "dense", "letter": "D", "exports": ("tflite",)}, "block type 'dense': exports: unknown format 'tflite'"),
])
def test_register_refuses_a_clash(changes, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        register(dataclasses.replace(registered()[0], **changes))
    assert BLOCK_TYPES == tuple(t.name for t in registered())  # nothing was added


def test_a_format_a_type_does_not_export_to_is_refused_before_calibrating(monkeypatch):
    _register_wide(monkeypatch)
    parts = plan([4], [BlockSpec("wide", 2)])
    calibrate.check_exports(parts, "onnxruntime-int8")
    with pytest.raises(ValueError, match=r"part block:wide2:n4:act: a wide-activation block \('wide'\) does not "
                                         r"export to litert; it exports to onnx"):
        calibrate.check_exports(parts, "litert")



@pytest.mark.parametrize("fmt", ["coreml", "litert"])
def test_a_converter_refuses_a_block_its_format_cannot_take_before_any_work(monkeypatch, fmt):
    """Every converter is handed :func:`export_copy` with its format: a type that does not export to
    it is refused, naming the slot, before the converter (or its optional package) is touched."""
    from slwsr_search.deploy.onnx_export import export_copy
    from slwsr_search.model.network import build_model

    _register_wide(monkeypatch)
    model = build_model(_spec_of([BlockSpec("wide", 2)]))
    assert export_copy(model, "onnx").spec == model.spec
    with pytest.raises(ValueError, match=rf"blocks\[LB1.b1\]: a wide-activation block \('wide'\) does not export to {fmt}"):
        export_copy(model, fmt)

def test_the_mix_encoding_with_three_types(monkeypatch):
    """Each type but the last has a count; the ``order:`` ranking hands each its count of slots in turn."""
    _register_wide(monkeypatch)
    space = _space(["wide2", "res", "ir2", "ir4", "wide3"], "mix")
    names = space.param_names
    assert names[:3] == ["n_feats", "res_scale", "res_count"] and names[3] == "ir_count"
    assert names.index("ir:LB1.b1") < names.index("wide:LB1.b1") and "wide_count" not in names
    params = space.encode(_spec_of([BlockSpec("res")]).replace(pool=("head",)))
    params.update({"res_count": 2, "ir_count": 3, **{f"order:{s}": 0.9 for s in SLOTS},
                   "order:F4.b3": 0.1, "order:LB2.b1": 0.2, "order:F1.b1": 0.3, "order:LB1.b1": 0.4,
                   "ir:F1.b1": "ir4", "wide:LB5.b2": "wide3"})
    kinds = [b.kind for b in space.decode(params).blocks]
    # ranked: F4.b3 LB2.b1 (res), F1.b1 LB1.b1 LB1.b2 (ir), the rest (wide)
    assert [(s, k) for s, k in zip(SLOTS, kinds) if k != "wide2"] == [
        ("LB1.b1", "ir2"), ("LB1.b2", "ir2"), ("LB2.b1", "res"), ("LB5.b2", "wide3"), ("F1.b1", "ir4"), ("F4.b3", "res")]


def test_a_new_type_prices_and_builds_a_whole_network(monkeypatch):
    _register_wide(monkeypatch)
    spec = ArchSpec.from_arch("x4-n4-W2rI2.RRR.RRR.RRR.RR-w3RR.RRR.RRR.RRR-pool:h")
    assert spec.block("LB1.b1") == BlockSpec("wide", 2, True) and spec.block("F1.b1") == BlockSpec("wide", 3, False)
    assert json.loads(spec.to_json())["blocks"]["LB1"][0] == {"type": "wide", "width": 2, "act": True}
    assert ArchSpec.from_json(spec.to_json()) == spec
    assert count_cost(spec).params == sum(p.numel() for p in build_model(spec).parameters())
    assert "block:wide3:n4:noact" in spec_keys(spec)


# ----- pinned: computed before the block types moved into model/block_types.py (issue 34) -------------

#: Studies dedupe on a spec's hash, and checkpoints and bundles name it: a refactor keeps every one.
PRESET_HASHES = {"s-lwsr16": "3c39d084f57e8863", "s-lwsr32": "5d0ea053bbb4f724", "s-lwsr64": "ea4feb410788ac4e",
                 "s-lwsr16-half": "f8f376ca80e190bb", "s-lwsr32-half": "9dbeae24364507e8"}
#: ``random_spec(seed, n_feats=(4, 6, 8, 12), types=("res", "ir"))`` for seeds 0..49 (helpers.RANDOM_SPECS then).
RANDOM_HASHES = [
    "4ec80927f3d847ea", "c9dc9e11efebb00d", "e5c7d3a076429be2", "e1b75bf10ec0eceb", "368a0c6e097caea3",
    "f2693a3cb104080c", "0b1576f42b2123e9", "61e228c1dae22649", "00a4a4f6739f8762", "a6c2035d9dcbeade",
    "593b4434276ea7b0", "4414b0a42b68eb4e", "3e05538fbeeafc4d", "a012d56358bd104a", "ae41aee81ea3fda8",
    "789e47be88888206", "a10c124a889de2c0", "fb756add9672a070", "26ac18eee3ae2e4c", "ef3196cd5692244b",
    "be6505a4b1112d8a", "c69d56e3c262723c", "110913a4b9898258", "5aba3739ce1dc79e", "06849c81b07f3bf5",
    "86fd5e8dd883a06e", "076033c91817aed5", "a19f11d96570d25c", "fc86fbc81e65d0e2", "1f414231c9a6da73",
    "109fa6acebb89dbc", "79ae0611fd5672e7", "fc439209a860987e", "e23f4144ab85b504", "0ffb7d319c119d6b",
    "8820ecb97245a25d", "ca2678046adba4fe", "839e16b5ebee9bc4", "889ef53f5581af3c", "9b9858f27782f4e8",
    "3a37389e7a8d05e1", "0f2f5db09f5a5147", "0a66fea0fb220cf2", "cf70144907355b87", "1bd595ac42be600c",
    "5fee4b01250852db", "fb2a8285c5b6e678", "9e709bedf11f7e24", "840964d19d1dcf64", "987efc95a3415ff8",
]
PINNED = [random_spec(seed, n_feats=(4, 6, 8, 12), types=("res", "ir")) for seed in range(len(RANDOM_HASHES))]
#: 16 hex digits of the SHA-256 of what each test below lists, one line per spec or trial.
DIGESTS = {"prices": "064604f0b09876e6", "json": "b7091ed39c8bb4f0", "state_dict": "a405ea9c79348460",
           "slwsr": "9c2a6b9da55d15bb", "slwsr-mix": "c2f977c5b23b3442", "smoke": "1e7b3216692fcdfa"}


def _digest(lines) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def test_specs_hash_as_before():
    assert {name: s.hash for name, s in PRESETS.items()} == PRESET_HASHES
    assert [s.hash for s in PINNED] == RANDOM_HASHES


def test_prices_latency_keys_and_json_as_before():
    specs = [*PRESETS.values(), *PINNED]
    lines = (f"{s.arch} {count_cost(s).params} {count_cost(s).macs} {' '.join(spec_keys(s))}" for s in specs)
    assert _digest(lines) == DIGESTS["prices"]
    assert _digest(s.to_json() for s in specs) == DIGESTS["json"]


def test_networks_keep_their_state_dict_keys():
    lines = (" ".join(f"{k}{tuple(v.shape)}" for k, v in build_model(s).state_dict().items()) for s in PINNED[:10])
    assert _digest(lines) == DIGESTS["state_dict"]


@pytest.mark.parametrize("name", ["slwsr", "slwsr-mix", "smoke"])
def test_search_spaces_suggest_as_before(name):
    """The same parameter names and values for a sampler's seed, and the same specs."""
    space = SearchSpace.load(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    lines = []
    for _ in range(20):
        trial = study.ask()
        spec = space.suggest(trial)
        study.tell(trial, 0.0)
        lines.append(json.dumps(list(trial.params.items())) + " " + spec.hash)
    assert _digest(lines) == DIGESTS[name]


def test_the_grammar_reads_as_before():
    assert ('            BLOCK    := "R" | "r"                                     residual block, activation kept / removed\n'
            '                      | "I" T | "i" T                                 inverted residual, expansion T >= 1, '
            'kept / removed\n') in ArchSpec.from_arch.__doc__
