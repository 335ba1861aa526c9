"""Shared test data and helpers (imported by the test modules; fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from slwsr_search.model.spec import random_spec
from slwsr_search.sr.data import ImagePair, TrainData
from slwsr_search.sr.resize import imresize

N_RANDOM = 50
#: 50 seeded random valid specs: res/ir mixes, expansion ratios, activations, pools, scales.
RANDOM_SPECS = [random_spec(seed, n_feats=(4, 6, 8, 12)) for seed in range(N_RANDOM)]


def synthetic_data(n: int = 3, size: int = 64, seed: int = 0) -> TrainData:
    """``n`` smooth-ish random x4 pairs (learning is possible on them): the first validates, the rest train."""
    g = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        base = g.integers(0, 256, size=(size // 8, size // 8, 3)).astype(np.float64)
        hr = np.clip(imresize(base, 8), 0, 255).astype(np.uint8)
        pairs.append(ImagePair(f"im{i}", hr, imresize(hr, 1 / 4), "imresize"))
    return TrainData(pairs[1:], pairs[:1], 4, "synthetic", "synthetic")


#: The synthetic data every training test uses.
DATA = synthetic_data()


def write_folders(root: Path, data: TrainData = DATA) -> tuple[str, str]:
    """Save ``data``'s HR images as PNG folders ``root/tr`` and ``root/va``; their paths."""
    for name, pairs in (("tr", data.train), ("va", data.val)):
        (root / name).mkdir()
        for p in pairs:
            Image.fromarray(p.hr).save(root / name / f"{p.name}.png")
    return str(root / "tr"), str(root / "va")


def run_command(main, capsys, *argv: str, prog: str = "cmd") -> tuple[int, str, str]:
    """Run a command's ``main`` in-process as its entry point does: ``(exit code, stdout, stderr)``
    (argparse errors exit through SystemExit)."""
    from slwsr_search.cli.common import run_cli

    try:
        code = run_cli(main, list(argv), prog=prog)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
