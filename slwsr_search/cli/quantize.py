"""``slwsr quantize`` / ``python -m slwsr_search.quantize``: int8 and fp16 ONNX graphs of a trained
network, scored beside fp32 on the bench sets. The work is
:func:`slwsr_search.jobs.quantize.quantize_model`'s; this module parses and prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from ..deploy.int8_settings import METHODS, Int8Settings
from ..machine import cpu_summary
from ..sr.table import load_bench
from ..training.device import Speedups, configure_device
from ..jobs.quantize import QuantizeOptions, out_folders, quantize_model, rows_csv
from .common import Parser, add_calibration_args, add_litert_args

SUMMARY = "int8 (post-training, calibrated) and fp16 ONNX graphs of a trained network, scored beside fp32"

DESCRIPTION = f"""\
Write model.int8.onnx and model.fp16.onnx for each MODEL: a bundle folder (finalize's OUT/bundle) or
a finalize run folder (its state.pt). int8 is onnxruntime's post-training static quantization in the
QDQ format (weights int8 per output channel, activations uint8 per tensor), its activation ranges
calibrated on --patches LR patches of --patch px drawn from the --calib-dir images (default: the
training data the model was trained on, as its bundle or run folder records it). fp16 keeps float32
input and output. Both take and return what model.onnx does: RGB on 0..1, NCHW, any size.

With --bench, each graph is scored on each folder (PSNR/SSIM on Y, as the literature does) beside
fp32, with the loss in dB; --compare (with --bench) scores every calibration method
({', '.join(METHODS)}) on the same patches. --time times each graph, with or without --bench
(without it, a table of times alone); --csv writes the table (it needs --bench or --time). The
graphs go into the bundle folder (a run folder: OUT/bundle when finalize wrote it, else --out). A
model.onnx already there is quantized only when it was exported from this very network (the spec
and weights hashes in its metadata), else it is exported afresh. --litert also writes the LiteRT
files model.tflite (fp32) and model.int8.tflite (static int8, calibrated on the same patches tiled
to its size), at one fixed input size (--tflite-size), scored and timed beside the ONNX graphs (it
needs the [litert] extra).

Before anything is scored, every file written is checked against the network on a real picture
(the first --bench picture, else a mosaic of the calibration patches): one line per file gives the
largest difference and the PSNR between their outputs against its precision's bounds; a file
outside them is moved to BUNDLE.rejected/ and the command exits 1 (docs/deployment.md#the-parity-gate).
"""

EPILOG = """\
examples:
  slwsr quantize models/s-lwsr16/bundle --bench ../shared/data/Set5 --bench ../shared/data/Set14
  slwsr quantize models/*/bundle --calib-dir ../shared/data/train/T91 --compare --bench ../shared/data/Set5 --csv int8.csv
  slwsr quantize models/s-lwsr16/bundle --litert --bench ../shared/data/Set5 --time
  slwsr quantize models/s-lwsr16/bundle --time --csv times.csv

exit codes: 0 written (and scored or timed); 1 a file failed the parity gate (moved out of the bundle
to BUNDLE.rejected/ beside it; the others were written, scored and timed); 2 bad input (a folder that holds no trained network, no
calibration image large enough, a --calib-dir that does not exist, --litert without the [litert]
extra, --compare without --bench, --csv without --bench or --time), in one line.
"""


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("models", nargs="+", metavar="MODEL", help="a bundle folder or a finalize run folder")
    add_calibration_args(p, default_data="the model's training data")
    p.add_argument("--patch", type=int, default=Int8Settings.patch, metavar="PX",
                   help=f"calibration patch size in LR pixels (default {Int8Settings.patch})")
    p.add_argument("--seed", type=int, default=0, help="which patches are drawn (default 0)")
    p.add_argument("--compare", action="store_true", help="also score every calibration method (needs --bench)")
    p.add_argument("--bench", action="append", metavar="DIR", help="score on this benchmark folder; repeatable")
    p.add_argument("--out", metavar="DIR", help="where the graphs go (default: the bundle folder)")
    p.add_argument("--time", action="store_true",
                   help="also time each graph on onnxruntime, 1 thread, one image of the cost convention's size "
                        "(x4: 320x180 LR), the graphs in turns (ratios within one run are what compare); "
                        "without --bench, a table of times alone")
    add_litert_args(p, "--litert")
    p.add_argument("--csv", metavar="FILE",
                   help="write the table as CSV (one line per model, graph and set; per model and graph when only "
                        "timed); needs --bench or --time")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads while scoring (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _table(rows: list[dict], sets: list[str]) -> str:
    """The Markdown table: per row its scores on ``sets`` (none when only timed) and, when any row
    was timed, its time and speed against fp32."""
    timed = any(r["ms"] is not None for r in rows)
    head = ["model", "params", "graph", *(f"{s} PSNR / SSIM (loss dB)" for s in sets),
            *(["ms", "x fp32"] if timed else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], f"{r['params']:,}", r["graph"],
                 *(f"{r[s][0]:.3f} / {r[s][1]:.4f} ({r[s][2]:+.3f})" for s in sets)]
        if timed:
            cells += [f"{r['ms']:.1f}", f"{r['speed']:.2f}"] if r["ms"] is not None else ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _check_args(parser, args) -> None:
    """Refuse options that cannot work together, before any work."""
    if args.compare and not args.bench:
        parser.error("--compare scores the methods: name at least one --bench folder")
    if args.csv and not (args.bench or args.time):
        parser.error(f"--csv {args.csv}: nothing to write without --bench (scores) or --time (times)")
    if args.threads < 1:
        parser.error(f"--threads {args.threads}: expected 1 or more")
    if args.litert:
        from ..deploy.litert import litert_or_error

        litert_or_error()  # before any work: a one-line error saying how to install the extra


def _print_rows(rows: list[dict], sets: list[str], settings: Int8Settings, args) -> None:
    """The table of every model's graphs and its footnote; the CSV with --csv."""
    print(_table(rows, sets))
    scored = "PSNR (dB) / SSIM on Y, the scale's pixels cropped; loss: the graph's PSNR minus fp32's. "
    print("\n" + (scored if sets else "")
          + f"int8: {settings.patches} patches of {settings.patch} px, seed {settings.seed}."
          + (f" ms: median of 10 runs on onnxruntime (LiteRT with XNNPACK for .tflite), 1 thread; x fp32: fp32's "
             "time over the graph's; "
             f"{cpu_summary()}." if args.time else ""))
    if args.csv:
        Path(args.csv).write_text(rows_csv(rows, sets))


def main(argv: Sequence[str] | None = None, prog: str = "slwsr quantize") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    _check_args(parser, args)
    settings = Int8Settings(args.method, args.patches, args.patch, args.seed)
    configure_device(__import__("torch").device("cpu"), Speedups(threads=args.threads))
    say = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    rows: list[dict] = []
    outs = out_folders(args.models, args.out)
    loaded: dict[int, list] = {}

    def benches(scale: int) -> list:  # each bench read once per scale (its LR images depend on it)
        if scale not in loaded:
            loaded[scale] = [load_bench(b, scale) for b in (args.bench or [])]
        return loaded[scale]

    options = QuantizeOptions(settings, tuple(args.calib_dir or ()), args.compare, args.time, args.litert,
                              args.tflite_size, args.threads)
    failed: list[str] = []
    for m in args.models:
        done = quantize_model(m, options, benches, outs[m], say)
        rows, failed = rows + done.rows, failed + done.failed
    if rows:
        _print_rows(rows, list(dict.fromkeys(b.name for bs in loaded.values() for b in bs)), settings, args)
    if failed:
        print(f"FAILED      parity: {', '.join(failed)} did not match the network: moved out of the bundle to "
              "BUNDLE.rejected/ (see the parity lines above)")
        return 1
    return 0
