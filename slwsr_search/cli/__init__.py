"""The command layer: every argument parser and every print of the package. Nothing below it
imports it. A command parses its options, makes one library call (a whole job is one call in
:mod:`slwsr_search.jobs`, a release :func:`slwsr_search.deploy.release_job.build_release`) and
prints what it returns and what the call's callbacks hear; no command imports another but
:mod:`.common`.

Each command is a module here with ``SUMMARY``, ``build_parser(prog)`` and ``main(argv, prog)``;
it runs as ``slwsr <command>`` (the console script, :func:`main`) and as ``python -m
slwsr_search.<command>`` (a two-line module beside the package's layers, :func:`entry`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

from .common import run_cli

#: The commands, in the order ``slwsr --help`` lists them.
COMMANDS: tuple[str, ...] = ("run", "report", "fidelity", "supernet", "train", "finalize", "quantize", "verify", "evaluate", "upscale", "arch",
                             "latency", "bench")


def _module(name: str):
    return importlib.import_module(f"{__name__}.{name}")


def entry(name: str) -> int:
    """Run command ``name`` as ``python -m slwsr_search.<name>`` does; returns the exit code."""
    prog = f"python -m slwsr_search.{name}"
    return run_cli(lambda argv: _module(name).main(argv, prog), prog=prog)


def _usage() -> str:
    lines = ["usage: slwsr COMMAND [options]    (slwsr COMMAND --help for each)", "",
             "Pareto search over s-LWSR super-resolution architectures.", "", "commands:"]
    for name in COMMANDS:
        lines.append(f"  {name:<10} {_module(name).SUMMARY}")
    lines += ["", "Each is also `python -m slwsr_search.COMMAND`; the main job is `slwsr run --study budget150k`."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``slwsr`` console script: ``slwsr COMMAND [options]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"slwsr: error: unknown command {name!r}; expected one of {', '.join(COMMANDS)} (see slwsr --help)\n")
        return 2
    prog = f"slwsr {name}"
    return run_cli(lambda a: _module(name).main(a, prog), rest, prog=prog)
