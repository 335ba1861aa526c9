"""Process-wide test settings and shared fixtures (shared data and helpers: helpers.py)."""

from __future__ import annotations

import os

import pytest
import torch

from helpers import write_folders

# Keep tests quick and repeatable on 2 cores: two threads in one process, or one each where
# pytest-xdist runs two test processes side by side (CI's slow pass: `-n 2`), so they don't spin
# against each other.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


@pytest.fixture
def folders(tmp_path) -> list[str]:
    """The synthetic data as image folders, as the commands' ``--train-dir``/``--val-dir`` options."""
    tr, va = write_folders(tmp_path)
    return ["--train-dir", tr, "--val-dir", va]
