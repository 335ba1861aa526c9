"""``slwsr finalize`` / ``python -m slwsr_search.finalize``: train a chosen design for long, with
crash-safe checkpoints, score it as the literature does and write the bundle a user ships. The
training is :func:`slwsr_search.training.finalize.finalize_training`, the release
:func:`slwsr_search.deploy.release_job.build_release`; this module parses and prints."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Sequence

from ..model.cost import count_cost
from ..model.network import build_model
from ..sr.data import load_data
from ..sr.table import load_bench, table_markdown
from ..training.device import Speedups, configure_device, resolve_device
from ..training.finalize import LOG, PROGRESS, FinalizeConfig, finalize_training
from ..training.protocol import PROTOCOLS, SCHEDULES, Protocol
from ..deploy.int8_settings import Int8Settings
from ..deploy.release import SHIP_CHOICES
from ..deploy.release_job import Release, ReleaseOptions, build_release, release_calibration
from .common import Parser, add_calibration_args, add_litert_args, add_spec_args, portable_argv, spec_from_args

SUMMARY = "train a chosen design for long (crash-safe), score it as the literature does, export the bundle"

DESCRIPTION = """\
Take one design (a study's trial, a preset, a spec file or an arch string) to a shipped model:

1. train it with a long protocol on real data, writing a checkpoint into OUT every --checkpoint-every
   steps (weights, optimiser, schedule position, the patch sampler's RNG, the spec). Killed at any
   moment (kill -9 included), the same command resumes from the last checkpoint and ends, on a CPU
   with the same thread count, with exactly the weights of an uninterrupted run. OUT/log.txt says
   when it started, resumed and checkpointed; OUT/progress.csv holds the validation PSNR every
   --eval-every steps (and the moving average's, with --ema), drawn in OUT/progress.html.
2. score it on each --bench folder (Set5 / Set14 / B100 / Urban100 layout, their MATLAB-made LR
   used where present) with and without the x8 self-ensemble, beside our bicubic and the paper's
   published rows: OUT/table.md and OUT/table.csv.
3. write the bundle OUT/bundle/: model.safetensors, spec.json, model.onnx (opset 18, RGB 0..1),
   model.int8.onnx (post-training int8, calibrated on --calib-patches LR patches of the training
   data or --calib-dir), model.fp16.onnx, model.tflite and model.int8.tflite (LiteRT at one fixed
   size, --tflite-size; with the [litert] extra), model.mlpackage (Core ML; with coremltools),
   crops.png (HR/bicubic/fp32/int8 crops) and MODEL_CARD.md (each file's PSNR and latency here).
   Every file is made from the network as the bundle saved it and checked against it on a real
   picture (the first bench picture) before it ships: the parity gate prints each file's largest
   difference and PSNR against the network; a file outside its precision's bounds is moved to
   OUT/bundle.rejected/ and the command exits 1 (docs/deployment.md#the-parity-gate).

Protocol --protocol auto (the default): `long` on a CPU (5,000 steps x 16 patches of 48 px, lr 1e-3
cosine; about an hour for s-LWSR16 on one CPU core, twice that for designs rich in inverted
residuals), `paper` on CUDA (the paper's 1,000,000
steps, lr 1e-4 halved every 200,000). Each flag below overrides the protocol's value. Running the
command again on a finished OUT redoes only steps 2 and 3.
"""

EPILOG = """\
examples:
  slwsr finalize --preset s-lwsr16 --train-dir ../shared/data/train/T91 --train-dir ../shared/data/train/BSD200 \\
      --val-dir ../shared/data/Set5 --bench ../shared/data/Set5 --bench ../shared/data/Set14 --out models/s-lwsr16
  slwsr finalize --study budget150k --trial 5 --out models/trial5 ...    # a design from a study
  slwsr finalize --preset s-lwsr16 --steps 200 --out /tmp/quick           # a quick try on the built-in data

exit codes: 0 finished and exported; 1 the training failed (non-finite loss, out of memory), or a
file failed the parity gate (moved to OUT/bundle.rejected/; the bundle holds the files that passed);
2 bad input (one-line error); 130 interrupted (the last checkpoint is kept: run the same command).
"""


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    g = p.add_argument_group("the design (one of)")
    add_spec_args(g, required=False)
    g.add_argument("--study", metavar="NAME", help="a study (built-in name or TOML path) whose --trial to take")
    g.add_argument("--trial", type=int, metavar="N", help="the trial number in --study (see its report)")
    g.add_argument("--storage", metavar="URL", help="the study's storage (default: $SLWSR_STORAGE, else the study's)")
    g = p.add_argument_group("protocol (each flag overrides the chosen --protocol)")
    g.add_argument("--protocol", choices=["auto", *PROTOCOLS], default="auto",
                   help="named protocol (default auto: long on CPU, paper on CUDA: 1,000,000 steps)")
    g.add_argument("--steps", type=int, help="optimiser steps")
    g.add_argument("--batch", type=int, help="patches per batch")
    g.add_argument("--patch", type=int, help="LR patch size in pixels")
    g.add_argument("--lr", type=float, help="peak learning rate")
    g.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    g.add_argument("--halve-every", type=int, help="steps between halvings for --schedule step")
    g.add_argument("--seed", type=int, help="initial weights and patch stream (default 0)")
    g.add_argument("--init", metavar="FILE.pt", help="start from this checkpoint's weights (of the same design), e.g. "
                                                     "a supernet's inherited weights (slwsr supernet extract)")
    g.add_argument("--no-augment", action="store_true", help="no flips/rotations")
    g.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="keep a moving average of the weights with this decay per step (BasicSR uses 0.999), scored "
                        "beside the raw weights (default 0: off)")
    g.add_argument("--ship", choices=SHIP_CHOICES, default="best",
                   help="with --ema, which weights the bundle holds: best (higher validation PSNR at the end; the "
                        "default), raw or ema")
    g = p.add_argument_group("checkpoints and progress")
    g.add_argument("--out", metavar="DIR", help="run folder (default models/NAME under the current folder)")
    g.add_argument("--checkpoint-every", type=int, default=250, metavar="K", help="steps between checkpoints (default 250)")
    g.add_argument("--eval-every", type=int, default=500, metavar="N", help="steps between validation scores (default 500)")
    g = p.add_argument_group("data and benchmarks")
    g.add_argument("--train-dir", action="append", metavar="DIR", help="training images; repeatable (default builtin:train)")
    g.add_argument("--val-dir", action="append", metavar="DIR", help="validation images; repeatable (default builtin:val)")
    g.add_argument("--bench", action="append", metavar="DIR",
                   help="benchmark folder for the table; repeatable (default: the --val-dir folders)")
    g.add_argument("--no-self-ensemble", action="store_true", help="leave the x8 self-ensemble rows out of the table")
    g = p.add_argument_group("int8 (model.int8.onnx; `slwsr quantize` redoes it on a bundle)")
    add_calibration_args(g, "--int8-method", "--calib-patches")
    g = p.add_argument_group("LiteRT (model.tflite, model.int8.tflite; where the [litert] extra is installed)")
    add_litert_args(g)
    g = p.add_argument_group("device")
    g.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")
    g.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core); resume with the same")
    g.add_argument("--quiet", action="store_true", help="no progress bar (the log lines still print)")
    return p


def _design(args, parser) -> tuple[str, str, object]:
    """``(name, origin, spec)``."""
    given = [x for x in (args.preset, args.spec, args.arch) if x is not None]
    if args.study is not None or args.trial is not None:
        if args.study is None or args.trial is None:
            parser.error("--study and --trial go together")
        if given:
            parser.error("give either --study/--trial or one of --preset, --spec, --arch")
        from ..search.record import trial_spec
        from ..search.storage import open_existing_study, resolve_storage
        from ..search.study import StudyConfig

        cfg = StudyConfig.load(args.study)
        study = open_existing_study(cfg, resolve_storage(args.storage, cfg))
        spec, _ = trial_spec(study, args.trial)
        return f"{cfg.name}-trial{args.trial}", f"study {cfg.name}, trial {args.trial}", spec
    if not given:
        parser.error("name a design: --preset, --spec, --arch, or --study with --trial")
    label, spec = spec_from_args(args)
    name = args.preset or (Path(args.spec).stem if args.spec else spec.hash[:10])
    origin = f"preset {args.preset}" if args.preset else f"spec file {args.spec}" if args.spec else "arch string"
    return name, origin, spec


def _config(args, parser, dev) -> tuple[str, str, FinalizeConfig]:
    """The run's name, its protocol's name and its :class:`FinalizeConfig`, from the options."""
    from ..training.protocol import auto_protocol  # (imported here: this function is the one caller)

    name, origin, spec = _design(args, parser)
    pname = args.protocol if args.protocol != "auto" else auto_protocol(dev)
    overrides = {"steps": args.steps, "batch_size": args.batch, "lr_patch": args.patch, "lr": args.lr,
                 "schedule": args.schedule, "halve_every": args.halve_every, "seed": args.seed,
                 "augment": False if args.no_augment else None}
    protocol: Protocol = dataclasses.replace(PROTOCOLS[pname], **{k: v for k, v in overrides.items() if v is not None})
    train_dirs, val_dirs = args.train_dir or ["builtin:train"], args.val_dir or ["builtin:val"]
    return name, pname, FinalizeConfig(spec, protocol, tuple(train_dirs), tuple(val_dirs), args.checkpoint_every,
                                       args.eval_every, args.ema, origin, init=args.init or "")


def _header(config: FinalizeConfig, pname: str, data, out: Path, args) -> None:
    spec, protocol, cost = config.spec, config.protocol, count_cost(config.spec)
    print(f"design      {spec.arch} ({config.origin})", flush=True)
    print(f"cost        {cost.params:,} params, {cost.gmacs:.2f} G Multi-Adds at 1280x720", flush=True)
    print(f"protocol    {pname}: {protocol.steps:,} steps x {protocol.batch_size} x {protocol.lr_patch} px, "
          f"lr {protocol.lr:g} {protocol.schedule}, seed {protocol.seed}{f', EMA {args.ema:g}' if args.ema else ''}", flush=True)
    print(f"data        train {data.train_source} ({len(data.train)} images), val {data.val_source} ({len(data.val)} images)",
          flush=True)
    print(f"run folder  {out} (log {out / LOG}, progress {out / PROGRESS}; checkpoint every {args.checkpoint_every} steps)",
          flush=True)


def _train(name: str, config: FinalizeConfig, data, out: Path, args, speedups: Speedups, show: bool):
    """Run (or resume) the training with a progress bar and a line per validation; the result and
    the function that prints a line of the run."""
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=config.protocol.steps, unit="step", file=sys.stderr, disable=None, dynamic_ncols=True)

    def say(line: str) -> None:
        (bar.write if bar is not None else print)(f"[{name}] {line}")
        sys.stdout.flush()

    def on_step(step: int, loss: float) -> None:
        if bar is None:
            return
        bar.update(step - bar.n)  # a resumed run's first step jumps the bar to where it is
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss:.2f}", refresh=False)

    def on_eval(row: dict) -> None:
        ema = f", EMA {row['ema_psnr']:.3f} dB" if row.get("ema_psnr") is not None else ""
        eta = row["train_s"] / row["step"] * (config.protocol.steps - row["step"])
        say(f"step {row['step']:>7,}: val PSNR {row['psnr']:.3f} dB, SSIM {row['ssim']:.4f}{ema} "
            f"({row['train_s'] / 60:.1f} min of training, about {eta / 60:.0f} min to go)")

    res = finalize_training(out, config, data, args.device, speedups, on_event=say, on_step=on_step, on_eval=on_eval)
    if bar is not None:
        bar.close()
    return res, say


def _options(args, argv: Sequence[str] | None) -> ReleaseOptions:
    """The release's options; its card's command names paths relative to where this one ran, not
    this machine's folders."""
    command = "python -m slwsr_search.finalize " + " ".join(shlex.quote(a) for a in portable_argv(
        sys.argv[1:] if argv is None else argv))
    return ReleaseOptions(Int8Settings(args.int8_method, args.calib_patches), tuple(args.calib_dir or ()),
                          args.tflite_size, not args.no_self_ensemble, args.ship, command)


def _result_lines(r: Release, res) -> int:
    """The lines a release ends with; 1 when a file failed the parity gate."""
    facts, bundle = r.facts, r.bundle
    if r.table is not None:
        print(table_markdown(r.table))
    print(f"result      val PSNR {facts.val_psnr:.3f} dB, SSIM {facts.val_ssim:.4f} ({facts.weights} weights); "
          f"{res.train_s / 60:.1f} min of training, {facts.resumes} resume(s)")
    print(f"bundle      {bundle}/ ({', '.join(sorted(p.name for p in bundle.iterdir()))})")
    if r.failed:
        print(f"FAILED      parity: {', '.join(r.failed)} did not match the network and were moved to {bundle}.rejected/ "
              "(see the parity lines above); the bundle holds the files that passed")
        return 1
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "slwsr finalize") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.ship == "ema" and not args.ema:
        parser.error("--ship ema: this run keeps no moving average (add --ema DECAY)")
    dev = resolve_device(args.device)
    name, pname, config = _config(args, parser, dev)
    out = Path(args.out or Path("models") / name)
    if args.tflite_size:  # refused before the training, not after it
        from ..sr.tiles import check_window, receptive_radius
        check_window(args.tflite_size, receptive_radius(build_model(config.spec), config.spec.scale), "--tflite-size")
    speedups = Speedups(threads=args.threads)
    configure_device(dev, speedups)
    show = not args.quiet
    data = load_data(list(config.train), list(config.val), config.spec.scale, config.protocol.lr_patch, progress=show)
    benches = [load_bench(b, config.spec.scale) for b in (args.bench or [d for d in config.val if not d.startswith("builtin:")])]
    _header(config, pname, data, out, args)
    options = _options(args, argv)
    calib = release_calibration(options, config.spec.scale, data.train)
    res, say = _train(name, config, data, out, args, speedups, show)
    if res.status == "interrupted":
        print(f"interrupted at step {res.steps_done:,}: run the same command to resume", file=sys.stderr)
        return 130
    if res.status != "ok":
        print(f"FAILED      {res.status}: {res.reason}")
        return 1
    return _result_lines(build_release(name, config, res, out, benches, calib, data.val, options, say), res)
