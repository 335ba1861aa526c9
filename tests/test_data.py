"""Data loading: formats, layouts, bad input, the built-in set, the patch sampler."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from slwsr_search.sr.data import (BUILTIN_TRAIN, BUILTIN_VAL, ImagePair, PatchSampler, discover, load_image,
                               load_pairs, modcrop)
from slwsr_search.sr.resize import imresize

rng = np.random.default_rng(0)


def _rgb(h, w):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _png16(path, arr):
    """Write a 16-bit PNG (grey (H, W) or RGB (H, W, 3)) by hand: Pillow can't write 16-bit RGB."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)  # noqa: E731
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2 if arr.ndim == 3 else 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_every_format_becomes_8bit_rgb(tmp_path):
    rgb = _rgb(9, 7)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).save(tmp_path / "b.bmp")
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=95)
    Image.fromarray(rgb[..., 0]).save(tmp_path / "d.png")  # grey
    Image.fromarray(np.dstack([rgb, np.full((9, 7), 7, np.uint8)])).save(tmp_path / "e.png")  # RGBA
    Image.fromarray(rgb).convert("P").save(tmp_path / "f.png")  # palette
    g16 = (np.arange(63).reshape(9, 7) * 1000).astype(np.uint16)
    _png16(tmp_path / "g.png", g16)
    _png16(tmp_path / "h.png", np.dstack([g16, g16 // 2, g16 // 3]))
    for name in "abcdefgh":
        path = next(tmp_path.glob(f"{name}.*"))
        img = load_image(path)
        assert img.shape == (9, 7, 3) and img.dtype == np.uint8, path.name
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), rgb)
    np.testing.assert_array_equal(load_image(tmp_path / "b.bmp"), rgb)
    np.testing.assert_array_equal(load_image(tmp_path / "d.png")[..., 2], rgb[..., 0])
    np.testing.assert_array_equal(load_image(tmp_path / "e.png"), rgb)
    np.testing.assert_array_equal(load_image(tmp_path / "g.png")[..., 1], np.floor(g16 / 257 + 0.5).astype(np.uint8))
    assert np.abs(load_image(tmp_path / "h.png")[..., 0].astype(int) - g16 / 257).max() <= 1


def test_corrupt_and_missing_images_name_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match=r"broken.png: cannot read image"):
        load_image(bad)
    with pytest.raises(ValueError, match=r"nope.png: image not found"):
        load_image(tmp_path / "nope.png")
    good = tmp_path / "set"
    good.mkdir()
    Image.fromarray(_rgb(64, 64)).save(good / "ok.png")
    bad.rename(good / "broken.png")
    with pytest.raises(ValueError, match=r"set/broken.png: cannot read image"):
        load_pairs(good, 4, progress=False)


def test_modcrop():
    assert modcrop(_rgb(13, 10), 4).shape == (12, 8, 3)
    assert modcrop(_rgb(12, 9), 3).shape == (12, 9, 3)


def _benchmark(root, names=("x", "y"), size=(40, 36), lr=True, scale=4):
    (root / "HR").mkdir(parents=True)
    if lr:
        (root / "LR_bicubic" / f"X{scale}").mkdir(parents=True)
    for n in names:
        hr = _rgb(*size)
        Image.fromarray(hr).save(root / "HR" / f"{n}.png")
        if lr:
            Image.fromarray(imresize(modcrop(hr, scale), 1 / scale)).save(root / "LR_bicubic" / f"X{scale}" / f"{n}.png")
    return root


def test_benchmark_layout(tmp_path):
    root = _benchmark(tmp_path / "Set2", size=(42, 37))
    layout, items = discover(root, 4)
    assert layout == "benchmark" and [i[0] for i in items] == ["x", "y"] and items[0][2].name == "x.png"
    pairs = load_pairs(root, 4, progress=False)
    assert pairs[0].hr.shape == (40, 36, 3) and pairs[0].lr.shape == (10, 9, 3) and pairs[0].lr_source == "file"
    made = load_pairs(root, 4, use_lr_files=False, progress=False)
    assert made[0].lr_source == "imresize"
    np.testing.assert_array_equal(made[0].lr, pairs[0].lr)  # the files were made by imresize
    # no LR folder for x3: made here
    assert load_pairs(root, 3, progress=False)[0].lr.shape == (14, 12, 3)


def test_div2k_layout(tmp_path):
    hr_dir, lr_dir = tmp_path / "DIV2K_train_HR", tmp_path / "DIV2K_train_LR_bicubic" / "X4"
    hr_dir.mkdir()
    lr_dir.mkdir(parents=True)
    for stem in ("0001", "0002"):
        hr = _rgb(48, 44)
        Image.fromarray(hr).save(hr_dir / f"{stem}.png")
        Image.fromarray(imresize(hr, 1 / 4)).save(lr_dir / f"{stem}x4.png")
    for root in (tmp_path, hr_dir):
        layout, items = discover(root, 4)
        assert layout == "div2k" and items[1][2] == lr_dir / "0002x4.png"
    assert load_pairs(tmp_path, 4, progress=False)[0].lr.shape == (12, 11, 3)
    # x2 has no LR folder: LR made here
    assert discover(tmp_path, 2)[1][0][2] is None


