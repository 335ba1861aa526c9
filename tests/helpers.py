"""Shared test data and helpers (imported by the test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

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


def stop_after(n: int):
    """A ``should_stop`` that asks to stop from its (n+1)-th call on (one call per training step)."""
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > n

    return stop


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


#: Debian's headless browser, where installed (.ci/run installs it): renders pages as a user sees them.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_dom(page: str, profile: Path, budget_ms: int = 5000) -> subprocess.CompletedProcess:
    """Load ``page`` in headless Chromium, let its JavaScript run for ``budget_ms`` of virtual time,
    and return the process (``stdout``: the DOM as drawn; ``stderr``: the console)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", f"--virtual-time-budget={budget_ms}",
             "--window-size=1400,2400"]
    return subprocess.run([CHROMIUM, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120)


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@contextlib.contextmanager
def optuna_dashboard(storage_url: str) -> Iterator[str]:
    """Serve ``storage_url`` with the optuna-dashboard command on a free local port; yields its base URL."""
    exe = Path(sys.executable).parent / "optuna-dashboard"
    exe = str(exe) if exe.is_file() else shutil.which("optuna-dashboard")
    assert exe, "the optuna-dashboard command (dev extra) is not installed"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, storage_url, "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                get_json(f"{base}/api/studies")
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("optuna-dashboard did not answer: " + proc.stderr.read1(4000).decode())
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def pg_reason(url: str) -> str | None:
    """Why the PostgreSQL tests skip (the server at 127.0.0.1:5432, trust, database ``test``):
    None when ``url`` connects and answers a query, else the reason in one line."""
    try:
        import sqlalchemy

        with sqlalchemy.create_engine(url).connect() as c:
            c.execute(sqlalchemy.text("select 1"))
        return None
    except Exception as e:  # no driver, no server
        return f"no PostgreSQL server answers on 127.0.0.1:5432 ({type(e).__name__})"
