"""Shared command-line plumbing: one-line errors with exit code 2, spec selection, sizes."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from typing import Callable, NoReturn, Sequence

from ..model.presets import PRESETS, get_preset
from ..model.spec import ArchSpec

EXIT_USAGE = 2  # bad input: arguments, files, specs


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose usage errors are one line on stderr and exit code 2."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None, prog: str = "slwsr_search") -> int:
    """Run ``main``; a ``ValueError`` or ``OSError`` becomes ``prog: error: MESSAGE`` and exit code 2.
    Warnings print as one line, ``prog: warning: MESSAGE``."""
    warnings.formatwarning = lambda message, *_args, **_kw: f"{prog}: warning: {message}\n"
    try:
        return main(argv)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Python's docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, OSError) as e:
        msg = " ".join(str(e).split())  # one line, whatever the message held
        sys.stderr.write(f"{prog}: error: {msg}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130


def add_spec_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--preset NAME | --spec FILE.json | --arch STRING``: the network to work on."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--preset", metavar="NAME", help=f"a published design: {', '.join(PRESETS)}")
    group.add_argument("--spec", metavar="FILE.json", help="a spec JSON file (as written by --json or ArchSpec.save)")
    group.add_argument("--arch", metavar="STRING", help="an arch string, e.g. x4-n16-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h,2.1,3.1,4.1,5.1,5.2")


def spec_from_args(args: argparse.Namespace) -> tuple[str, ArchSpec]:
    """``(label, spec)`` from :func:`add_spec_args`'s options; bad input raises ``ValueError``."""
    if args.preset is not None:
        return args.preset, get_preset(args.preset)
    if args.spec is not None:
        return args.spec, ArchSpec.load(args.spec)
    return "arch string", ArchSpec.from_arch(args.arch)


def parse_size(text: str) -> tuple[int, int]:
    """``'1280x720'`` (width x height, as screens are named) -> ``(720, 1280)`` = (height, width)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")
    return int(m.group(2)), int(m.group(1))


def store_arg(text: str) -> tuple[str, str | None]:
    """An audit store given as ``FILE[@KEY]``: the file and its settings key (None: not named)."""
    path, _, key = text.partition("@")
    return path, key or None


def fmt_size(hw: tuple[int, int]) -> str:
    """(height, width) -> ``'WIDTHxHEIGHT'``."""
    return f"{hw[1]}x{hw[0]}"


def print_worker(w) -> None:
    """The line a command prints for each worker it started (a :class:`~..search.workers.Started`)."""
    print(f"worker w{w.k}: pid {w.pid}, device {w.device}"
          + (f" (CUDA_VISIBLE_DEVICES={w.env['CUDA_VISIBLE_DEVICES']})" if w.env.get("CUDA_VISIBLE_DEVICES") else "")
          + (f", {w.threads} CPU thread(s)" if w.threads is not None else ""), flush=True)


#: What a command says at the first Ctrl-C of a run with workers.
STOPPING_WORKERS = "\nstopping every worker after its current training step (Ctrl-C again to stop at once) ..."


def portable_argv(argv: Sequence[str], cwd: str | None = None) -> list[str]:
    """``argv`` with every absolute path (``/abs``, ``--opt=/abs``, ``sqlite:////abs``) made
    relative to ``cwd`` (default: the current folder), so a command written into a model card or
    a log reproduces from a checkout anywhere instead of naming one machine's folders."""
    here = cwd or os.getcwd()

    def rel(token: str) -> str:
        if token.startswith("sqlite:////"):
            return "sqlite:///" + os.path.relpath(token[len("sqlite:///"):], here)
        if os.path.isabs(token):
            return os.path.relpath(token, here)
        if token.startswith("--") and "=" in token:
            flag, value = token.split("=", 1)
            return f"{flag}={rel(value)}"
        return token

    return [rel(a) for a in argv]


def add_litert_args(group, flag: str | None = None) -> None:
    """The LiteRT files' options, one wording for every command: ``--tflite-size`` (and ``flag``,
    a switch asking for the files, where they are not written by default)."""
    if flag:
        group.add_argument(flag, action="store_true",
                           help="also write model.tflite and model.int8.tflite (LiteRT; the [litert] extra)")
    group.add_argument("--tflite-size", type=parse_size, metavar="WxH",
                       help="the .tflite files' fixed LR input size (default: a 1280x720 output, 320x180 LR at x4; "
                            "pictures are run in windows of it)")


def add_calibration_args(group, method: str = "--method", patches: str = "--patches",
                         default_data: str = "the training data") -> None:
    """The int8 calibration's options, one wording for every command: ``--calib-dir``, the method
    (flag ``method``) and the patch count (flag ``patches``)."""
    from ..deploy.int8_settings import DEFAULT_METHOD, METHODS, Int8Settings

    group.add_argument("--calib-dir", action="append", metavar="DIR",
                       help=f"calibration images; repeatable (default: {default_data})")
    group.add_argument(method, choices=list(METHODS), default=DEFAULT_METHOD,
                       help=f"calibration method (default {DEFAULT_METHOD}: measured best, docs/deployment.md)")
    group.add_argument(patches, type=int, default=Int8Settings.patches, metavar="N",
                       help=f"LR patches to calibrate on (default {Int8Settings.patches})")
