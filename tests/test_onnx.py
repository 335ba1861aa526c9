"""ONNX export: the graph onnxruntime runs equals the PyTorch model on 0..1 RGB, at odd sizes."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from slwsr_search import PRESETS, build_model
from slwsr_search.deploy.onnx_export import INPUT, OPSET, OUTPUT, UnitRange, export_onnx


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(PRESETS["s-lwsr16-half"]).eval()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx")
    return model, path


def test_the_graph_is_valid_opset_18_with_dynamic_batch_height_and_width(exported):
    _, path = exported
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert {o.domain: o.version for o in proto.opset_import}[""] == OPSET
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == (INPUT, OUTPUT)
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims[1] == 3 and all(isinstance(d, str) and d for d in (dims[0], dims[2], dims[3]))
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # shareable, not mkstemp's owner-only mode


def test_metadata_round_trip(exported):
    model, path = exported
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["scale"] == "4" and meta["value_range"] == "0..1" and meta["spec_hash"] == model.spec.hash
    assert json.loads(meta["spec"]) == json.loads(model.spec.to_json(compact=True))


@pytest.mark.parametrize("h,w", [(17, 23), (31, 9), (45, 61)])
def test_onnxruntime_equals_pytorch_on_0_to_1_within_1e_4(exported, h, w):
    """On crops of two photographs (scikit-image's, the built-in data), batched."""
    from skimage import data

    model, path = exported
    crops = [img[40:40 + h, 60:60 + w] for img in (data.chelsea(), data.astronaut())]
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255).contiguous()
    with torch.no_grad():
        ref = UnitRange(model).eval()(x).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {INPUT: x.numpy()})[0]
    assert out.shape == (2, 3, 4 * h, 4 * w) and out.dtype == np.float32
    assert float(np.abs(out - ref).max()) <= 1e-4
    assert out.min() >= 0.0 and out.max() <= 1.0  # the clamp is in the graph


def test_unit_range_is_the_network_on_0_255():
    torch.manual_seed(1)
    model = build_model(PRESETS["s-lwsr16"]).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(UnitRange(model)(x), (model(x * 255) / 255).clamp(0, 1))


def test_a_model_trained_channels_last_exports(tmp_path):
    """Training keeps the weights channels_last; the export must still have a dynamic batch."""
    import onnxruntime as ort

    model = build_model(PRESETS["s-lwsr16-half"]).to(memory_format=torch.channels_last)
    path = export_onnx(model, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"input": np.random.rand(3, 3, 9, 11).astype(np.float32)})[0].shape == (3, 3, 36, 44)
