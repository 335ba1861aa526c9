"""The parity gate: every file a release writes is checked against the bundle's own network on a
real picture, and a file that is not the network is refused (moved out of the bundle, exit 1).
The LiteRT cases need the [litert] extra, which .ci/run installs (docs/deployment.md#the-parity-gate)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import run_command

from slwsr_search import load_bundle
from slwsr_search.deploy.onnx_export import export_onnx
from slwsr_search.deploy.parity import (TOLERANCES, Parity, check_files, compare, fit_to, parity_picture,
                                        reject_failures)
from slwsr_search.model.network import build_model
from slwsr_search.model.presets import get_preset
from slwsr_search.sr.data import load_pairs

SPEC = get_preset("s-lwsr16-half")


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A real LR picture (a built-in validation photograph)."""
    return load_pairs("builtin:val", 4, progress=False)[0].lr


def trained(seed: int):
    """A network with weights that do not look like an initialisation (so two seeds differ)."""
    torch.manual_seed(seed)
    m = build_model(SPEC)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return m.eval()


def test_fit_to_crops_the_centre_or_repeats_the_edges():
    a = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    assert np.array_equal(fit_to(a, (3, 3)), a[1:4, 2:5])
    b = fit_to(a, (6, 9))
    assert b.shape == (6, 9, 3) and np.array_equal(b[:5, :7], a) and np.array_equal(b[5], b[4]) and np.array_equal(b[:, 8], b[:, 6])


def test_compare_gives_the_largest_difference_and_psnr_with_peak_one():
    y = np.zeros((1, 3, 4, 4), np.float32)
    r = y.copy()
    r[0, 0, 0, 0] = 0.5
    mx, p = compare(y, r)
    assert mx == 0.5 and p == pytest.approx(10 * math.log10(1 / (0.25 / 48)))
    assert compare(y, y) == (0.0, math.inf)


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_an_onnx_graph_of_the_network_passes_and_one_of_other_weights_is_rejected(tmp_path, picture):
    good, other = trained(0), trained(1)
    export_onnx(good, tmp_path / "model.onnx")
    export_onnx(other, tmp_path / "other.onnx")
    ok, bad = check_files([(tmp_path / "model.onnx", "fp32"), (tmp_path / "other.onnx", "fp32")], good, picture)
    assert ok.ok and ok.max_abs <= 1e-5 and ok.psnr > 100
    assert not bad.ok and bad.max_abs > TOLERANCES["fp32"].max_abs and "FAILED" in bad.describe()
    moved = reject_failures([ok, bad], tmp_path, tmp_path / "rejected")
    assert moved == [tmp_path / "rejected" / "other.onnx"] and not (tmp_path / "other.onnx").exists()
    assert (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("precision, max_abs, psnr, ok", [
    # the worst measured on trained networks passes (docs/results/2026-12-07-parity-xeon.csv) ...
    ("fp32", 1.3e-6, 133.8, True), ("fp16", 7.0e-4, 75.9, True), ("int8", 0.30, 38.8, True),
    # ... a real change of the numbers does not: another rounding class, or another network
    ("fp32", 2e-3, 90.0, False), ("fp32", 5e-5, 95.0, False), ("fp16", 0.02, 70.0, False), ("fp16", 1e-3, 55.0, False),
    ("int8", 0.79, 10.4, False),  # the channels_last LiteRT file finalize shipped
    ("int8", 0.3, 30.0, False),
])
def test_the_bounds_tell_a_file_of_its_precision_from_another_network(precision, max_abs, psnr, ok):
    assert Parity("f", precision, max_abs, psnr, TOLERANCES[precision], "x").ok is ok


def test_the_picture_is_a_bench_picture_then_a_validation_image_then_calibration_patches(picture):
    pairs = load_pairs("builtin:val", 4, progress=False)
    assert parity_picture([], pairs)[1] == f"validation image {pairs[0].name}"
    patches = np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32)
    lr, name = parity_picture([], [], patches, (40, 56))
    assert lr.shape == (40, 56, 3) and lr.dtype == np.uint8 and "mosaic of 4 calibration patches" in name
    with pytest.raises(ValueError, match="needs a real picture"):
        parity_picture([], [])


def test_a_core_ml_package_of_other_weights_is_refused(tmp_path):
    pytest.importorskip("coremltools")
    from slwsr_search.deploy.coreml import export_coreml
    from slwsr_search.deploy.parity import coreml_parity

    good, other = trained(0), trained(1)
    export_coreml(good, tmp_path / "a.mlpackage")
    assert coreml_parity(tmp_path / "a.mlpackage", good).ok
    r = coreml_parity(tmp_path / "a.mlpackage", other)
    assert not r.ok and "weights_hash" in r.describe()


def test_litert_converts_a_channels_last_network_to_the_network(tmp_path, picture):
    """litert-torch mistranslates a channels_last module (0.79 max difference): the converter is
    handed a contiguous copy whatever layout training used."""
    pytest.importorskip("litert_torch")
    from slwsr_search.deploy.litert import export_tflite

    m = trained(0)
    path = export_tflite(m.to(memory_format=torch.channels_last), tmp_path / "m.tflite", (40, 48))
    (r,) = check_files([(path, "fp32")], m.to(memory_format=torch.contiguous_format), picture)
    assert r.ok and r.max_abs <= 1e-4, r.describe()


