"""Core ML export: what can be checked off Apple systems (the package's spec, interface, precision,
metadata), and the message when coremltools is missing."""

from __future__ import annotations

import builtins

import pytest
import torch

from slwsr_search.deploy.coreml import SIZE_RANGE, coreml_summary, export_coreml
from slwsr_search.model.network import build_model
from slwsr_search.model.spec import ArchSpec

pytest.importorskip("coremltools")  # in the dev extra; the [coreml] extra for users


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(ArchSpec.from_arch("x4-n8-RI2R.RRI1.RRR.I2RR.RR-RRR.RI1R.RRR.RRI2-pool:h,2.1,3.1")).eval()


@pytest.mark.parametrize("precision", ["fp16", "fp32"])
@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_the_package_has_the_onnx_interface_flexible_sizes_and_our_metadata(model, tmp_path, precision):
    path = export_coreml(model, tmp_path / "model.mlpackage", precision)
    assert path.is_dir() and (path / "Manifest.json").is_file()
    s = coreml_summary(path)
    assert (s["input"], s["output"]) == ("input", "output")
    assert s["input_ranges"] == [(1, 1), (3, 3), SIZE_RANGE, SIZE_RANGE]
    assert s["precision"] == precision and s["metadata"]["precision"] == precision
    assert s["metadata"]["spec_hash"] == model.spec.hash and s["metadata"]["scale"] == "4"
    assert s["metadata"]["value_range"] == "0..1" and s["author"] == "slwsr-search"
    # written again over itself: replaced whole, nothing left beside it
    export_coreml(model, path, precision)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mlpackage"]


def test_a_missing_coremltools_is_one_message_naming_the_extra(model, tmp_path, monkeypatch):
    real = builtins.__import__

    def no_coreml(name, *a, **k):
        if name == "coremltools" or name.startswith("coremltools."):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_coreml)
    with pytest.raises(ValueError, match=r"Core ML export needs coremltools: pip install -e '.\[coreml\]'"):
        export_coreml(model, tmp_path / "m.mlpackage")
    with pytest.raises(ValueError, match="precision: expected fp16 or fp32"):
        monkeypatch.setattr(builtins, "__import__", real)
        export_coreml(model, tmp_path / "m.mlpackage", "int4")
