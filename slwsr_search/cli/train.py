"""``slwsr train`` / ``python -m slwsr_search.train``: train one spec and score it."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Sequence

from ..training.checkpoint import save_checkpoint
from ..model.cost import count_cost
from ..sr.data import load_data
from ..sr.evaluate import bicubic_upscaler, evaluate_pairs
from ..training.device import Speedups, configure_device, resolve_device
from ..training.loop import train
from ..training.protocol import PROTOCOLS, SCHEDULES, Protocol
from .common import Parser, add_spec_args, spec_from_args

SUMMARY = "train one spec with a short, deterministic protocol and score it on validation images"

DESCRIPTION = """\
Train one s-LWSR variant with a short, deterministic protocol and score it on validation images.

Protocol (--protocol short, the default and the search's): L1 loss; Adam (0.9, 0.999, eps 1e-8);
--steps 300 of --batch 16 random LR patches of --patch 48 px with flips and 90-degree rotations;
learning rate --lr 1e-3 with a cosine decay to 0; --seed 0 fixes the weights and the patch stream.
--protocol paper: lr 1e-4 halved every 200,000 of 1,000,000 steps (--schedule step). Scores: PSNR/SSIM
on the Y channel, `scale` pixels cropped, SR rounded to 8 bits. Data: --train-dir and --val-dir
take a folder (any layout `evaluate` accepts) or builtin:train / builtin:val (the defaults).
"""

EPILOG = """\
examples:
  slwsr train --preset s-lwsr16 --steps 300 --save s16.pt
  slwsr train --preset s-lwsr16-half --train-dir ../shared/data/train/T91 \\
      --train-dir ../shared/data/train/BSD200 --val-dir ../shared/data/Set5
  slwsr evaluate --checkpoint s16.pt --data ../shared/data/Set5

exit codes: 0 trained; 1 the training failed (non-finite loss, out of memory: said in the output);
2 bad input (one-line error).
"""


def build_parser(prog: str) -> Parser:
    d = Protocol()
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    add_spec_args(p)
    g = p.add_argument_group("protocol (each flag overrides the chosen --protocol)")
    g.add_argument("--protocol", choices=list(PROTOCOLS), default="short", help="named protocol (default short)")
    g.add_argument("--steps", type=int, help=f"optimiser steps (short: {d.steps})")
    g.add_argument("--batch", type=int, help=f"patches per batch ({d.batch_size})")
    g.add_argument("--patch", type=int, help=f"LR patch size in pixels ({d.lr_patch})")
    g.add_argument("--lr", type=float, help=f"peak learning rate (short: {d.lr:g})")
    g.add_argument("--schedule", choices=SCHEDULES, help=f"learning-rate schedule (short: {d.schedule})")
    g.add_argument("--halve-every", type=int, help="steps between halvings for --schedule step (paper: 200000)")
    g.add_argument("--seed", type=int, help=f"initial weights and patch stream ({d.seed})")
    g.add_argument("--eval-every", type=int, metavar="K", help="also score the validation set every K steps")
    g.add_argument("--no-augment", action="store_true", help="no flips/rotations")
    g = p.add_argument_group("data")
    g.add_argument("--train-dir", action="append", metavar="DIR",
                   help="training images; repeat to combine folders (default builtin:train)")
    g.add_argument("--val-dir", action="append", metavar="DIR",
                   help="validation images; repeat to combine folders (default builtin:val)")
    g = p.add_argument_group("device")
    g.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")
    g.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core)")
    g.add_argument("--no-channels-last", action="store_true", help="keep NCHW memory format")
    g.add_argument("--no-bf16", action="store_true", help="no bfloat16 autocast on CUDA")
    g.add_argument("--compile", action="store_true", help="torch.compile the model (slower on CPU)")
    g = p.add_argument_group("output")
    g.add_argument("--save", metavar="CKPT", help="save a checkpoint (weights, spec, protocol; loads with weights_only=True)")
    g.add_argument("--json", action="store_true", help="print one JSON object with the result")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _protocol(args) -> Protocol:
    overrides = {"steps": args.steps, "batch_size": args.batch, "lr_patch": args.patch, "lr": args.lr,
                 "schedule": args.schedule, "halve_every": args.halve_every, "seed": args.seed,
                 "eval_every": args.eval_every, "augment": False if args.no_augment else None}
    return dataclasses.replace(PROTOCOLS[args.protocol], **{k: v for k, v in overrides.items() if v is not None})


def _check_save(args) -> None:
    if args.save:
        parent = Path(args.save).resolve().parent
        if not parent.is_dir():
            raise ValueError(f"--save {args.save}: folder {parent} does not exist")


def _print_json(args, spec, cost, res, bicubic, protocol, data) -> None:
    out = {"arch": spec.arch, "params": cost.params, "macs": cost.macs, **res.to_dict(),
           "bicubic_psnr": bicubic.psnr, "bicubic_ssim": bicubic.ssim, "protocol": protocol.to_dict(),
           "train": data.train_source, "val": data.val_source, "checkpoint": args.save if res.ok else None,
           "spec": spec.to_dict()}
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _print_text(args, spec, cost, res, bicubic, protocol, data) -> None:
    print(f"arch        {spec.arch}")
    print(f"cost        {cost.params:,} params, {cost.gmacs:.2f} G Multi-Adds at 1280x720")
    print(f"data        train {data.train_source} ({len(data.train)} images), val {data.val_source} ({len(data.val)} images), x{spec.scale}")
    print(f"protocol    {protocol.steps} steps x {protocol.batch_size} patches of {protocol.lr_patch} px, "
          f"lr {protocol.lr:g} {protocol.schedule}, seed {protocol.seed}")
    if res.ok:
        print(f"result      PSNR {res.psnr:.3f} dB, SSIM {res.ssim:.4f} (bicubic {bicubic.psnr:.3f} dB, {bicubic.ssim:.4f})")
    else:
        print(f"FAILED      {res.status}: {res.reason}")
    print(f"time        {res.wall_s:.1f} s on {res.device}: {res.steps_per_s:.2f} steps/s, data {res.data_s:.1f} s, "
          f"compute {res.compute_s:.1f} s, eval {res.eval_s:.1f} s")
    if res.ok and args.save:
        print(f"saved       {args.save}")


def main(argv: Sequence[str] | None = None, prog: str = "slwsr train") -> int:
    args = build_parser(prog).parse_args(argv)
    _, spec = spec_from_args(args)
    protocol = _protocol(args)
    speedups = Speedups(channels_last=not args.no_channels_last, bf16=not args.no_bf16,
                        compile=args.compile, threads=args.threads)
    dev = resolve_device(args.device)  # fail before loading data
    configure_device(dev, speedups)
    _check_save(args)
    show = not (args.quiet or args.json)
    data = load_data(args.train_dir or ["builtin:train"], args.val_dir or ["builtin:val"], spec.scale,
                     protocol.lr_patch, progress=show)
    bicubic = evaluate_pairs(data.val, bicubic_upscaler(spec.scale), spec.scale)
    on_eval = None if not show else (lambda pt: print(f"step {pt['step']:>6}: PSNR {pt['psnr']:.3f} dB  SSIM {pt['ssim']:.4f}", file=sys.stderr))
    res = train(spec, data, protocol, args.device, speedups, progress=show, on_eval=on_eval if args.eval_every else None)
    if res.ok and args.save:
        save_checkpoint(args.save, res.model, protocol.to_dict(),
                        extra={"psnr": res.psnr, "ssim": res.ssim, "train": data.train_source, "val": data.val_source},
                        steps=res.steps_done)
    cost = count_cost(spec)
    (_print_json if args.json else _print_text)(args, spec, cost, res, bicubic, protocol, data)
    return 0 if res.ok else 1
