"""``slwsr supernet`` / ``python -m slwsr_search.supernet``: train a study's weight-sharing supernet
(``train``) and score designs with the weights they inherit (``score``). The work is
:mod:`slwsr_search.jobs.supernet`'s; this module parses and prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import torch

from ..audit.trainings import read_design_file
from ..audit.proxy import read_reference
from ..jobs.supernet import SupernetHooks, SupernetSetup, default_path, load_supernet, setup_for, train_supernet_job
from ..jobs.supernet_audit import audit_document, audit_summary, check_together, record_audit, weights_digest
from ..jobs.supernet_scores import FINETUNE, audit_supernet, score_designs
from ..machine import cpu_label
from ..model.cost import count_cost
from ..model.presets import PRESETS, get_preset
from ..model.spec import ArchSpec
from ..model.supernet import EXPANSIONS, SuperNet
from ..search.study import StudyConfig
from ..search.workers import StopRequest
from ..sr.data import load_pairs
from ..training.checkpoint import save_checkpoint
from ..training.device import Speedups, configure_device, resolve_device
from ..training.state import TrainingState
from ..training.supernet import PATHS, SAMPLINGS, SupernetPlan
from .common import Parser

SUMMARY = "train a study's weight-sharing supernet; score designs with the weights they inherit"

DESCRIPTION = """\
A supernet holds every design of a study's search space as a path through shared weights (elastic
width by channel slicing; each slot's residual block and inverted residual, the expansions slices
of one hidden weight). Trained once, it scores a design in seconds with the weights the design
inherits, no training from scratch (docs/supernet.md).

  train   trains the study's supernet (resumable: the same command continues the file it names)
  score   scores designs with inherited weights, one JSON object per line with --json
  audit   scores a long reference's designs and ranks the scores against it (tau, rho, regret)
  extract writes one design's network with its inherited weights as a checkpoint
          (slwsr evaluate --checkpoint reads it)
"""

TRAIN_EPILOG = """\
examples:
  slwsr supernet train --study budget150k --steps 2000
  slwsr supernet train --study budget150k --widths 16,20 --sampling uniform --steps 5000 \\
      --train-dir ../shared/data/train/T91 --train-dir ../shared/data/train/BSD200 --out sn.pt

The state file (default studies/NAME.supernet.pt under the current folder) is rewritten atomically
every --checkpoint-every steps and on Ctrl-C or SIGTERM: run the same command again to continue
(on CPU, with the same thread count, exactly as if never stopped). A file of another setup or plan
is refused, naming what differs.

exit codes: 0 trained; 2 bad input; 130 stopped (continue with the same command).
"""

SCORE_EPILOG = """\
examples:
  slwsr supernet score --study budget150k --arch s-lwsr16 --json
  slwsr supernet score --study budget150k --supernet sn.pt --design-file designs.txt \\
      --val-dir ../shared/data/Set5 --val-dir ../shared/data/Set14 --finetune 100 --json

Each design: label, arch, params, psnr (dB), ssim (Y channel, scale pixels cropped per border, as
everywhere in the package), l1 (mean absolute error, 0..255 RGB, same crop), finetune (steps) and
seconds. --arch takes an arch string or a preset name (its label: the name as given).

exit codes: 0 scored; 2 bad input (a design the supernet does not hold is named).
"""


AUDIT_EPILOG = """\
examples:
  slwsr supernet audit --study budget150k --supernet sn.pt \\
      --reference docs/results/2026-12-01-samplers/fronts-14-designs.csv --horizon 5000 \\
      --val-dir ../shared/data/Set5 --val-dir ../shared/data/Set14 --out audit.json

--reference: a fidelity audit's per-design CSV (slwsr fidelity's fidelity.csv: label, arch, params,
macs, reference_mean and reference_at_<steps> along its ladder). Each score (the supernet's PSNR,
SSIM and minus its L1; parameters and Multi-Adds alone) against the reference PSNR at --horizon
steps: Kendall tau and Spearman rho with 90% bootstrap intervals (designs resampled), cost-matched
pairs ordered right, top-1 regret (dB) and tau minus parameters' tau on the same resamples.

