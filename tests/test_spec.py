"""ArchSpec: validation, JSON and arch-string round trips, stable hash."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import RANDOM_SPECS
from slwsr_search import PRESETS, ArchSpec, BlockSpec
from slwsr_search.model.spec import HALF_ACTIVATION_MASK, N_SLOTS, POOL_SOURCES, PUBLISHED_POOL, SLOTS

ALL_SPECS = list(PRESETS.items()) + [(f"random{i}", s) for i, s in enumerate(RANDOM_SPECS)]


@pytest.mark.parametrize("name,spec", ALL_SPECS, ids=[n for n, _ in ALL_SPECS])
def test_round_trips(name, spec):
    assert ArchSpec.from_json(spec.to_json()) == spec
    assert ArchSpec.from_arch(spec.arch) == spec
    assert ArchSpec.from_json(spec.to_json()).hash == spec.hash
    assert hash(spec) == hash(ArchSpec.from_arch(spec.arch))  # usable as a dict key / set member


def test_save_load(tmp_path):
    spec = PRESETS["s-lwsr16-half"]
    spec.save(tmp_path / "s.json")
    assert ArchSpec.load(tmp_path / "s.json") == spec


def test_presets_are_the_published_network():
    for name, spec in PRESETS.items():
        assert spec.scale == 4 and spec.pool == PUBLISHED_POOL and spec.res_scale == 1.0
        assert all(b.type == "res" for b in spec.blocks), name
    assert PRESETS["s-lwsr16"].n_active == 26
    half = PRESETS["s-lwsr16-half"]
    assert half.n_active == 12 and tuple(b.act for b in half.blocks) == HALF_ACTIVATION_MASK
    assert half.arch == "x4-n16-rrR.rrR.RrR.RrR.RR-Rrr.Rrr.Rrr.Rrr-pool:h,2.1,3.1,4.1,5.1,5.2"
    assert [PRESETS[k].n_feats for k in ("s-lwsr16", "s-lwsr32", "s-lwsr64")] == [16, 32, 64]


def test_hash_is_stable_across_processes():
    # Studies dedupe on this hash: it must not depend on the process (PYTHONHASHSEED) or run.
    code = "from slwsr_search import PRESETS; print(PRESETS['s-lwsr16'].hash)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == PRESETS["s-lwsr16"].hash == "3c39d084f57e8863"


def test_hashes_distinguish_specs():
    hashes = {s.hash for _, s in ALL_SPECS}
    assert len(hashes) == len({s for _, s in ALL_SPECS})


def test_pool_order_is_canonical():
    a = PRESETS["s-lwsr16"].replace(pool=("LB5.b2", "head", "LB2.b1"))
    b = PRESETS["s-lwsr16"].replace(pool=["head", "LB2.b1", "LB5.b2"])
    assert a == b and a.hash == b.hash and a.pool == ("head", "LB2.b1", "LB5.b2")


def test_slot_vocabulary():
    assert len(SLOTS) == N_SLOTS == 26
    assert len(POOL_SOURCES) == 15 and POOL_SOURCES[0] == "head" and POOL_SOURCES[-1] == "LB5.b2"
    spec = PRESETS["s-lwsr16-half"]
    assert spec.block("LB3.b1").act and not spec.block("F2.b3").act
    with pytest.raises(ValueError, match="slot"):
        spec.block("LB6.b1")


BASE = PRESETS["s-lwsr16"]


@pytest.mark.parametrize("make,field", [
    (lambda: BlockSpec("conv", None, True), r"type: unknown block type 'conv'"),
    (lambda: BlockSpec("ir", 0, True), r"expand: expansion ratio must be >= 1, got 0"),
    (lambda: BlockSpec("ir", 0.5, True), r"expand: expansion ratio must be >= 1, got 0.5"),
    (lambda: BlockSpec("ir", 1.5, True), r"expand: expansion ratio must be an integer"),
    (lambda: BlockSpec("ir", None, True), r"expand: expected an integer"),
    (lambda: BlockSpec("res", 2, True), r"expand: only 'ir' blocks"),
    (lambda: BlockSpec("res", None, 1), r"act: expected true or false"),
    (lambda: BASE.replace(n_feats=0), r"n_feats: expected a positive integer, got 0"),
    (lambda: BASE.replace(n_feats=-3), r"n_feats: .* got -3"),
    (lambda: BASE.replace(n_feats=16.0), r"n_feats: .* got 16.0"),
    (lambda: BASE.replace(scale=5), r"scale: unsupported value 5; supported: 2, 3, 4"),
    (lambda: BASE.replace(scale=1), r"scale: unsupported value 1"),
    (lambda: BASE.replace(pool=()), r"pool: the information pool needs at least one source"),
    (lambda: BASE.replace(pool=("head", "LB6.b1")), r"pool: unknown source 'LB6.b1'"),
    (lambda: BASE.replace(pool=("F1.b1",)), r"pool: unknown source 'F1.b1'"),
    (lambda: BASE.replace(pool=("head", "head")), r"pool: source 'head' listed twice"),
    (lambda: BASE.replace(pool="head"), r"pool: expected a list"),
    (lambda: BASE.replace(blocks=BASE.blocks[:25]), r"blocks: expected 26 block slots, got 25"),
    (lambda: BASE.replace(res_scale=0), r"res_scale: expected a finite number > 0, got 0"),
    (lambda: BASE.replace(res_scale=float("nan")), r"res_scale: .* got nan"),
])
def test_validation_names_field_and_value(make, field):
    with pytest.raises(ValueError, match=field):
        make()


def _doc(**changes):
    d = BASE.to_dict()
    d.update(changes)
    return d


def _with_block(bunch, i, block):
    d = BASE.to_dict()
    d["blocks"][bunch][i] = block
    return d


@pytest.mark.parametrize("data,msg", [
    ({k: v for k, v in BASE.to_dict().items() if k != "pool"}, r"spec: missing key 'pool'"),
    (_doc(width=3), r"spec: unknown key 'width'"),
    (_doc(n_feats=0), r"n_feats: expected a positive integer, got 0"),
    (_doc(scale=8), r"scale: unsupported value 8"),
    (_doc(pool=[]), r"pool: the information pool needs at least one source"),
    (_with_block("LB3", 1, {"type": "dense", "act": True}), r"blocks\[LB3.b2\].type: unknown block type 'dense'"),
    (_with_block("F1", 0, {"type": "ir", "act": True}), r"blocks\[F1.b1\]: missing key 'expand'"),
    (_with_block("F1", 0, {"type": "ir", "expand": 0.5, "act": True}), r"blocks\[F1.b1\].expand: .*>= 1, got 0.5"),
    (_with_block("LB1", 0, {"type": "res"}), r"blocks\[LB1.b1\]: missing key 'act'"),
    (_with_block("LB1", 0, "res"), r"blocks\[LB1.b1\]: expected an object"),
    (_doc(blocks={**BASE.to_dict()["blocks"], "LB5": [{"type": "res", "act": True}]}), r"blocks.LB5: expected a list of 2 blocks, got 1"),
    (_doc(blocks={k: v for k, v in BASE.to_dict()["blocks"].items() if k != "F4"}), r"blocks: missing bunch 'F4'"),
    ([1, 2], r"spec: expected a JSON object"),
])
def test_json_errors_name_the_key(data, msg):
    with pytest.raises(ValueError, match=msg):
        ArchSpec.from_json(json.dumps(data))


def test_malformed_json_says_where():
    with pytest.raises(ValueError, match=r"invalid JSON at line 2 column 1"):
        ArchSpec.from_json('{"scale": 4\n')


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"missing.json: spec file not found"):
        ArchSpec.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"scale": 4}')
    with pytest.raises(ValueError, match=r"bad.json: spec: missing key 'n_feats'"):
        ArchSpec.load(bad)


@pytest.mark.parametrize("text,msg", [
    ("x4-n16", r"arch: cannot parse"),
    ("x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RR-pool:h", r"bunch F4 must have 3 block tokens"),
    ("x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR-pool:h", r"expected 5 extractor and 4 fusion bunches"),
    ("x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRI-pool:h", r"F4.b3: an inverted residual needs an expansion ratio"),
    ("x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRI0-pool:h", r"F4.b3.expand: expansion ratio must be >= 1, got 0"),
    ("x5-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h", r"scale: unsupported value 5"),
    ("x4-n0-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h", r"n_feats: expected a positive integer, got 0"),
    ("x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:6.1", r"pool: unknown source 'LB6.b1'"),
])
def test_arch_string_errors(text, msg):
    with pytest.raises(ValueError, match=msg):
        ArchSpec.from_arch(text)
