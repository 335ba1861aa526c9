"""The literature's table: measured rows (plain and self-ensemble) beside our bicubic and the paper's
rows on the paper's sets only, each row labelled with its source; Markdown and CSV render it as computed."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch

from slwsr_search.model.network import build_model
from slwsr_search.model.presets import get_preset
from slwsr_search.model.published import published_row
from slwsr_search.sr.data import load_pairs
from slwsr_search.sr.evaluate import bicubic_upscaler, evaluate_pairs
from slwsr_search.sr.table import MEASURED, PUBLISHED, Bench, literature_table, table_csv, table_markdown


@pytest.fixture(scope="module")
def benches():
    pairs = load_pairs("builtin:val", 4, progress=False)
    small = tuple(p.__class__(p.name, p.hr[:64, :64], p.lr[:16, :16], p.lr_source) for p in pairs)
    # One set named as the paper's (its published rows apply) and one that is not.
    return [Bench("Set5", "builtin:val", small[:2]), Bench("mine", "builtin:val", small[2:])]


@pytest.fixture(scope="module")
def table(benches):
    torch.manual_seed(0)
    model = build_model(get_preset("s-lwsr16-half"))
    return literature_table([("net", model, 143_731)], benches, 4)


def test_rows_sources_and_published_figures(table, benches):
    labels = [r.label for r in table.rows]
    assert labels == ["Bicubic", "net", "net+", "Bicubic", "s-LWSR16", "s-LWSR16+"]
    assert [r.source for r in table.rows] == [MEASURED] * 3 + [PUBLISHED] * 3
    assert table.sets == ["Set5", "mine"]
    for r in table.rows[3:]:  # the paper's figures, on its sets only
        assert r.scores == {"Set5": published_row(r.label).scores["Set5"]}
    bic = evaluate_pairs(benches[1].pairs, bicubic_upscaler(4), 4)
    assert table.rows[0].scores["mine"] == pytest.approx((bic.psnr, bic.ssim))
    # the self-ensemble row is a different measurement of the same weights
    assert table.rows[2].scores["Set5"] != table.rows[1].scores["Set5"]


def test_published_rows_left_out_without_a_paper_set(benches):
    t = literature_table([("net", build_model(get_preset("s-lwsr16-half")), None)], benches[1:], 4, self_ensemble=False)
    assert [r.label for r in t.rows] == ["Bicubic", "net"]


def test_markdown_and_csv_render_every_score(table):
    md = table_markdown(table)
    assert md.count("\n| ") == len(table.rows)  # a line per row after the header
    assert "| s-LWSR16 | 144,000 | 31.62 / 0.8860 | - | published:" in md
    rows = list(csv.DictReader(io.StringIO(table_csv(table))))
    assert len(rows) == 3 * 2 + 3  # measured rows on both sets, published on Set5 only
    net = [r for r in rows if r["model"] == "net+" and r["set"] == "mine"][0]
    assert float(net["psnr"]) == pytest.approx(table.rows[2].scores["mine"][0], abs=1e-4)
    assert np.isfinite(float(net["ssim"]))
