"""``slwsr verify`` / ``python -m slwsr_search.verify``: the parity gate over a bundle's model files,
for bundles made elsewhere or by an older release."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .common import Parser

SUMMARY = "check every model file of a bundle against its network on a real picture (the parity gate)"

DESCRIPTION = """\
Run the parity gate that finalize and quantize run before they report success over bundles that
already exist: each model file in BUNDLE (model.onnx, model.int8.onnx, model.fp16.onnx,
model.tflite, model.int8.tflite, model.mlpackage) upscales one real LR picture beside the network
the bundle holds (model.safetensors + spec.json), and the command prints the largest difference and
the PSNR between their outputs on 0..1 against the bounds of the file's precision. A Core ML
package runs only on Apple systems: its spec, precision and weights hash are checked instead.

Bundles written by finalize with the [litert] extra before 2026-12-07 hold .tflite files that
compute something else (the converter was handed the training's channels_last module): this
command finds them; `slwsr quantize BUNDLE --litert` writes them anew.
"""

EPILOG = """\
examples:
  slwsr verify models/s-lwsr16/bundle
  slwsr verify models/*/bundle --bench ../shared/data/Set5 --reject

exit codes: 0 every file passed; 1 a file failed (with --reject: moved to BUNDLE.rejected/ beside
it); 2 bad input (not a bundle, no model file, an unreadable picture), in one line.
"""


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="a bundle folder (finalize's OUT/bundle)")
    p.add_argument("--bench", metavar="DIR", default="builtin:val",
                   help="the picture: the first LR picture of this folder (default builtin:val, the built-in photographs)")
    p.add_argument("--reject", action="store_true", help="move each failing file out of the bundle, to BUNDLE.rejected/ beside it")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "slwsr verify") -> int:
    args = build_parser(prog).parse_args(argv)
    from ..deploy.bundle import load_bundle
    from ..deploy.parity import check_bundle, parity_lines, parity_picture, reject_failures
    from ..sr.table import load_bench

    failed = 0
    for folder in map(Path, args.bundles):
        scale = load_bundle(folder).spec.scale
        lr, name = parity_picture([load_bench(args.bench, scale)])
        results = check_bundle(folder, lr)
        print(f"{folder}:")
        for line in parity_lines(results, name):
            print(f"  {line}")
        if args.reject:
            for path in reject_failures(results, folder):
                print(f"  REJECTED {path.name}: moved to {path}")
        failed += sum(not r.ok for r in results)
    print(f"FAILED: {failed} file(s) outside their bounds" if failed else "ok: every file is the network")
    return 1 if failed else 0
