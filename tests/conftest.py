"""Shared test data: presets and seeded random specs (tests are generated from them)."""

from __future__ import annotations

import torch

from slwsr_search.spec import random_spec

# Keep tests quick and repeatable on 2 cores.
torch.set_num_threads(2)

N_RANDOM = 50
#: 50 seeded random valid specs: res/ir mixes, expansion ratios, activations, pools, scales.
RANDOM_SPECS = [random_spec(seed, n_feats=(4, 6, 8, 12)) for seed in range(N_RANDOM)]


def run_command(main, capsys, *argv: str, prog: str = "cmd") -> tuple[int, str, str]:
    """Run a command's ``main`` in-process as its ``__main__`` does: ``(exit code, stdout, stderr)``
    (argparse errors exit through SystemExit)."""
    from slwsr_search.cli import run_cli

    try:
        code = run_cli(main, list(argv), prog=prog)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
