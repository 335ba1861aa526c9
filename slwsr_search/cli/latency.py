"""``slwsr latency`` / ``python -m slwsr_search.latency``: the per-machine latency table.

``calibrate``: measure the network's parts on this machine and runtime (onnxruntime on CPU by
default, one intra-op thread) and write the table to the cache folder (or ``--out``); only the
parts the table lacks are measured unless ``--force``. By default it covers the ``slwsr`` search
space's widths and block kinds (about 3 minutes on 2 cores). ``show``: a table's identity and
entries. ``predict``: a spec's predicted time per image from a table, beside its parameters and
Multi-Adds.

Runtimes: onnxruntime (fp32 graph) and onnxruntime-int8 (its QDQ int8 graph), litert and
litert-int8 (the .tflite files on ai-edge-litert's interpreter with XNNPACK, Android's CPU path;
the [litert] extra), torch (PyTorch eager).

On a phone or another computer, install the package there (onnxruntime is the only runtime
needed) and run the same ``calibrate`` command on the device; then copy the table file back and
give it to a study (``[latency] table = "FILE"``) or to ``predict --table FILE``. A phone without
Python: ``kit`` exports the parts (ONNX, or .tflite for LiteRT) with a script that times them with
the runtime's own benchmark tool over adb, and ``import`` reads the outputs back into a table.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Sequence

from ..model.cost import count_cost
from ..model.latency_table import RUNTIMES, LatencyTable, MachineIdentity, predict_latency, table_path
from ..deploy.kit import TOOLS
from .common import Parser, add_spec_args, fmt_size, parse_size, spec_from_args

SUMMARY = "the per-machine latency table: calibrate it, show it, predict a spec's time per image"


def _lr_size(args, scale: int) -> tuple[int, int]:
    from ..deploy.latency import lr_size_for

    return args.lr_size or lr_size_for(scale)


def _calibrate_inputs(args):
    """The space's widths and blocks that ``--n-feats`` and ``--blocks`` pick, checked."""
    from ..search.latency import space_blocks
    from ..search.space import SearchSpace

    space = SearchSpace.load(args.space)
    n_feats = args.n_feats or list(space.n_feats)
    blocks = space_blocks(space, args.blocks, "--blocks")
    for n in n_feats:
        if n < 1:
            raise ValueError(f"--n-feats: expected positive integers, got {n}")
    return n_feats, blocks


def _calibrate_measure(args, parts, scale, lr_size, where):
    """``table_for`` with progress bars for the parts it builds and the turns it times."""
    from tqdm import tqdm

    from ..deploy.calibrate import table_for

    prep = tqdm(desc="building parts", unit="part", file=sys.stderr, disable=None, leave=False)
    turns = tqdm(desc="timing parts", unit="turn", file=sys.stderr, disable=None, leave=False)

    def on_missing(missing, path) -> None:  # the bars' totals, once the table says what it lacks
        prep.reset(total=len(missing))
        turns.reset(total=len(missing) * args.passes)

    try:
        return table_for(parts, args.runtime, args.threads, scale, lr_size, where, args.force,
                         on_missing=on_missing, passes=args.passes, repeats=args.repeats,
                         warmup=args.warmup, on_prepare=lambda i, part: prep.update(1),
                         on_turn=lambda k, i: turns.update(1))
    finally:
        prep.close()
        turns.close()


def _calibrate(args) -> int:
    import torch

    from ..deploy.calibrate import plan

    n_feats, blocks = _calibrate_inputs(args)
    scale = args.scale
    lr_size = _lr_size(args, scale)
    torch.set_num_threads(args.threads)  # process-wide: the torch runtime's threads
    parts = plan(n_feats, blocks)
    ident = MachineIdentity.here(args.runtime, args.threads)
    where = args.out or table_path(ident, scale, lr_size)
    print(f"latency table for {ident.describe()}; x{scale}, LR {fmt_size(lr_size)}; widths "
          f"{', '.join(map(str, n_feats))}; blocks {', '.join(b.kind for b in blocks)}; load average {os.getloadavg()[0]:.2f}",
          flush=True)
    table, path, measured = _calibrate_measure(args, parts, scale, lr_size, where)
    if measured:
        print(f"measured {len(measured)} part(s); the table holds {len(table.entries)}: {path}")
    else:
        print(f"the table already holds all {len(parts)} part(s) (--force measures afresh): {path}")
    return 0