def test_plain_folder(tmp_path):
    for i in range(3):
        Image.fromarray(_rgb(20 + i, 30)).save(tmp_path / f"img{i}.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    layout, items = discover(tmp_path, 2)
    assert layout == "folder" and len(items) == 3
    assert [p.hr.shape for p in load_pairs(tmp_path, 2, progress=False)] == [(20, 30, 3), (20, 30, 3), (22, 30, 3)]


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(ValueError, match=r"nowhere: data folder not found"):
        load_pairs(tmp_path / "nowhere", 4)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: no images"):
        load_pairs(tmp_path / "empty", 4)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"file.png: not a folder"):
        load_pairs(tmp_path / "file.png", 4)


def test_hr_lr_size_mismatch_names_both_files(tmp_path):
    root = _benchmark(tmp_path / "S")
    Image.fromarray(_rgb(9, 9)).save(root / "LR_bicubic" / "X4" / "y.png")
    with pytest.raises(ValueError, match=r"LR_bicubic/X4/y.png: LR size 9x9 does not match HR .*HR/y.png"):
        load_pairs(root, 4, progress=False)
    (root / "LR_bicubic" / "X4" / "x.png").unlink()
    with pytest.raises(ValueError, match=r"X4/x.png: LR image missing for HR image 'x'"):
        load_pairs(root, 4, progress=False)


def test_small_images_are_skipped_with_a_warning(tmp_path):
    Image.fromarray(_rgb(200, 200)).save(tmp_path / "big.png")
    Image.fromarray(_rgb(100, 300)).save(tmp_path / "small.png")
    with pytest.warns(UserWarning, match=r"skipped 1 of 2 image.*small.png \(LR 75x25\)"):
        pairs = load_pairs(tmp_path, 4, min_lr_size=48, progress=False)
    assert [p.name for p in pairs] == ["big"]
    (tmp_path / "big.png").unlink()
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no image is large enough"):
        load_pairs(tmp_path, 4, min_lr_size=48, progress=False)


def test_builtin_sets():
    val = load_pairs("builtin:val", 4, progress=False)
    assert [p.name for p in val] == [n.split(".")[0] for n in BUILTIN_VAL]
    assert all(p.lr_source == "imresize" and p.hr.shape[0] == 4 * p.lr.shape[0] for p in val)
    train = load_pairs("builtin:train", 4, min_lr_size=48, progress=False)
    assert len(train) == len(BUILTIN_TRAIN)
    assert not {p.name for p in train} & {p.name for p in val}


def _blocky_pairs(n=3, s=4, seed=0):
    """HR made of s x s constant blocks, so LR = HR[::s, ::s] exactly, under any flip or transpose."""
    g = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        lr = g.integers(0, 256, size=(50 + 7 * i, 60 + 3 * i, 3), dtype=np.uint8)
        pairs.append(ImagePair(f"im{i}", np.kron(lr, np.ones((s, s, 1), np.uint8)), lr, "file"))
    return pairs


def test_sampler_patches_are_aligned_after_augmentation():
    sampler = PatchSampler(_blocky_pairs(), scale=4, lr_patch=12, batch_size=32, seed=1)
    for _ in range(5):
        lr, hr = sampler.sample()
        assert lr.shape == (32, 3, 12, 12) and hr.shape == (32, 3, 48, 48)
        assert lr.dtype == torch.float32 and lr.max() <= 255
        torch.testing.assert_close(hr[:, :, ::4, ::4], lr)  # the LR patch is the LR of the HR patch
        torch.testing.assert_close(hr[:, :, 3::4, 3::4], lr)


def test_sampler_applies_all_eight_transforms():
    # One image exactly one patch large: every sample is the same crop, only the transform varies.
    pair = _blocky_pairs(1)[0]
    lr = pair.lr[:12, :12]
    sampler = PatchSampler([ImagePair("p", pair.hr[:48, :48], lr, "file")], scale=4, lr_patch=12, batch_size=64, seed=0)
    got = {tuple(x.flatten().tolist()) for x in sampler.sample()[0]}
    assert len(got) == 8
    plain = PatchSampler([ImagePair("p", pair.hr[:48, :48], lr, "file")], 4, 12, 8, augment=False)
    assert len({tuple(x.flatten().tolist()) for x in plain.sample()[0]}) == 1


def test_sampler_is_deterministic_per_seed():
    a = PatchSampler(_blocky_pairs(), 4, 12, 8, seed=3)
    b = PatchSampler(_blocky_pairs(), 4, 12, 8, seed=3)
    c = PatchSampler(_blocky_pairs(), 4, 12, 8, seed=4)
    for _ in range(3):
        (la, ha), (lb, hb), (lc, _) = a.sample(), b.sample(), c.sample()
        assert torch.equal(la, lb) and torch.equal(ha, hb) and not torch.equal(la, lc)


def test_sampler_rejects_images_smaller_than_a_patch():
    with pytest.raises(ValueError, match="im0: LR 60x50 is smaller than one patch"):
        PatchSampler(_blocky_pairs(1), 4, lr_patch=55)
