"""``slwsr evaluate`` / ``python -m slwsr_search.evaluate``: score bicubic or a trained checkpoint on a set."""

from __future__ import annotations

import json
import math
import sys
from typing import Sequence

from ..training.checkpoint import load_checkpoint
from ..model.presets import PRESETS, get_preset
from ..model.spec import ArchSpec
from ..sr.data import load_pairs
from ..sr.evaluate import bicubic_upscaler, evaluate_pairs, model_upscaler
from .common import Parser

SUMMARY = "PSNR/SSIM of bicubic or a trained checkpoint on an SR set, as the literature scores them"

DESCRIPTION = """\
Score bicubic or a trained model on an SR data set, as the literature does: PSNR and SSIM on the
Y channel (BT.601), `scale` pixels cropped at each border, the SR output rounded to 8 bits; SSIM
as Wang et al. 2004 (11x11 Gaussian, sigma 1.5) as MATLAB computes it.

--data takes a folder (a benchmark folder with HR/ and optional LR_bicubic/X<scale>/, the DIV2K
layout, or any folder of HR images; missing LR images are made with a MATLAB-compatible bicubic
imresize) or the built-in sets builtin:val / builtin:train.
"""

EPILOG = """\
examples:
  slwsr evaluate --data ../shared/data/Set5 --method bicubic
  slwsr evaluate --data ../shared/data/Set14 --checkpoint s16.pt --self-ensemble
  slwsr evaluate --checkpoint s16.pt --json        # built-in validation images

exit codes: 0 ok; 2 bad input (one-line error naming the file or option).
"""


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--data", default="builtin:val", metavar="DIR",
                   help="data folder, or builtin:val / builtin:train (default builtin:val)")
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4), help="upscaling factor (default 4)")
    p.add_argument("--method", choices=("bicubic", "model"), default=None,
                   help="bicubic baseline, or a model (implied by --checkpoint)")
    p.add_argument("--checkpoint", metavar="CKPT", help="a checkpoint saved by `train --save`")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--spec", metavar="FILE.json", help="check that the checkpoint holds this spec")
    g.add_argument("--preset", choices=list(PRESETS), metavar="NAME", help="check that the checkpoint holds this preset")
    p.add_argument("--self-ensemble", action="store_true", help="average the 8 flips/rotations (the paper's '+')")
    p.add_argument("--make-lr", action="store_true", help="ignore LR files on disk; make every LR with our imresize")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i] (default cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object with per-image and mean scores")
    return p


def _method(parser: Parser, args) -> str:
    if (args.spec or args.preset) and not args.checkpoint:
        parser.error("--spec/--preset name a network; scoring it needs its trained weights: add --checkpoint CKPT")
    method = args.method or ("model" if args.checkpoint else "bicubic")
    if method == "model" and not args.checkpoint:
        parser.error("a model needs --checkpoint (an untrained network scores nothing meaningful)")
    if method == "bicubic" and (args.checkpoint or args.spec or args.preset or args.self_ensemble):
        parser.error("--checkpoint, --spec, --preset and --self-ensemble go with a model, not --method bicubic")
    return method


def _model_upscaler(args):
    model, _ = load_checkpoint(args.checkpoint)
    expected = ArchSpec.load(args.spec) if args.spec else get_preset(args.preset) if args.preset else None
    if expected is not None and expected != model.spec:
        raise ValueError(f"{args.checkpoint}: holds {model.spec.arch}, not the requested {expected.arch}")
    if model.spec.scale != args.scale:
        raise ValueError(f"--scale {args.scale}: the checkpoint {args.checkpoint} is a x{model.spec.scale} model")
    upscale = model_upscaler(model, args.device, args.self_ensemble)
    label = model.spec.arch + (" (+ self-ensemble)" if args.self_ensemble else "")
    return upscale, label


def _print_json(args, label, pairs, result) -> None:
    def num(v: float):  # JSON has no inf: identical images are reported as null
        return None if math.isinf(v) else v
    out = {"data": str(args.data), "scale": args.scale, "method": label,
           "lr_source": sorted({p.lr_source for p in pairs}),
           "psnr": num(result.psnr), "ssim": num(result.ssim),
           "images": [{"name": r["name"], "psnr": num(r["psnr"]), "ssim": num(r["ssim"])} for r in result.images]}
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _print_text(args, label, pairs, result) -> None:
    print(f"{label} on {args.data} x{args.scale} (LR: {', '.join(sorted({p.lr_source for p in pairs}))})")
    print(f"{'image':<24} {'PSNR dB':>8} {'SSIM':>7}")
    for r in result.images:
        print(f"{r['name']:<24} {r['psnr']:>8.2f} {r['ssim']:>7.4f}")
    print(f"{'mean':<24} {result.psnr:>8.2f} {result.ssim:>7.4f}")


def main(argv: Sequence[str] | None = None, prog: str = "slwsr evaluate") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    method = _method(parser, args)
    if method == "model":
        upscale, label = _model_upscaler(args)
    else:
        upscale, label = bicubic_upscaler(args.scale), "bicubic"
    pairs = load_pairs(args.data, args.scale, use_lr_files=not args.make_lr, progress=not args.json)
    result = evaluate_pairs(pairs, upscale, args.scale)
    if args.json:
        _print_json(args, label, pairs, result)
    else:
        _print_text(args, label, pairs, result)
    return 0
