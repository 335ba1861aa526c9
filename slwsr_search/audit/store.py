"""The fidelity audit's store: its trainings, one JSON object per line, and the roles a training plays.

The record an audit keeps of each training (written by :func:`.trainings.run_jobs`): ``key``
(role:hash:seed), ``label``, ``arch``, ``hash``, ``params``, ``macs``, ``role`` (:data:`SCREEN` or
:data:`REFERENCE`), ``seed``, ``status``, ``psnr``, ``ssim``, ``loss_mean``, ``loss_tail``, ``steps``,
``seconds``, ``device``, ``cpu`` and ``settings`` (the role's settings key); a screening with rungs adds
``rung_psnr`` and ``rung_loss``. Plain JSON: read without torch (reports, ``slwsr bench screening``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

#: The two roles of an audit's trainings: the study's screening, and the longer reference it is ranked against.
SCREEN, REFERENCE = "screen", "reference"


class AuditStore:
    """The audit's trainings, one JSON object per line in ``path``. Each line is written and
    flushed to disk as its training finishes, so a killed audit loses at most the training under
    way. Every record carries the key of its role's settings (:func:`role_key`: protocol and data),
    so audits that share a screening (say, one reference on the built-in images, another on real
    data) can share one file and its screening trainings; records of other settings are kept but
    not used."""

    def __init__(self, path: str | Path, keys: dict[str, str]) -> None:
        self.path = Path(path)
        self.keys = dict(keys)  # role -> settings key

    def load(self) -> dict[str, dict]:
        """The finished trainings of these settings, by job key (:func:`read_store`)."""
        return {rec["key"]: rec for rec in read_store(self.path)
                if rec.get("settings") is not None and rec.get("settings") == self.keys.get(rec.get("role"))}

    def append(self, record: dict) -> None:
        """Store one finished training (``record["role"]`` says which settings it belongs to)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps({**record, "settings": self.keys[record["role"]]}) + "\n")
            f.flush()
            os.fsync(f.fileno())


def read_store(path: str | Path) -> list[dict]:
    """Every record of an audit store, in order ([] when there is no file). A torn last line (a
    kill in the middle of a write) is ignored; any other unreadable line is an error naming the file."""
    p = Path(path)
    if not p.is_file():
        return []
    lines = p.read_text().splitlines()
    out = []
    for n, line in enumerate(lines, start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines):
                continue
            raise ValueError(f"{p}: line {n} is not JSON") from None
    return out