def _show(args) -> int:
    table = _load(args)
    if args.json:
        print(json.dumps(table.to_dict(), indent=1))
        return 0
    print(f"{table.source}\n{table.identity.describe()}; x{table.scale}, LR {fmt_size(table.lr_size)}; "
          f"calibrated {table.created} in {table.seconds:.0f} s (load average {table.load_average}); "
          f"{table.passes} turns x {table.repeats} runs per part")
    for key, ms in sorted(table.entries.items()):
        print(f"  {key:<28} {ms:9.2f} ms")
    return 0


def _predict(args) -> int:
    table = _load(args)
    label, spec = spec_from_args(args)
    pred = predict_latency(spec, table)
    cost = count_cost(spec, (table.lr_size[0] * spec.scale, table.lr_size[1] * spec.scale))
    if args.json:
        print(json.dumps({"label": label, "arch": spec.arch, "latency_ms": pred.ms, "parts": dict(pred.parts),
                          "params": cost.params, "macs": cost.macs, "table": table.source}, indent=1))
        return 0
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in pred.parts)
    print(f"{label}: {spec.arch}\n{pred.ms:.1f} ms per image ({parts} ms) on {table.identity.describe()}, "
          f"LR {fmt_size(table.lr_size)}; {cost.params:,} params, {cost.gmacs:.2f} G Multi-Adds")
    return 0


def _load(args) -> LatencyTable:
    if args.table:
        return LatencyTable.load(args.table)
    ident = MachineIdentity.here(args.runtime, args.threads)
    path = table_path(ident, args.scale, _lr_size(args, args.scale))
    if not path.exists():
        raise ValueError(f"no latency table for {ident.describe()} at {path}; calibrate one: "
                         f"`python -m slwsr_search.latency calibrate --runtime {args.runtime} --threads {args.threads}`")
    table = LatencyTable.load(path)
    table.check(ident, args.scale, _lr_size(args, args.scale))
    return table


def _kit(args) -> int:
    from ..deploy.calibrate import plan
    from ..deploy.kit import MANIFEST, SCRIPT, write_kit
    from ..search.latency import space_blocks
    from ..search.space import SearchSpace

    space = SearchSpace.load(args.space)
    parts = plan(args.n_feats or list(space.n_feats), space_blocks(space, args.blocks, "--blocks"))
    lr_size = _lr_size(args, args.scale)
    from tqdm import tqdm

    bar = tqdm(total=len(parts), desc="exporting parts", unit="part", file=sys.stderr, disable=None, leave=False)
    try:
        out = write_kit(args.out, parts, args.runtime, args.int8, args.threads, args.scale, lr_size, args.runs,
                        on_part=lambda i, part: bar.update(1))
    finally:
        bar.close()
    print(f"latency kit: {len(parts)} part(s) for {TOOLS[args.runtime].name}{' (int8)' if args.int8 else ''}, "
          f"{args.threads} thread(s), x{args.scale}, LR {fmt_size(lr_size)} -> {out}/ ({MANIFEST}, {SCRIPT}, parts/)")
    print(f"next: push the tool to the phone, run {out / SCRIPT} with the phone on adb, then "
          f"slwsr latency import {out}")
    return 0


def _import(args) -> int:
    from pathlib import Path

    from ..deploy.kit import read_kit
    from ..model.presets import get_preset

    table = read_kit(args.kit, args.device)
    out = table.save(args.out or Path(args.kit) / "table.json")
    print(f"latency table for {table.identity.describe()}; x{table.scale}, LR {fmt_size(table.lr_size)}: "
          f"{len(table.entries)} part(s) -> {out}")
    try:
        pred = predict_latency(get_preset("s-lwsr16"), table)
        print(f"s-lwsr16 predicted {pred.ms:.1f} ms per image from it")
    except ValueError:
        pass  # a kit for other widths than s-LWSR16's
    print(f'use it in a study: [latency] runtime = "{table.identity.runtime}", threads = {table.identity.threads}, '
          f'table = "{out}"')
    return 0


