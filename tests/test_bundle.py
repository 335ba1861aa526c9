"""Model bundles: weights and spec in one folder, rebuilt from it alone, refused when they disagree."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from slwsr_search import PRESETS, build_model
from slwsr_search.deploy.bundle import BUNDLE_FORMAT, SPEC, WEIGHTS, load_bundle, save_bundle
from slwsr_search.model.spec import ArchSpec



def _model(name: str = "s-lwsr16-half", seed: int = 0):
    torch.manual_seed(seed)
    return build_model(PRESETS[name]).eval()


def test_a_bundle_rebuilds_the_same_module(tmp_path):
    model = _model()
    save_bundle(model, tmp_path / "b", {"protocol": json.dumps({"steps": 3})})
    back = load_bundle(tmp_path / "b")
    assert back.spec == model.spec and sorted(p.name for p in (tmp_path / "b").iterdir()) == [WEIGHTS, SPEC]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
    x = torch.rand(1, 3, 11, 9) * 255
    with torch.no_grad():
        assert torch.equal(model(x), back(x))
    with safe_open(str(tmp_path / "b" / WEIGHTS), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == BUNDLE_FORMAT and ArchSpec.from_json(meta["spec"]) == model.spec
    assert meta["spec_hash"] == model.spec.hash and json.loads(meta["protocol"]) == {"steps": 3}


def test_equal_tensors_of_another_design_are_refused(tmp_path):
    """s-lwsr16 and s-lwsr16-half have the same tensors: only the spec tells them apart."""
    save_bundle(_model("s-lwsr16-half"), tmp_path / "b")
    PRESETS["s-lwsr16"].save(tmp_path / "b" / SPEC)
    with pytest.raises(ValueError, match=f"{WEIGHTS}: its weights were saved for spec {PRESETS['s-lwsr16-half'].hash}"):
        load_bundle(tmp_path / "b")


def test_weights_that_do_not_fit_the_spec_are_refused(tmp_path):
    spec = PRESETS["s-lwsr16"]
    save_bundle(_model("s-lwsr16"), tmp_path / "b")
    other = {k: v.contiguous() for k, v in _model("s-lwsr32").state_dict().items()}
    save_file(other, str(tmp_path / "b" / WEIGHTS), metadata={"format": BUNDLE_FORMAT, "spec": spec.to_json(compact=True),
                                                             "spec_hash": spec.hash})
    with pytest.raises(ValueError, match="weights do not fit the spec"):
        load_bundle(tmp_path / "b")


@pytest.mark.parametrize("spoil,msg", [
    (lambda b: (b / WEIGHTS).unlink(), f"{WEIGHTS}: missing from the bundle"),
    (lambda b: (b / SPEC).unlink(), f"{SPEC}: missing from the bundle"),
    (lambda b: (b / WEIGHTS).write_bytes(b"not tensors"), "cannot read it as safetensors"),
    (lambda b: (b / SPEC).write_text("{"), f"{SPEC}: "),
    (lambda b: save_file({"w": torch.zeros(1)}, str(b / WEIGHTS)), "not an slwsr-search bundle"),
])
def test_broken_bundles_are_one_line_errors_naming_the_file(tmp_path, spoil, msg):
    save_bundle(_model(), tmp_path / "b")
    spoil(tmp_path / "b")
    with pytest.raises(ValueError, match=msg) as e:
        load_bundle(tmp_path / "b")
    assert str(tmp_path / "b") in str(e.value) and "\n" not in str(e.value)


def test_not_a_folder_and_bad_metadata(tmp_path):
    with pytest.raises(ValueError, match="not a bundle folder"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(ValueError, match="metadata: values must be strings, got steps=3"):
        save_bundle(_model(), tmp_path / "b", {"steps": 3})
    assert not list((tmp_path / "b").iterdir())  # nothing half-written
