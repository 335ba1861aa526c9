"""`upscale`: pictures of every kind through a bundle, in tiles equal to a whole-picture run, with
either backend; bad input as one-line errors (exit 2) while the other files are still done."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import run_command
from PIL import Image

from slwsr_search.cli.upscale import main
from slwsr_search.deploy.bundle import ONNX, save_bundle
from slwsr_search.model.network import build_model
from slwsr_search.deploy.onnx_export import export_onnx
from slwsr_search.model.presets import get_preset
from slwsr_search.sr.data import load_pairs
from slwsr_search.sr.pictures import upscale_alpha


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.manual_seed(3)
    model = build_model(get_preset("s-lwsr16-half"))
    folder = tmp_path_factory.mktemp("bundle")
    save_bundle(model, folder)
    export_onnx(model, folder / ONNX)
    return folder


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 37 x 45 crop of a real photograph (the built-in validation data), uint8 RGB."""
    return load_pairs("builtin:val", 4, progress=False)[0].lr[:37, :45].copy()


def run(args, capsys) -> tuple[int, str, str]:
    return run_command(lambda a: main(a, "upscale"), capsys, *map(str, args), prog="upscale")


def read(path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(np.int64)


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_tiles_equal_the_whole_picture_and_backends_agree(tmp_path, bundle, photo, capsys):
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    outs = {}
    for name, extra in {"whole": ["--tile", "4096"], "tiled": ["--tile", "8"],
                        "ort": ["--tile", "8", "--backend", "onnxruntime"]}.items():
        code, _, err = run([src, "--model", bundle, "--out", tmp_path / name, "--quiet", *extra], capsys)
        assert code == 0, err
        outs[name] = read(tmp_path / name / "p_x4.png")
    assert outs["whole"].shape == (37 * 4, 45 * 4, 3)
    assert np.abs(outs["tiled"] - outs["whole"]).max() <= 1  # within 1/255
    assert np.abs(outs["ort"] - outs["whole"]).max() <= 1
    # With no margin the tiles' seams show: the default margin is what makes them equal.
    code, _, _ = run([src, "--model", bundle, "--out", tmp_path / "nomargin", "--quiet", "--tile", "8", "--margin", "0"], capsys)
    assert code == 0 and np.abs(read(tmp_path / "nomargin" / "p_x4.png") - outs["whole"]).max() > 1


def test_grey_rgba_and_16_bit_keep_their_kind(tmp_path, bundle, photo, capsys):
    grey = photo.mean(axis=2).astype(np.uint8)
    alpha = np.tile(np.linspace(0, 255, photo.shape[1]).astype(np.uint8), (photo.shape[0], 1))
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    Image.fromarray(np.dstack([photo, alpha]), mode="RGBA").save(tmp_path / "a.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "g16.png")  # 16-bit grey PNG
    Image.fromarray(np.dstack([grey, alpha]), mode="LA").save(tmp_path / "la.png")
    code, _, err = run([tmp_path / n for n in ("g.png", "a.png", "g16.png", "la.png")]
                       + ["--model", bundle, "--out", tmp_path / "o", "--quiet"], capsys)
    assert code == 0, err
    g, a = Image.open(tmp_path / "o" / "g_x4.png"), Image.open(tmp_path / "o" / "a_x4.png")
    g16, la = Image.open(tmp_path / "o" / "g16_x4.png"), Image.open(tmp_path / "o" / "la_x4.png")
    assert (g.mode, a.mode, la.mode) == ("L", "RGBA", "LA") and g16.mode.startswith("I")
    assert g.size == a.size == g16.size == (45 * 4, 37 * 4)
    # 16-bit output carries more than 8 bits and agrees with the 8-bit run to within 1/255.
    v16 = np.asarray(g16).astype(np.int64)
    assert np.any(v16 % 257 != 0)
    assert np.abs(v16 / 257.0 - np.asarray(g).astype(np.float64)).max() <= 1.0
    # Alpha is bicubic-upscaled, not run through the network.
    expected = np.rint(upscale_alpha(alpha / 255.0, 4) * 255)
    assert np.abs(np.asarray(a)[:, :, 3].astype(np.int64) - expected).max() <= 1


def test_bad_files_are_one_line_errors_and_the_rest_are_done(tmp_path, bundle, photo, capsys):
    good = tmp_path / "good.png"
    Image.fromarray(photo).save(good)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    code, out, err = run([text, tmp_path / "missing.jpg", good, "--model", bundle, "--out", tmp_path / "o", "--quiet"], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 2 and "notes.png: not an image" in lines[0] and "missing.jpg: no such file" in lines[1]
    assert (tmp_path / "o" / "good_x4.png").exists()


def test_never_overwrites_an_input(tmp_path, bundle, photo, capsys):
    src = tmp_path / "p_x4.png"
    Image.fromarray(photo).save(src)
    before = src.read_bytes()
    Image.fromarray(photo).save(tmp_path / "p.png")
    code, _, err = run([tmp_path / "p.png", src, "--model", bundle, "--out", tmp_path, "--quiet"], capsys)
    assert code == 2 and "would overwrite an input" in err and src.read_bytes() == before


def test_unwritable_output_folder(tmp_path, bundle, photo, capsys):
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run([src, src, "--model", bundle, "--out", blocker, "--quiet"], capsys)
    assert code == 2 and err.count("cannot write") == 2 and len(err.strip().splitlines()) == 3


@pytest.mark.parametrize("damage, words", [
    ("missing", "spec.json: missing from the bundle"),
    ("unfit", "weights do not fit the spec"),
    ("scale", "--scale 2: the bundle"),
    ("no_onnx", "model.onnx: missing from the bundle"),
])
def test_bad_bundle_or_scale_is_one_line_exit_2(tmp_path, bundle, photo, capsys, damage, words):
    import shutil

    folder = tmp_path / "b"
    shutil.copytree(bundle, folder)
    extra = []
    if damage == "missing":
        (folder / "spec.json").unlink()
    elif damage == "unfit":  # a spec with other widths beside these weights (hash matched, tensors not)
        from safetensors.torch import load_file, save_file
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), "pt") as f:
            meta = f.metadata()
        tensors = load_file(folder / "model.safetensors")
        tensors.pop(next(iter(tensors)))
        save_file(tensors, folder / "model.safetensors", metadata=meta)
    elif damage == "scale":
        extra = ["--scale", "2"]
    else:
        (folder / ONNX).unlink()
        extra = ["--backend", "onnxruntime"]
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    code, _, err = run([src, "--model", folder, "--out", tmp_path / "o", "--quiet", *extra], capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_photo_mosaic_is_made_of_the_photographs(tmp_path):
    from slwsr_search.benchmarks.upscale import photo_mosaic

    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (30 + i, 41, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    Image.fromarray(rng.integers(0, 255, (50, 30, 3), dtype=np.uint8)).save(tmp_path / "portrait.png")
    m = photo_mosaic(tmp_path, (50, 75), tile=(25, 40))
    assert m.shape == (50, 75, 3)
    first = np.asarray(Image.open(tmp_path / "0.png"))
    assert np.array_equal(m[:25, :40], first[2:27, :40])  # centre crop of the first photograph
    with pytest.raises(ValueError, match="need 9 for"):
        photo_mosaic(tmp_path, (75, 120), tile=(25, 40))


@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour_png_stays_16_bit(tmp_path, bundle, photo, capsys, channels):
    from slwsr_search.sr.png16 import read_png16, write_png16

    img16 = photo.astype(np.uint16) * 257 + 99  # low bytes that 8 bits would lose
    if channels == 4:
        img16 = np.dstack([img16, np.full(photo.shape[:2], 40000, dtype=np.uint16)])
    write_png16(tmp_path / "c16.png", img16)
    Image.fromarray(photo).save(tmp_path / "c8.png")
    code, _, err = run([tmp_path / "c16.png", tmp_path / "c8.png", "--model", bundle, "--out", tmp_path / "o", "--quiet"], capsys)
    assert code == 0, err
    out16, out8 = read_png16(tmp_path / "o" / "c16_x4.png"), read(tmp_path / "o" / "c8_x4.png")
    assert out16.shape == (37 * 4, 45 * 4, channels)
    assert np.any(out16[:, :, :3] % 257 != 0)  # more than 8 bits came out
    assert np.abs(out16[:, :, :3] / 257.0 - out8).max() <= 1.5  # the same picture, to within 8-bit rounding
    if channels == 4:
        assert np.abs(out16[:, :, 3].astype(np.int64) - 40000).max() <= 1  # flat alpha stays flat
