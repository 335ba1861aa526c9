"""imresize against kernel weights computed by hand (no ../shared needed)."""

from __future__ import annotations

import numpy as np
import pytest

from slwsr_search.sr.resize import cubic, imresize


def test_cubic_kernel_values():
    # Keys' kernel, a = -0.5, at hand-computed points.
    x = np.array([0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5])
    expected = [1, 0.8671875, 0.5625, 0.2265625, 0, -0.0703125, -0.0625, -0.0234375, 0, 0]
    np.testing.assert_allclose(cubic(x), expected)
    np.testing.assert_allclose(cubic(-x), expected)


def test_upscale_x2_weights_by_hand():
    # Output pixel x (1-based) samples input position u = x/2 + 1/4; taps clamp to the edge.
    a = np.array([[10.0, 20, 40, 80, 160, 0]])
    out = imresize(a, 2)[0]
    assert out.shape == (12,)
    a1, a2, a3, a4 = a[0, :4]
    np.testing.assert_allclose(out[1], 0.796875 * a1 + 0.2265625 * a2 - 0.0234375 * a3)  # u = 1.25
    np.testing.assert_allclose(out[2], 0.203125 * a1 + 0.8671875 * a2 - 0.0703125 * a3)  # u = 1.75
    np.testing.assert_allclose(out[4], -0.0234375 * a1 + 0.2265625 * a2 + 0.8671875 * a3 - 0.0703125 * a4)  # u = 2.75


def _antialiased_by_loop(row: np.ndarray, s: int) -> np.ndarray:
    """x(1/s) downscale written as plain loops from the definition: kernel widened by s, taps
    clamped to the edges, weights normalised."""
    n = len(row)
    out = []
    for x in range(1, n // s + 1):
        u = x * s - (s - 1) / 2  # = x / (1/s) + 0.5 * (1 - s)
        num = den = 0.0
        for j in range(int(np.floor(u - 2 * s)), int(np.floor(u + 2 * s)) + 2):
            w = cubic(np.array((u - j) / s))[()] / s
            num += w * row[min(max(j, 1), n) - 1]
            den += w
        out.append(num / den)
    return np.array(out)


@pytest.mark.parametrize("s", [2, 3, 4])
def test_antialiased_downscale_matches_definition(s):
    rng = np.random.default_rng(s)
    row = rng.uniform(0, 255, size=8 * s)
    np.testing.assert_allclose(imresize(row[None, :], 1 / s)[0], _antialiased_by_loop(row, s), atol=1e-9)
    np.testing.assert_allclose(imresize(row[:, None], 1 / s)[:, 0], _antialiased_by_loop(row, s), atol=1e-9)


def test_uint8_rounds_after_each_dimension():
    # MATLAB keeps uint8 between its two passes: rows first, round, then columns, round.
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(16, 12, 3), dtype=np.uint8)
    out = imresize(img, 1 / 4)
    assert out.dtype == np.uint8 and out.shape == (4, 3, 3)

    def r8(a):
        return np.clip(np.floor(a + 0.5), 0, 255)

    rows = r8(np.stack([_antialiased_by_loop(img[:, c, k].astype(float), 4) for c in range(12) for k in range(3)], -1))
    rows = rows.reshape(4, 12, 3)
    both = r8(np.stack([_antialiased_by_loop(rows[r, :, k], 4) for r in range(4) for k in range(3)], -1))
    np.testing.assert_array_equal(out, both.reshape(3, 4, 3).transpose(1, 0, 2).astype(np.uint8))


def test_constant_image_stays_constant_and_sizes():
    img = np.full((20, 28, 3), 77, np.uint8)
    for s in (1 / 4, 1 / 3, 1 / 2, 2, 3, 4):
        out = imresize(img, s)
        assert out.shape[:2] == (int(np.ceil(20 * s - 1e-9)), int(np.ceil(28 * s - 1e-9)))
        assert (out == 77).all()
    assert imresize(np.full((9, 9), 5.0), 1 / 3).shape == (3, 3)


def test_bad_input():
    with pytest.raises(ValueError, match="scale"):
        imresize(np.zeros((4, 4), np.uint8), 0)
    with pytest.raises(ValueError, match="img: expected"):
        imresize(np.zeros((4,), np.uint8), 2)
    with pytest.raises(ValueError, match="uint8 or float"):
        imresize(np.zeros((4, 4), np.int32), 2)
