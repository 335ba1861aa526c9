"""``slwsr upscale`` / ``python -m slwsr_search.upscale``: upscale pictures with a bundle, in tiles
(each picture: :func:`slwsr_search.jobs.upscale.upscale_file`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from ..deploy.bundle import load_bundle
from ..deploy.backends import BACKENDS, bundle_runner
from ..sr.tiles import receptive_radius
from ..training.device import Speedups, configure_device, resolve_device
from ..jobs.upscale import upscale_file
from .common import Parser

SUMMARY = "upscale your pictures with a finalized bundle (PyTorch, onnxruntime fp32/int8/fp16, LiteRT fp32/int8), in seamless tiles"

DESCRIPTION = """\
Upscale pictures of any size with a bundle written by `finalize` (a folder holding model.safetensors,
spec.json and, for the onnxruntime backends, model.onnx, model.int8.onnx or model.fp16.onnx; for the
LiteRT backends, model.tflite or model.int8.tflite and the [litert] extra).

Each picture is run in tiles of --tile x --tile LR pixels, each with a margin of real neighbouring
pixels as wide as the network's receptive radius (measured from the network; 55 px for s-LWSR16),
so memory stays bounded by one tile and the result equals a whole-picture run (no seams).
A .tflite has one fixed input size: the LiteRT backends run windows of exactly that size instead
(--tile unused), sliding back from the right and bottom edges; a picture smaller than the window is
padded by repeating its edge pixels, which changes the pixels near that edge slightly.
Grey pictures stay grey, 16-bit pictures (grey PNG/TIFF, colour PNG) stay 16-bit, an alpha channel
is upscaled with bicubic interpolation. Output: OUT/NAME_x4.png.
An input is never overwritten. A picture that cannot be read or written is reported in one line
and the others are still done.
"""

EPILOG = """\
examples:
  slwsr upscale --model models/s-lwsr16/bundle photo.jpg more/*.png --out upscaled
  slwsr upscale --model models/s-lwsr16/bundle --backend onnxruntime --tile 128 scan.tif --out upscaled
  slwsr upscale --model models/s-lwsr16/bundle --backend onnxruntime-int8 photo.jpg --out upscaled
  slwsr upscale --model models/s-lwsr16/bundle --backend litert-int8 photo.jpg --out upscaled

exit codes: 0 every picture written; 2 bad input (a bundle that does not load, a scale the bundle
does not have) or at least one picture failed (each said in one line).
"""


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="pictures to upscale (any format Pillow reads)")
    p.add_argument("--model", required=True, metavar="BUNDLE", help="a bundle folder (finalize's OUT/bundle)")
    p.add_argument("--out", default="upscaled", metavar="DIR", help="output folder, created if needed (default upscaled)")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="torch (the weights), onnxruntime (model.onnx), onnxruntime-int8 (model.int8.onnx), onnxruntime-fp16 "
                        "(model.fp16.onnx), litert (model.tflite) or litert-int8 (model.int8.tflite) (default torch)")
    p.add_argument("--tile", type=int, default=256, metavar="PX", help="tile size in LR pixels (default 256)")
    p.add_argument("--margin", type=int, metavar="PX",
                   help="context per tile side in LR pixels (default: the network's receptive radius, exact)")
    p.add_argument("--scale", type=int, help="check that the bundle upscales by this factor")
    p.add_argument("--device", default="cpu", help="torch backend: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--threads", type=int, help="CPU threads (default: one per core)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _upscale_one(src: Path, dst: Path, run, scale: int, args, margin: int, bar, window=None) -> str:
    """Upscale one picture into ``dst`` (a bar of its tiles under ``bar``); the line to print."""
    tiles = []

    def on_tiles(n: int):
        from tqdm import tqdm

        tiles.append(tqdm(total=n, unit="tile", desc=src.name[:30], file=sys.stderr, leave=False, disable=None,
                          dynamic_ncols=True))
        return lambda done, total: tiles[0].update(1)

    try:
        h, w = upscale_file(src, dst, run, scale, args.tile, margin, window, on_tiles if bar is not None else None)
    finally:
        for t in tiles:
            t.close()
    return f"{src} -> {dst} ({w}x{h} -> {w * scale}x{h * scale})"


def _check_args(parser: Parser, args) -> None:
    if args.tile < 8:
        parser.error(f"--tile {args.tile}: expected at least 8 LR pixels")
    if args.margin is not None and args.margin < 0:
        parser.error(f"--margin {args.margin}: expected 0 or more")


def _upscale_all(args, prog: str, scale: int, run, margin: int, window) -> int:
    """Upscale every input picture, each failure said in one line; the number that failed."""
    inputs = {Path(i).resolve() for i in args.images}
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=len(args.images), unit="file", file=sys.stderr, disable=None, dynamic_ncols=True)
    say = bar.write if bar is not None else print
    failed = 0
    for name in args.images:
        src = Path(name)
        dst = Path(args.out) / f"{src.stem}_x{scale}.png"
        try:
            if dst.resolve() in inputs:
                raise ValueError(f"{dst}: would overwrite an input; choose another --out")
            say(_upscale_one(src, dst, run, scale, args, margin, bar, window))
        except (ValueError, OSError) as e:
            failed += 1
            msg = str(e) if str(src) in str(e) or str(dst) in str(e) else f"{src}: {e}"
            say(f"{prog}: error: {' '.join(msg.split())}", file=sys.stderr)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return failed


def main(argv: Sequence[str] | None = None, prog: str = "slwsr upscale") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    _check_args(parser, args)
    model = load_bundle(args.model)
    scale = model.spec.scale
    if args.scale is not None and args.scale != scale:
        raise ValueError(f"--scale {args.scale}: the bundle {args.model} upscales x{scale} only")
    dev = resolve_device(args.device)
    configure_device(dev, Speedups(threads=args.threads))
    margin = receptive_radius(model, scale) if args.margin is None else args.margin
    run, window = bundle_runner(args.model, args.backend, model, str(dev), args.threads)
    failed = _upscale_all(args, prog, scale, run, margin, window)
    if failed:
        print(f"{failed} of {len(args.images)} picture(s) failed", file=sys.stderr)
        return 2
    return 0
