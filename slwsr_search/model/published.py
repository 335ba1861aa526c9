"""The paper's Table II (Li et al., s-LWSR, arXiv 1909.10774), x4, as printed: the one home of
every published figure in this package.

Fully trained results (DIV2K, about 1M iterations), not ours: reports show them only labelled as
published. ``params_k``: parameters in thousands; ``gmacs``: the paper's Multi-Adds in G, which
count every conv at LR resolution (about 18% below the real count at 1280x720 output for s-LWSR;
``docs/cost-and-evaluation.md``). Scores: PSNR (dB) / SSIM on the Y channel.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Benchmark sets of the table, in its column order.
SETS: tuple[str, ...] = ("Set5", "Set14", "B100", "Urban100")


@dataclass(frozen=True)
class PublishedRow:
    """One row of Table II: ``scores[set] = (PSNR dB, SSIM)``."""

    model: str
    params_k: int | None
    gmacs: float | None
    scores: dict[str, tuple[float, float]]


def _row(model: str, params_k: int | None, gmacs: float | None, *figures: float) -> PublishedRow:
    return PublishedRow(model, params_k, gmacs, {s: (figures[2 * i], figures[2 * i + 1]) for i, s in enumerate(SETS)})


#: Table II, row by row, as printed.
TABLE_II: tuple[PublishedRow, ...] = (
    _row("Bicubic", None, None, 28.42, 0.810, 26.10, 0.704, 25.96, 0.669, 23.15, 0.659),
    _row("FSRCNN", 12, 4.6, 30.71, 0.866, 27.59, 0.753, 26.98, 0.715, 24.62, 0.728),
    _row("SRCNN", 57, 52.7, 30.48, 0.863, 27.49, 0.750, 26.90, 0.710, 24.52, 0.722),
    _row("s-LWSR16", 144, 8.3, 31.62, 0.886, 27.92, 0.770, 27.35, 0.729, 25.36, 0.762),
    _row("s-LWSR16+", 144, 8.3, 31.78, 0.889, 28.00, 0.772, 27.40, 0.730, 25.45, 0.765),
    _row("CARN-M", 412, 18.3, 31.92, 0.890, 28.42, 0.776, 27.44, 0.730, 25.63, 0.769),
    _row("s-LWSR32", 571, 32.9, 32.04, 0.893, 28.15, 0.776, 27.52, 0.734, 25.87, 0.779),
    _row("s-LWSR32+", 571, 32.9, 32.15, 0.894, 28.24, 0.778, 27.58, 0.736, 26.00, 0.782),
    _row("IDN", 600, 34.5, 31.82, 0.890, 28.25, 0.773, 27.41, 0.730, 25.41, 0.763),
    _row("VDSR", 665, 612.6, 31.35, 0.884, 28.01, 0.767, 27.29, 0.725, 25.18, 0.752),
    _row("MemNet", 677, 623.9, 31.74, 0.889, 28.26, 0.772, 27.40, 0.728, 25.50, 0.763),
    _row("LapSRN", 813, 149.4, 31.54, 0.885, 28.19, 0.772, 27.32, 0.728, 25.21, 0.756),
    _row("CARN", 1592, 65.4, 32.13, 0.894, 28.60, 0.781, 27.58, 0.735, 26.07, 0.784),
    _row("DRCN", 1774, 9788.7, 31.53, 0.885, 28.02, 0.767, 27.23, 0.723, 25.14, 0.751),
    _row("s-LWSR64", 2277, 131.1, 32.28, 0.896, 28.34, 0.780, 27.61, 0.738, 26.19, 0.791),
    _row("s-LWSR64+", 2277, 131.1, 32.42, 0.898, 28.42, 0.782, 27.69, 0.739, 26.39, 0.795),
    _row("D-DBPN", 10426, 590.2, 32.47, 0.898, 28.82, 0.786, 27.72, 0.740, 26.38, 0.795),
    _row("EDSR", 43090, 2482.0, 32.46, 0.897, 28.80, 0.788, 27.71, 0.742, 26.64, 0.803),
)


def published_row(model: str) -> PublishedRow:
    """The row of Table II for ``model`` (e.g. ``"s-LWSR16"``, ``"Bicubic"``); ``ValueError`` otherwise."""
    for row in TABLE_II:
        if row.model == model:
            return row
    raise ValueError(f"model: {model!r} is not in the paper's Table II; known: {', '.join(r.model for r in TABLE_II)}")


#: The bicubic x4 anchor of the literature, per set: ``(PSNR dB, SSIM)``.
BICUBIC_X4: dict[str, tuple[float, float]] = dict(published_row("Bicubic").scores)