FINALIZE = ["--preset", "s-lwsr16-half", "--steps", "6", "--batch", "2", "--patch", "16", "--checkpoint-every", "3",
            "--eval-every", "3", "--threads", "1", "--quiet", "--no-self-ensemble", "--bench", "builtin:val",
            "--calib-patches", "4", "--tflite-size", "112x112"]


# finalize's LiteRT files against the bundle's network, and the gate's lines: checked on the final run of
# tests/test_finalize.py::test_kill_9_twice_then_resume_gives_bit_identical_weights (one finalize less in CI).


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_finalize_refuses_a_file_that_is_not_the_network(tmp_path, capsys, monkeypatch):
    """A converter that computes something else: the file leaves the bundle for OUT/bundle.rejected, the
    card does not list it and the command exits 1."""
    pytest.importorskip("litert_torch")
    import slwsr_search.deploy.litert as litert
    from slwsr_search.cli.finalize import main

    real = litert.export_copy

    def wrong(model, fmt=None):  # as a converter bug would: other numbers than the network's
        m = real(model, fmt)
        with torch.no_grad():
            next(m.parameters()).mul_(1.5)
        return m

    monkeypatch.setattr(litert, "export_copy", wrong)
    code, out, err = run_command(main, capsys, *FINALIZE, "--out", str(tmp_path / "run"))
    assert code == 1, out + err
    bundle, rejected = tmp_path / "run" / "bundle", tmp_path / "run" / "bundle.rejected"
    assert not (bundle / "model.tflite").exists() and (rejected / "model.tflite").exists()
    assert "FAILED      parity: model.tflite" in out
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "| `model.tflite` |" not in card and "| `model.onnx` |" in card


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_verify_finds_a_bundle_file_that_is_not_the_network(tmp_path, capsys):
    """`slwsr verify` runs the gate over a bundle made elsewhere: a graph of other weights fails,
    exit 1, and --reject moves it beside the bundle."""
    from slwsr_search.cli.verify import main
    from slwsr_search.deploy.bundle import save_bundle

    bundle = tmp_path / "bundle"
    save_bundle(trained(0), bundle)
    export_onnx(trained(1), bundle / "model.onnx")  # another network's graph, as a stale file would be
    code, out, err = run_command(main, capsys, str(bundle), prog="verify")
    assert code == 1 and "model.onnx" in out and "FAILED" in out and (bundle / "model.onnx").exists(), out + err
    # upscale refuses to run that file in the network's name
    from slwsr_search.cli.upscale import main as upscale
    from PIL import Image

    Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(tmp_path / "p.png")
    code, _, err = run_command(upscale, capsys, "--model", str(bundle), "--backend", "onnxruntime", str(tmp_path / "p.png"),
                               "--out", str(tmp_path / "up"), prog="upscale")
    assert code == 2 and "model.onnx: not the network the bundle holds" in err, err
    code, out, _ = run_command(main, capsys, str(bundle), "--reject", prog="verify")
    assert code == 1 and (tmp_path / "bundle.rejected" / "model.onnx").exists() and not (bundle / "model.onnx").exists()
    code, _, err = run_command(main, capsys, str(bundle), prog="verify")
    assert code == 2 and "no model file to check" in err
    export_onnx(load_bundle(bundle), bundle / "model.onnx")
    code, out, _ = run_command(main, capsys, str(bundle), prog="verify")
    assert code == 0 and "ok: every file is the network" in out


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_quantize_refuses_a_graph_that_is_not_the_network(tmp_path, capsys, monkeypatch):
    """`slwsr quantize` runs the gate on what it wrote: an fp16 graph whose numbers are not the
    network's leaves the bundle for BUNDLE.rejected and the command exits 1; the int8 graph stays."""
    import onnx
    from onnx import numpy_helper

    import slwsr_search.deploy.variants as variants
    from slwsr_search.cli.quantize import main
    from slwsr_search.deploy.bundle import save_bundle

    real = variants.convert_fp16

    def wrong(fp32, out):  # as a converter bug would: one weight tensor scaled
        path = real(fp32, out)
        g = onnx.load(str(path))
        init = max(g.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, init.name))
        onnx.save(g, str(path))
        return path

    monkeypatch.setattr(variants, "convert_fp16", wrong)
    bundle = tmp_path / "bundle"
    save_bundle(trained(0), bundle)
    code, out, err = run_command(main, capsys, str(bundle), "--calib-dir", "builtin:train", "--patches", "4",
                                 "--patch", "16", prog="quantize")
    assert code == 1, out + err
    assert "parity against the network on a 320x180 mosaic of 4 calibration patches" in err
    assert (tmp_path / "bundle.rejected" / "model.fp16.onnx").exists() and not (bundle / "model.fp16.onnx").exists()
    assert (bundle / "model.int8.onnx").exists() and "FAILED      parity" in out
