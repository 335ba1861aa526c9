"""PSNR / SSIM conventions and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slwsr_search.sr.metrics import psnr, quantize, rgb_to_y, ssim

rng = np.random.default_rng(0)
HR = rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8)


def test_identical_images():
    assert psnr(HR, HR) == math.inf and psnr(HR, HR, crop=4) == math.inf
    assert ssim(HR, HR) == 1.0


def test_y_is_bt601_studio_range():
    assert rgb_to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16)
    assert rgb_to_y(np.full((1, 1, 3), 255.0))[0, 0] == pytest.approx(235)
    assert rgb_to_y(np.array([[[255, 0, 0]]]))[0, 0] == pytest.approx(16 + 65.481)


def test_psnr_of_a_known_error():
    grey = np.full((16, 16), 100, np.uint8)
    off = grey + 3  # a grey difference of 3 is a Y difference of 3 * 219 / 255
    assert psnr(off, grey) == pytest.approx(10 * math.log10(255 ** 2 / (3 * 219 / 255) ** 2))


def test_grey_equals_rgb_with_equal_channels():
    a = rng.integers(0, 256, size=(24, 24), dtype=np.uint8)
    b = rng.integers(0, 256, size=(24, 24), dtype=np.uint8)
    rgb = lambda g: np.repeat(g[:, :, None], 3, axis=2)  # noqa: E731
    assert psnr(a, b) == pytest.approx(psnr(rgb(a), rgb(b)))
    assert ssim(a, b) == pytest.approx(ssim(rgb(a), rgb(b)))


def test_crop_removes_the_border():
    sr = HR.copy()
    sr[:3] = 0
    sr[:, -2:] = 255
    assert psnr(sr, HR, crop=2) < 60
    assert psnr(sr, HR, crop=3) == math.inf


def test_float_sr_is_rounded_to_8_bits_first():
    f = HR.astype(np.float64)
    assert psnr(f + 0.49, HR) == math.inf
    assert psnr(f - 0.5 + 1e-9, HR) == math.inf
    assert psnr(np.minimum(f + 0.5, 255), HR) < math.inf  # half rounds up
    assert psnr(f + 300, np.full_like(HR, 255)) == math.inf  # clipped to 255
    np.testing.assert_array_equal(quantize(np.array([0.5, 1.49, -3, 254.5, 400])), [1, 1, 0, 255, 255])


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"shape mismatch: SR \(32, 40, 3\) vs HR \(32, 41, 3\)"):
        psnr(HR, np.zeros((32, 41, 3), np.uint8))
    with pytest.raises(ValueError, match="shape mismatch"):
        ssim(HR, HR[..., 0])


def test_bad_crop_and_tiny_images():
    with pytest.raises(ValueError, match="crop: 16 pixels"):
        psnr(HR, HR, crop=16)
    with pytest.raises(ValueError, match="crop: expected an integer"):
        psnr(HR, HR, crop=-1)
    with pytest.raises(ValueError, match="SSIM needs at least 11x11"):
        ssim(HR[:14, :14], HR[:14, :14], crop=2)
    with pytest.raises(ValueError, match="expected \\(H, W, 3\\) RGB"):
        psnr(np.zeros((8, 8, 4)), np.zeros((8, 8, 4)))


def test_ssim_matches_scikit_image_with_matlab_settings():
    from skimage.metrics import structural_similarity

    noisy = np.clip(HR.astype(int) + rng.integers(-25, 25, HR.shape), 0, 255).astype(np.uint8)
    ref = structural_similarity(rgb_to_y(HR), rgb_to_y(noisy), gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=255)
    assert ssim(noisy, HR) == pytest.approx(ref, abs=1e-12)
    assert 0 < ssim(noisy, HR) < 1


def test_ssim_is_symmetric_and_drops_with_noise():
    a = np.clip(HR.astype(int) + rng.integers(-5, 5, HR.shape), 0, 255).astype(np.uint8)
    b = np.clip(HR.astype(int) + rng.integers(-50, 50, HR.shape), 0, 255).astype(np.uint8)
    assert ssim(a, HR) == pytest.approx(ssim(HR, a))
    assert ssim(b, HR) < ssim(a, HR) < 1
    assert psnr(b, HR) < psnr(a, HR)
