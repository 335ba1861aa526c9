"""Process-wide test settings and shared fixtures (shared data and helpers: helpers.py)."""

from __future__ import annotations

import pytest
import torch

from helpers import write_folders

# Keep tests quick and repeatable on 2 cores.
torch.set_num_threads(2)


@pytest.fixture
def folders(tmp_path) -> list[str]:
    """The synthetic data as image folders, as the commands' ``--train-dir``/``--val-dir`` options."""
    tr, va = write_folders(tmp_path)
    return ["--train-dir", tr, "--val-dir", va]