def _identity_args(p, table: bool = True) -> None:
    p.add_argument("--runtime", choices=RUNTIMES, default="onnxruntime",
                   help="runtime (default onnxruntime, CPU; -int8: its int8 model; litert: .tflite on LiteRT's "
                        "XNNPACK, needs the [litert] extra)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4), help="upscaling factor (default 4)")
    p.add_argument("--lr-size", type=parse_size, metavar="WxH",
                   help="LR input size (default: the cost convention's, 1280x720 output, e.g. 320x180 at x4)")
    if table:
        p.add_argument("--table", metavar="FILE", help="a table file (default: this machine's, from the cache folder)")


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="what", required=True, metavar="{calibrate,show,predict,kit,import}")
    c = sub.add_parser("calibrate", help="measure the network's parts on this machine and write the table",
                       description="Measure every part of the network (the skeleton, each block kind with and "
                                   "without its activation, per width) in turns, and write the table. The cache "
                                   "folder is $SLWSR_CACHE_DIR/latency, else ~/.cache/slwsr-search/latency.")
    _identity_args(c, table=False)
    c.add_argument("--space", default="slwsr", help="search space whose widths and block kinds to cover (default slwsr)")
    c.add_argument("--n-feats", type=int, nargs="+", metavar="N", help="widths (default: the space's)")
    c.add_argument("--blocks", nargs="+", metavar="CHOICE", help="block kinds: res, ir<t> (default: res and the space's)")
    c.add_argument("--passes", type=int, default=5, help="turns per part, spread over the calibration (default 5)")
    c.add_argument("--repeats", type=int, default=2, help="measured runs per turn (default 2)")
    c.add_argument("--warmup", type=int, default=1, help="unmeasured runs per turn (default 1)")
    c.add_argument("--out", metavar="FILE", help="table file (default: this machine's, in the cache folder)")
    c.add_argument("--force", action="store_true", help="measure every part afresh (default: only the missing ones)")
    s = sub.add_parser("show", help="a table's identity and entries")
    _identity_args(s)
    s.add_argument("--json", action="store_true", help="print the table's JSON")
    pr = sub.add_parser("predict", help="a spec's predicted time per image")
    _identity_args(pr)
    add_spec_args(pr)
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    k = sub.add_parser("kit", help="the parts as model files, a manifest and a script that times them on a phone",
                       description="Export every part of the calibration plan (as `calibrate` measures them) as a "
                                   "static-shape model file, with manifest.json and run_on_phone.sh, which runs each "
                                   "part once on the phone adb sees with the runtime's own benchmark tool "
                                   "(onnxruntime_perf_test for .onnx parts; LiteRT's benchmark_model with XNNPACK "
                                   "for .tflite parts, NHWC, converted with the [litert] extra) and saves its "
                                   "output in results/. Then `slwsr latency import DIR` makes the phone's table.")
    k.add_argument("--runtime", choices=list(TOOLS), default="onnxruntime",
                   help="the phone's runtime (default onnxruntime: onnxruntime_perf_test, CPU EP; litert: "
                        "benchmark_model --use_xnnpack=true)")
    k.add_argument("--int8", action="store_true",
                   help="the parts' int8 models (onnxruntime: QDQ graphs; litert: static int8 .tflite)")
    k.add_argument("--threads", type=int, default=1, help="threads the tool runs with (default 1)")
    k.add_argument("--scale", type=int, default=4, choices=(2, 3, 4), help="upscaling factor (default 4)")
    k.add_argument("--lr-size", type=parse_size, metavar="WxH", help="LR input size (default 320x180 at x4)")
    k.add_argument("--space", default="slwsr", help="search space whose widths and block kinds to cover (default slwsr)")
    k.add_argument("--n-feats", type=int, nargs="+", metavar="N", help="widths (default: the space's)")
    k.add_argument("--blocks", nargs="+", metavar="CHOICE", help="block kinds (default: res and the space's)")
    k.add_argument("--runs", type=int, default=50, help="runs per part (default 50)")
    k.add_argument("--out", required=True, metavar="DIR", help="the kit folder (created)")
    im = sub.add_parser("import", help="read a kit's results (the benchmark tool's outputs) into a latency table")
    im.add_argument("kit", metavar="DIR", help="a kit folder whose results/ the phone script filled")
    im.add_argument("--device", help="the device's name in the table (default: results/device.txt)")
    im.add_argument("--out", metavar="FILE", help="table file (default DIR/table.json)")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "slwsr latency") -> int:
    args = build_parser(prog).parse_args(argv)
    return {"calibrate": _calibrate, "show": _show, "predict": _predict, "kit": _kit, "import": _import}[args.what](args)
