"""LiteRT: the logic around the converter tested everywhere (calibration mosaics, int8 tensor
conversion, the missing-extra message); the conversion itself where the [litert] extra is
installed (measured figures: docs/results/2026-12-01-litert-xeon.md)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from slwsr_search.deploy.litert import export_tflite, from_tensor, litert_or_error, mosaic_inputs, to_tensor
from slwsr_search.model.network import build_model
from slwsr_search.model.spec import ArchSpec


def test_mosaics_are_nhwc_tiles_of_the_patches_with_the_input_range_pinned():
    patches = np.random.default_rng(0).uniform(0.2, 0.8, (5, 3, 4, 4)).astype(np.float32)
    m = mosaic_inputs(patches, (10, 7), 3, seed=1)
    assert m.shape == (3, 1, 10, 7, 3) and m.dtype == np.float32
    assert np.array_equal(m, mosaic_inputs(patches, (10, 7), 3, seed=1))
    # pixel (0,0) black and (0,1) white: the calibrated input scale is exactly 1/255
    assert (m[:, 0, 0, 0] == 0).all() and (m[:, 0, 0, 1] == 1).all()
    # every other 4x4 tile is one of the patches, moved to NHWC
    tile = m[0, 0, 4:8, 4:7].transpose(2, 0, 1)
    assert any(np.array_equal(tile, p[:, :, :3]) for p in patches)


def test_int8_tensors_round_trip_with_their_scale_and_zero_point():
    detail = {"dtype": np.int8, "quantization": (1 / 255, -128)}
    levels = np.arange(256, dtype=np.float32) / 255
    q = to_tensor(levels, detail)
    assert q.dtype == np.int8 and q.min() == -128 and q.max() == 127
    assert np.allclose(from_tensor(q, detail), levels, atol=1e-6)  # every 8-bit level exact
    assert to_tensor(np.array([2.0, -1.0], np.float32), detail).tolist() == [127, -128]  # saturated
    f = {"dtype": np.float32, "quantization": (0.0, 0)}
    assert to_tensor(levels, f) is not levels and np.array_equal(from_tensor(levels, f), levels)


def test_a_missing_converter_is_one_message_naming_the_extra(monkeypatch):
    # as where the extra is not installed, even after another test imported it (None in sys.modules)
    monkeypatch.setitem(sys.modules, "litert_torch", None)
    with pytest.raises(ValueError, match=r"LiteRT needs litert-torch: pip install torch==2.13.0 -e '.\[litert\]'"):
        litert_or_error()


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_litert_fp32_equals_pytorch_at_odd_sizes(tmp_path):
    pytest.importorskip("litert_torch")  # the [litert] extra (1.1 GB): not in the test install
    from slwsr_search.deploy.litert import litert_runner
    from slwsr_search.deploy.runners import torch_runner

    torch.manual_seed(0)
    model = build_model(ArchSpec.from_arch("x4-n8-RI2R.RRI1.RRR.I2RR.RR-RRR.RI1R.RRR.RRI2-pool:h,2.1,3.1")).eval()
    for h, w in ((13, 9), (7, 22)):
        path = export_tflite(model, tmp_path / f"m{h}x{w}.tflite", (h, w))
        x = np.random.default_rng(h).random((1, 3, h, w), dtype=np.float32)
        run = litert_runner(path)
        assert np.abs(run(x) - torch_runner(model)(x)).max() < 1e-4
        with pytest.raises(ValueError, match="converted for 1 x"):
            run(np.zeros((1, 3, h + 1, w), np.float32))
