"""LiteRT int8 of one trained design with each way of taking activation ranges, scored on Set5 as
``slwsr quantize --litert --bench`` scores a fixed-size file (320x180 LR windows, the receptive
radius as context). Not part of the package; run from the repository root:

    python docs/results/2026-12-07-litert-ranges-probe.py RUN_FOLDER SET5_FOLDER OUT.csv

RUN_FOLDER was docs/results/2026-12-01-long-reference/audit-runs/t3-d1-78ddf8d1de56-s0-d14367c6
(docs/results/2026-12-07-litert-ranges-xeon.md), whose training state is no longer in the
repository (issue 34); restore it from git history first (from the repository root):

    git show 7946828:docs/results/2026-12-01-long-reference/audit-runs/t3-d1-78ddf8d1de56-s0-d14367c6/state.pt > docs/results/2026-12-01-long-reference/audit-runs/t3-d1-78ddf8d1de56-s0-d14367c6/state.pt

Ranges: ai-edge-quantizer's own calibration (a moving average of each input's min and max, what
the int8 file used before 2026-12-03), the whole observed range (``minmax``), and the 99.99th and
99.999th percentiles (the default, ``int8_settings.PERCENTILE``)."""

import csv
import sys
import tempfile
from pathlib import Path

from slwsr_search.deploy.bundle import trained_network
from slwsr_search.deploy import int8_settings, litert
from slwsr_search.deploy.int8_settings import Int8Settings
from slwsr_search.deploy.quantize import patches_from
from slwsr_search.deploy.runners import runner_for, window_upscaler
from slwsr_search.sr.data import load_pairs
from slwsr_search.sr.evaluate import evaluate_pairs
from slwsr_search.sr.tiles import receptive_radius

LR = (180, 320)  # (h, w): the bundle's default LiteRT size at x4
INPUTS = 16      # calibration mosaics, as finalize and quantize make them


def moving_average(fp32: Path, out: Path, inputs) -> Path:
    aq = litert.litert_or_error("ai_edge_quantizer")
    qt = aq.quantizer.Quantizer(str(fp32))
    qt.load_quantization_recipe(aq.recipe.static_wi8_ai8())
    result = qt.calibrate({litert.SIGNATURE: [{litert.ARG: x} for x in inputs]})
    qt.quantize(result).export_model(str(out), overwrite=True)
    return out


def main(run: str, set5: str, out_csv: str) -> None:
    model, train, _ = trained_network(Path(run))
    scale = model.spec.scale
    patches = patches_from(train, scale, Int8Settings())
    inputs = litert.mosaic_inputs(patches, LR, INPUTS)
    margin = receptive_radius(model, scale)
    pairs = load_pairs(set5, scale, progress=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = litert.export_tflite(model, Path(tmp) / "model.tflite", LR)
        files = {"fp32": fp32, "moving average (ai-edge-quantizer's calibration)": moving_average(fp32, Path(tmp) / "ma.tflite", inputs),
                 "whole range (minmax)": litert.quantize_tflite(fp32, Path(tmp) / "minmax.tflite", inputs, "minmax")}
        for pct in (99.99, 99.999):
            int8_settings.PERCENTILE = pct  # activation_ranges reads it at each call
            files[f"percentile {pct}"] = litert.quantize_tflite(fp32, Path(tmp) / f"p{pct}.tflite", inputs, "percentile")
        for label, path in files.items():
            run_, window = runner_for(path, 1)  # LiteRT with XNNPACK, 1 thread, padded to the file's size
            r = evaluate_pairs(pairs, window_upscaler(run_, window, scale, margin), scale)
            rows.append({"model": run, "file": "litert " + ("fp32" if label == "fp32" else "int8"), "ranges": label,
                         "set": "Set5", "psnr": f"{r.psnr:.4f}", "ssim": f"{r.ssim:.5f}"})
            print(rows[-1], flush=True)
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main(*sys.argv[1:])
