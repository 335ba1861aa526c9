"""The literature's table: PSNR/SSIM per benchmark set for trained models, with and without the
x8 self-ensemble, beside bicubic and the paper's published rows, each row saying where it comes from.

:func:`literature_table` computes it (rows of numbers, one column per set); :func:`table_markdown`
and :func:`table_csv` render it without deciding anything.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..model.published import published_row
from .data import ImagePair, load_pairs
from .evaluate import bicubic_upscaler, evaluate_pairs, model_upscaler

#: Where a row's figures come from (:attr:`TableRow.source`).
MEASURED, PUBLISHED = "measured", "published"
#: The paper's rows set beside ours by default (Table II of arXiv 1909.10774, as printed).
DEFAULT_PUBLISHED: tuple[str, ...] = ("Bicubic", "s-LWSR16", "s-LWSR16+")


@dataclass(frozen=True)
class Bench:
    """One benchmark set: its name (the folder's, e.g. ``Set5``), where it was read, its pairs and
    where their LR images came from (``lr_source``: files on disk or made by our imresize)."""

    name: str
    path: str
    pairs: tuple[ImagePair, ...]

    @property
    def lr_source(self) -> str:
        return ", ".join(sorted({p.lr_source for p in self.pairs}))


def load_bench(path: str | Path, scale: int) -> Bench:
    """A benchmark folder (any layout :func:`.data.load_pairs` reads; MATLAB-made LR used where
    present), named after the folder."""
    p = Path(path)
    name = p.name if p.name not in ("HR", "") else p.parent.name
    return Bench(name, str(path), tuple(load_pairs(str(path), scale, progress=False)))


@dataclass
class TableRow:
    """One row: ``label``; ``source`` (:data:`MEASURED` or :data:`PUBLISHED`) and ``note`` saying
    which (our weights and protocol, or the paper's table); ``params``; ``scores[set] = (PSNR dB,
    SSIM)`` or absent when not known for that set."""

    label: str
    source: str
    note: str
    params: int | None
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class LiteratureTable:
    """Rows in display order over ``sets`` (column order); ``scale``; ``lr_sources[set]``."""

    scale: int
    sets: list[str]
    rows: list[TableRow]
    lr_sources: dict[str, str]


def literature_table(models: Sequence[tuple[str, object, int | None]], benches: Sequence[Bench], scale: int,
                     self_ensemble: bool = True, published: Sequence[str] = DEFAULT_PUBLISHED, device: str = "cpu",
                     note: str = "this package's weights", more: Sequence[TableRow] = ()) -> LiteratureTable:
    """Score each ``(label, model, params)`` on each bench (Y channel, ``scale`` px crop, 8-bit
    output: :func:`.evaluate.evaluate_pairs`), plain and, with ``self_ensemble``, as the mean over
    the 8 flips/rotations (label + ``+``); then ``more``, rows scored elsewhere (a model's int8 and
    fp16 graphs: :func:`..deploy.variants.variant_rows`); our bicubic first; the paper's ``published``
    rows last (their scores only on the sets the paper has, and only at x4; a row with none of these
    sets is left out)."""
    sets = [b.name for b in benches]
    rows = [TableRow("Bicubic", MEASURED, "MATLAB-compatible imresize, this package", None,
                     {b.name: _score(b, bicubic_upscaler(scale), scale) for b in benches})]
    for label, model, params in models:
        rows.append(TableRow(label, MEASURED, note, params,
                             {b.name: _score(b, model_upscaler(model, device), scale) for b in benches}))
        if self_ensemble:
            rows.append(TableRow(label + "+", MEASURED, note + ", x8 self-ensemble", params,
                                 {b.name: _score(b, model_upscaler(model, device, self_ensemble=True), scale) for b in benches}))
    rows += list(more)
    if scale == 4:
        for name in published:
            r = published_row(name)
            if not any(s in r.scores for s in sets):
                continue  # none of these sets is in the paper's table
            rows.append(TableRow(name, PUBLISHED, "Li et al. 2019 (arXiv 1909.10774), Table II, DIV2K ~1M steps",
                                 None if r.params_k is None else r.params_k * 1000,
                                 {s: r.scores[s] for s in sets if s in r.scores}))
    return LiteratureTable(scale, sets, rows, {b.name: b.lr_source for b in benches})


def _score(bench: Bench, upscale, scale: int) -> tuple[float, float]:
    r = evaluate_pairs(bench.pairs, upscale, scale)
    return r.psnr, r.ssim


def table_markdown(table: LiteratureTable) -> str:
    """The table as Markdown: one column per set (PSNR / SSIM), then the source of each row."""
    head = "| model | params | " + " | ".join(f"{s} PSNR / SSIM" for s in table.sets) + " | source |"
    lines = [head, "|" + "---|" * (len(table.sets) + 3)]
    for r in table.rows:
        cells = [f"{r.scores[s][0]:.2f} / {r.scores[s][1]:.4f}" if s in r.scores else "-" for s in table.sets]
        params = "-" if r.params is None else f"{r.params:,}"
        lines.append(f"| {r.label} | {params} | " + " | ".join(cells) + f" | {r.source}: {r.note} |")
    lines.append("")
    lines.append(f"x{table.scale}; PSNR (dB) and SSIM on the Y channel, {table.scale} px cropped at each border, "
                 f"output rounded to 8 bits; LR images: " + "; ".join(f"{s} {v}" for s, v in table.lr_sources.items())
                 + ". `+`: x8 self-ensemble. Published rows were trained by the paper's authors on DIV2K and are "
                 "not comparable to a short training; they mark where a full training would land.")
    return "\n".join(lines) + "\n"


#: The CSV's columns: one row per (model, set).
CSV_COLUMNS: tuple[str, ...] = ("model", "source", "note", "params", "set", "psnr", "ssim")


def table_csv(table: LiteratureTable) -> str:
    """The table as CSV, one line per (row, set) with a score."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in table.rows:
        for s in table.sets:
            if s in r.scores:
                w.writerow([r.label, r.source, r.note, "" if r.params is None else r.params, s,
                            f"{r.scores[s][0]:.4f}", f"{r.scores[s][1]:.5f}"])
    return buf.getvalue()