exit codes: 0 audited; 2 bad input.
"""


DEVICE_HELP = ("auto (CUDA when present, else CPU), cpu, cuda or cuda:N; on CUDA with channels_last and bf16 "
               "autocast, scoring in fp32 (default auto)")


SUPERNETS_HELP = ("a supernet state file (default the study's, studies/NAME.supernet.pt); repeat it for one "
                  "supernet per width: each design is scored by the first that holds it")


def device_label(device: str) -> str:
    """The machine a command runs on, as its figures need it said."""
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))} ({device})"
    return f"{cpu_label()}, {torch.get_num_threads()} threads"


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION)
    sub = p.add_subparsers(dest="action", required=True, parser_class=Parser)
    t = sub.add_parser("train", help="train (or continue) a study's supernet", description=DESCRIPTION,
                       epilog=TRAIN_EPILOG, formatter_class=p.formatter_class)
    t.add_argument("--study", required=True, metavar="NAME", help="a built-in study or a path to a study TOML")
    t.add_argument("--out", metavar="FILE", help="the supernet's state file (default studies/NAME.supernet.pt)")
    t.add_argument("--steps", type=int, default=2000, help="updates in all (default 2000)")
    t.add_argument("--sampling", choices=SAMPLINGS, default="fair",
                   help="paths per step: fair (strict fairness: every block choice once per slot), uniform (one "
                        "path) or sandwich (largest, smallest and two drawn, in-place distillation); default fair")
    t.add_argument("--paths", choices=PATHS, default="feasible",
                   help="draw paths from the study's designs inside its budget, or from its whole space (default feasible)")
    t.add_argument("--widths", metavar="N,N", help="the widths the paths use (default: every width with a design in "
                                                   "the budget); each one of the space's")
    t.add_argument("--expansions", choices=EXPANSIONS, default="shared",
                   help="the inverted residuals' expansions share one weight (each the leading hidden channels of the "
                        "largest) or hold one each (default shared)")
    t.add_argument("--batch", type=int, default=16, help="patches per step (default 16)")
    t.add_argument("--patch", type=int, default=48, help="LR patch side in pixels (default 48)")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate, cosine to 0 (default 1e-3)")
    t.add_argument("--seed", type=int, default=0, help="initial weights, patches and paths (default 0)")
    t.add_argument("--train-dir", action="append", metavar="DIR",
                   help="training images (repeatable; default the built-in photographs)")
    t.add_argument("--checkpoint-every", type=int, default=100, metavar="K", help="state file every K steps (default 100)")
    t.add_argument("--snapshots", metavar="STEPS", help="also keep the weights at these steps (FILE.stepN.pt), e.g. 1000,2000")
    t.add_argument("--threads", type=int, metavar="T", help="CPU threads (default: one per core)")
    t.add_argument("--device", default="auto", help=DEVICE_HELP)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("score", help="score designs with inherited weights", description=DESCRIPTION,
                       epilog=SCORE_EPILOG, formatter_class=p.formatter_class)
    s.add_argument("--study", required=True, metavar="NAME", help="the study whose supernet scores")
    s.add_argument("--supernet", action="append", metavar="FILE", help=SUPERNETS_HELP)
    s.add_argument("--arch", action="append", default=[], metavar="ARCH", help="a design: arch string or preset (repeatable)")
    s.add_argument("--design-file", metavar="FILE", help="designs, one 'LABEL ARCH' per line (as slwsr fidelity reads)")
    s.add_argument("--val-dir", action="append", metavar="DIR", help="validation images (repeatable; default the built-in three)")
    s.add_argument("--finetune", type=int, default=0, metavar="K",
                   help="train K steps from the inherited weights before scoring (default 0: none)")
    s.add_argument("--train-dir", action="append", metavar="DIR", help="fine-tune images (default the first supernet's own)")
    s.add_argument("--json", action="store_true", help="one JSON object per design per line (else a table)")
    s.add_argument("--threads", type=int, metavar="T", help="CPU threads (default: one per core)")
    s.add_argument("--device", default="auto", help=DEVICE_HELP)
    a = sub.add_parser("audit", help="rank a long reference's designs by inherited weights; tau, rho, regret",
                       description=DESCRIPTION, epilog=AUDIT_EPILOG, formatter_class=p.formatter_class)
    a.add_argument("--study", required=True, metavar="NAME", help="the study whose supernet scores")
    a.add_argument("--supernet", action="append", metavar="FILE", help=SUPERNETS_HELP)
    a.add_argument("--reference", required=True, metavar="CSV", help="a fidelity audit's per-design CSV")
    a.add_argument("--horizon", type=int, metavar="STEPS",
                   help="the reference at this many steps (its reference_at_STEPS column; default reference_mean)")
    a.add_argument("--val-dir", action="append", metavar="DIR", help="validation images (repeatable; default the built-in three)")
    a.add_argument("--finetune", type=int, default=0, metavar="K", help="K fine-tune steps per design first (default 0)")
    a.add_argument("--train-dir", action="append", metavar="DIR", help="fine-tune images (default the first supernet's own)")
    a.add_argument("--out", metavar="FILE.json", help="also write the designs' scores and the table as JSON")
    a.add_argument("--no-record", action="store_true",
                   help="do not record the headline in the supernet file (by default a study it scores names it; "
                        "an audit of several supernets is recorded in none)")
    a.add_argument("--threads", type=int, metavar="T", help="CPU threads (default: one per core)")
    a.add_argument("--device", default="auto", help=DEVICE_HELP)
    x = sub.add_parser("extract", help="one design's network with its inherited weights, as a checkpoint",
                       description=DESCRIPTION, formatter_class=p.formatter_class)
    x.add_argument("--study", required=True, metavar="NAME", help="the study whose supernet holds the design")
    x.add_argument("--supernet", metavar="FILE", help="a supernet state file (default the study's)")
    x.add_argument("--arch", required=True, metavar="ARCH", help="the design: arch string or preset")
    x.add_argument("--out", required=True, metavar="FILE.pt", help="the checkpoint to write")
    x.add_argument("--threads", type=int, metavar="T", help="CPU threads (default: one per core)")
    return p


def _ints(text: str | None, flag: str) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{flag} {text}: expected integers separated by commas") from None


def _train(args) -> int:
    cfg = StudyConfig.load(args.study)
    setup = setup_for(cfg, _ints(args.widths, "--widths") or None, args.paths, args.train_dir or ("builtin:train",),
                      args.expansions)
    plan = SupernetPlan(args.steps, args.batch, args.patch, args.lr, args.sampling, args.seed)
    out = args.out or default_path(cfg)
    bar = None

    def on_start(s) -> None:
        nonlocal bar
        print(f"supernet of {cfg.name}: widths {list(s.setup.widths)}, blocks {', '.join(s.setup.choices)} "
              f"({s.setup.expansions} expansions), "
              f"{s.params:,} weights; {s.plan.sampling} sampling, paths {s.setup.paths}; {s.train_images} training "
              f"images; {'continuing at step ' + str(s.resumed_at) if s.resumed_at else 'new'} -> {s.out}")
        print(f"on {device_label(args.device)}", flush=True)
        if not args.quiet:
            from tqdm import tqdm
            bar = tqdm(total=s.plan.steps, initial=s.resumed_at, unit="step", file=sys.stderr, disable=None)

    def on_step(step: int, loss: float) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.2f}", refresh=False)

    done = None
    try:  # the first Ctrl-C or SIGTERM stops after the current step and saves; a second stops at once
        with StopRequest(lambda: print("stopping after this step (Ctrl-C again to stop now)", file=sys.stderr)) as stop:
            done = train_supernet_job(cfg, setup, plan, out, SupernetHooks(on_start, on_step), args.checkpoint_every,
                                      _ints(args.snapshots, "--snapshots"), lambda: stop.requested, args.device)
    except KeyboardInterrupt:  # the second signal: nothing saved past the last state file
        pass
    finally:
        if bar is not None:
            bar.close()
    if done is None or not done.finished:
        print(f"stopped at {f'step {done.steps_done}' if done else 'its last state file'}: run the same command to continue")
        return 130
    print(f"trained {done.steps_done} steps ({done.seconds:.0f} s this run); loss over the last 100 steps "
          f"{done.loss_tail:.3f}; {done.out}")
    return 0


def _designs(args) -> list[tuple[str, ArchSpec]]:
    out = []
    for text in args.arch:
        # a preset by name, else an arch string (whose error names what is wrong with it)
        out.append((text, get_preset(text) if text in PRESETS else ArchSpec.from_arch(text)))
    if args.design_file:
        out += [(d.label, d.spec) for d in read_design_file(args.design_file)]
    if not out:
        raise ValueError("name at least one design: --arch ARCH or --design-file FILE")
    return out


def _supernets(args, cfg: StudyConfig) -> list[tuple[Path, SuperNet, SupernetSetup, TrainingState]]:
    """The supernets ``--supernet`` names (the study's by default), loaded; a note for each trained
    for another study; several must be of one kind (:func:`~..jobs.supernet_audit.check_together`)."""
    out = []
    for path in args.supernet or [default_path(cfg)]:
        net, setup, state = load_supernet(path)
        if setup.study != cfg.name:
            print(f"note: {path} was trained for study {setup.study!r}, scoring for {cfg.name!r}", file=sys.stderr)
        out.append((Path(path), net, setup, state))
    check_together([(p, su, st) for p, _, su, st in out])
    return out


def _named(loaded: list) -> str:
    """``a.pt: 1500 steps + b.pt: 1500 steps``: the supernets a command scores with."""
    return " + ".join(f"{p}: {st.steps} steps" for p, _, _, st in loaded)


def _score(args) -> int:
    cfg = StudyConfig.load(args.study)
    loaded = _supernets(args, cfg)
    setup, nets = loaded[0][2], [n for _, n, _, _ in loaded]
    designs = _designs(args)
    val = _pairs(args.val_dir or ["builtin:val"], setup.scale)
    train = _pairs(args.train_dir or setup.train, setup.scale, FINETUNE.lr_patch) if args.finetune else []
    if not args.json:
        print(f"{_named(loaded)}; {len(designs)} design(s) on "
              f"{', '.join(args.val_dir or ['builtin:val'])}; on {device_label(args.device)}")

    def show(r) -> None:
        if args.json:
            print(json.dumps(r.to_dict()), flush=True)
        else:
            print(f"{r.label:<24} {r.params:>9,} params  {r.psnr:7.3f} dB  SSIM {r.ssim:.4f}  L1 {r.l1:6.3f}  "
                  f"{r.seconds:5.1f} s", flush=True)

    score_designs(nets, designs, val, args.finetune, train, on_design=show, device=args.device)
    return 0


def _pairs(dirs: Sequence[str], scale: int, min_size: int = 0) -> list:
    return [p for d in dirs for p in load_pairs(d, scale, min_lr_size=min_size, progress=False)]


def _audit(args) -> int:
    cfg = StudyConfig.load(args.study)
    loaded = _supernets(args, cfg)
    (path, net, setup, state), nets = loaded[0], [n for _, n, _, _ in loaded]
    reference = read_reference(args.reference, args.horizon)
    val = _pairs(args.val_dir or ["builtin:val"], setup.scale)
    train = _pairs(args.train_dir or setup.train, setup.scale, FINETUNE.lr_patch) if args.finetune else []
    print(f"{_named(loaded)}, {state.protocol.get('sampling')} sampling; "
          f"{len(reference)} designs of {args.reference} at {args.horizon or 'their end'}; finetune {args.finetune}; "
          f"on {device_label(args.device)}", flush=True)
    audit = audit_supernet(nets, reference, val, args.horizon, args.finetune, train,
                           on_design=lambda r: print(f"  {r.label:<24} {r.psnr:7.3f} dB  {r.seconds:5.1f} s", flush=True),
                           device=args.device)
    _audit_table(audit)
    if args.no_record:
        pass
    elif len(loaded) > 1:  # a study is scored by one supernet file: no one file holds this audit
        print(f"not recorded: an audit of {len(loaded)} supernets together belongs to none of their files")
    else:
        record_audit(path, audit_summary(audit, args.reference, args.val_dir or ["builtin:val"], weights_digest(net.state_dict())))
        print(f"recorded in {path}: a study it scores names this audit")
    if args.out:
        doc = audit_document([(p, su, st) for p, _, su, st in loaded], audit, args.reference,
                             args.val_dir or ["builtin:val"], device_label(args.device))
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


def _audit_table(audit) -> None:
    print(f"{'score':<16} {'tau [90%]':>22} {'rho [90%]':>22} {'pairs':>7} {'regret dB [90%]':>24} {'tau - params [90%]':>24}")
    for r in audit.rows:
        iv = lambda v, i: f"{v:+.2f} [{i[0]:+.2f}, {i[1]:+.2f}]"  # noqa: E731
        print(f"{r.name:<16} {iv(r.tau, r.tau_interval):>22} {iv(r.rho, r.rho_interval):>22} {r.pairs_right:>3}/{r.pairs:<3} "
              f"{r.regret_db:7.3f} [{r.regret_interval[0]:.3f}, {r.regret_interval[1]:.3f}] "
              f"{iv(r.tau_minus_params, r.tau_minus_params_interval):>24}")


def _extract(args) -> int:
    cfg = StudyConfig.load(args.study)
    path = args.supernet or default_path(cfg)
    net, setup, state = load_supernet(path)
    (label, spec), = _designs(argparse.Namespace(arch=[args.arch], design_file=None))
    model = net.extract(spec)
    save_checkpoint(args.out, model, protocol={"supernet": str(path), **state.protocol}, steps=state.steps,
                    extra={"inherited_from": str(path), "supernet_steps": state.steps, "label": label})
    print(f"{args.out}: {spec.arch} ({count_cost(spec).params:,} params), weights inherited from {path} "
          f"({state.steps} steps)")
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "slwsr supernet") -> int:
    args = build_parser(prog).parse_args(argv)
    for name in ("steps", "batch", "patch", "checkpoint_every", "threads"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {v}")
    if getattr(args, "finetune", 0) < 0:
        raise ValueError(f"--finetune: expected an integer >= 0, got {args.finetune}")
    args.device = str(resolve_device(getattr(args, "device", "cpu")))
    configure_device(torch.device(args.device), Speedups(threads=args.threads))
    return {"train": _train, "score": _score, "audit": _audit, "extract": _extract}[args.action](args)
