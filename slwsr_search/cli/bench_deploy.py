"""``slwsr bench litert``: LiteRT parity, quality and speed against PyTorch and onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

from .common import parse_size


def add_deploy_benchmarks(sub) -> None:
    """The ``litert`` subcommand of ``slwsr bench``."""
    lt = sub.add_parser("litert", help="LiteRT (XNNPACK) fp32/int8 against PyTorch and onnxruntime: parity at odd "
                                       "sizes, PSNR on bench sets, speed in turns (needs the [litert] extra)")
    lt.add_argument("--model", action="append", required=True, metavar="DIR",
                    help="a bundle or finalize run folder; repeatable")
    lt.add_argument("--bench", action="append", metavar="DIR", help="score on this bench folder (each picture converted)")
    lt.add_argument("--calib-dir", action="append", metavar="DIR", help="calibration images (default: the model's training data)")
    lt.add_argument("--sizes", type=parse_size, nargs="+", default=[(29, 37), (64, 51), (47, 23)], metavar="WxH",
                    help="LR sizes of the parity check (default 37x29 51x64 23x47)")
    lt.add_argument("--speed-size", type=parse_size, default=(180, 320), metavar="WxH",
                    help="LR size timed (default 320x180: 1280x720 out at x4)")
    lt.add_argument("--passes", type=int, default=5, help="timing turns (default 5)")
    lt.add_argument("--out", metavar="PATH", help="also write PATH.json")


def _litert_patches(model, folder, dirs, settings):
    """The int8 calibration patches from ``dirs``, refusing ones that are unknown or missing."""
    from ..deploy.quantize import patches_from

    missing = [d for d in dirs if not d.startswith("builtin:") and not Path(d).exists()]
    if not dirs or missing:
        raise ValueError(f"{folder}: calibration images {missing or 'unknown'}: give --calib-dir")
    return patches_from(dirs, model.spec.scale, settings)


def _litert_quality(args, model, folder, patches, settings) -> dict:
    """PSNR on each ``--bench``, printed as measured."""
    from ..benchmarks.litert import bench_quality
    from ..sr.table import load_bench

    quality = {}
    for b in args.bench or []:
        bench = load_bench(b, model.spec.scale)
        q = quality[bench.name] = bench_quality(model, bench, patches, settings=settings)
        print(f"{folder}: {bench.name} PSNR " + ", ".join(f"{k} {v:.3f}" for k, v in q.items())
              + f"; litert int8 - onnx int8 {q['litert int8'] - q['onnx int8']:+.3f} dB", flush=True)
    return quality


def _litert_model(args, folder, settings) -> dict:
    """One trained model's parity, quality and speeds under LiteRT, printed as measured."""
    from ..benchmarks.litert import parity, speeds
    from ..model.cost import count_cost
    from ..deploy.bundle import trained_network

    model, train, _ = trained_network(Path(folder))
    patches = _litert_patches(model, folder, args.calib_dir or train, settings)
    r = {"model": folder, "arch": model.spec.arch, "params": count_cost(model.spec).params,
         "parity": parity(model, args.sizes)}
    print(f"{folder}: LiteRT fp32 vs PyTorch, max |diff| on 0..1: "
          + ", ".join(f"{p['w']}x{p['h']} {p['max_abs_diff']:.2e}" for p in r["parity"]), flush=True)
    r["quality"] = _litert_quality(args, model, folder, patches, settings)
    r["speed_ms"] = speeds(model, args.speed_size, patches, args.passes)
    base = r["speed_ms"]["onnxruntime fp32"]
    print(f"{folder}: ms per {args.speed_size[1]}x{args.speed_size[0]} image (x onnxruntime fp32): "
          + ", ".join(f"{k} {v:.1f} ({base / v:.2f}x)" for k, v in r["speed_ms"].items()), flush=True)
    return r


def bench_litert(args) -> int:
    """``slwsr bench litert``."""
    import torch

    from ..deploy.int8_settings import Int8Settings
    from ..deploy.litert import litert_or_error
    from ..machine import cpu_summary

    for m in ("litert_torch", "ai_edge_quantizer", "ai_edge_litert.interpreter"):
        litert_or_error(m)
    torch.set_num_threads(1)
    settings, results = Int8Settings(), []
    for folder in args.model:
        results.append(_litert_model(args, folder, settings))
    machine = cpu_summary()
    print(f"machine: {machine}; 1 thread each; timed in turns")
    if args.out:
        Path(args.out + ".json").write_text(json.dumps({"machine": machine, "results": results}, indent=1) + "\n")
    return 0
