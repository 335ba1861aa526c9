"""A study file's sub-tables as data: ``[fault_tolerance]``, ``[fidelity]`` and ``[latency]``, each
checked with errors naming the file, the table and the key (:mod:`.study` reads them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import check_keys, is_int
from ..model.latency_table import RUNTIMES


@dataclass(frozen=True)
class FaultTolerance:
    """``[fault_tolerance]`` of a study: heartbeats and retries (seconds, counts).

    Each running trial writes a heartbeat to the storage every ``heartbeat_interval`` s; one
    silent for ``grace_period`` s is stale: the next worker that looks marks it FAIL and queues a
    retry, up to ``max_retry`` times per original trial (a spec that kills its worker every time,
    say by exhausting memory, is not retried forever).
    """

    heartbeat_interval: int = 10
    grace_period: int = 60
    max_retry: int = 2

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "FaultTolerance":
        check_keys(d, where, optional=("heartbeat_interval", "grace_period", "max_retry"))
        out = cls(**d)
        for f in dataclasses.fields(cls):
            v = getattr(out, f.name)
            low = 0 if f.name == "max_retry" else 1
            if not is_int(v) or v < low:
                raise ValueError(f"{where}: {f.name}: expected an integer >= {low}, got {v!r}")
        if out.grace_period <= out.heartbeat_interval:
            raise ValueError(f"{where}: grace_period: must exceed heartbeat_interval ({out.heartbeat_interval}), "
                             f"got {out.grace_period}")
        return out


@dataclass(frozen=True)
class Fidelity:
    """``[fidelity]`` of a study: multi-fidelity rungs (:mod:`.promotion`).

    ``rungs``: where a design is scored, in multiples of the protocol's ``steps``, starting at 1
    (``[1, 3]``: scored after ``steps``, and, if promoted, after ``3 x steps`` in all); a design
    promoted from one rung continues the same training (weights, optimiser, patch stream) for the
    next segment, each segment with its own learning-rate schedule (cosine: warm restarts).
    ``reduction``: the best ``1/reduction`` of a rung's results so far go on. ``seeds_at_top``:
    trainings (seeds) per design at the top rung, whose mean is its score. The default, one rung
    and one seed, is a plain study.
    """

    rungs: tuple[int, ...] = (1,)
    reduction: int = 3
    seeds_at_top: int = 1

    @property
    def multi(self) -> bool:
        """Whether this is more than a plain study (several rungs or several seeds)."""
        return len(self.rungs) > 1 or self.seeds_at_top > 1

    @property
    def top(self) -> int:
        """The index of the top rung."""
        return len(self.rungs) - 1

    def segments(self, steps: int) -> list[int]:
        """The steps of each training segment, for a protocol of ``steps``: ``[steps, ...]``."""
        ends = [r * steps for r in self.rungs]
        return [b - a for a, b in zip([0] + ends, ends)]

    def to_dict(self) -> dict[str, Any]:
        return {"rungs": list(self.rungs), "reduction": self.reduction, "seeds_at_top": self.seeds_at_top}

    def settings(self) -> dict[str, Any]:
        """What this table adds to a protocol's identity (keys, records): nothing for a plain study,
        so a plain study's keys are those it always had."""
        return {"fidelity": self.to_dict()} if self.multi else {}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "Fidelity":
        check_keys(d, where, optional=("rungs", "reduction", "seeds_at_top"))
        rungs = d.get("rungs", [1])
        if (not isinstance(rungs, list) or not rungs or any(not is_int(r) for r in rungs)
                or rungs[0] != 1 or any(b <= a for a, b in zip(rungs, rungs[1:]))):
            raise ValueError(f"{where}: rungs: expected increasing integers in multiples of the protocol's steps, "
                             f"starting at 1 (e.g. [1, 3]), got {rungs!r}")
        for key, low in (("reduction", 2), ("seeds_at_top", 1)):
            v = d.get(key, getattr(cls, key))
            if not is_int(v) or v < low:
                raise ValueError(f"{where}: {key}: expected an integer >= {low}, got {v!r}")
        return cls(tuple(rungs), d.get("reduction", cls.reduction), d.get("seeds_at_top", cls.seeds_at_top))


@dataclass(frozen=True)
class LatencySettings:
    """``[latency]`` of a study: the ``runtime`` (one of :data:`~..model.latency_table.RUNTIMES`:
    onnxruntime, onnxruntime-int8, torch, litert, litert-int8) and intra-op ``threads`` a latency
    is predicted for, and the ``table`` file to read (default: this machine's, calibrated on first
    use; a table made on a phone or another computer (a latency kit's) is named here, and is then
    checked for runtime, threads, scale and size but not for this machine's CPU)."""

    runtime: str = "onnxruntime"
    threads: int = 1
    table: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str, relative_to: Path) -> "LatencySettings":
        check_keys(d, where, optional=("runtime", "threads", "table"))
        runtime, threads, table = d.get("runtime", cls.runtime), d.get("threads", cls.threads), d.get("table")
        if runtime not in RUNTIMES:
            raise ValueError(f"{where}: runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if not is_int(threads) or threads < 1:
            raise ValueError(f"{where}: threads: expected an integer >= 1, got {threads!r}")
        if table is not None:
            if not isinstance(table, str) or not table:
                raise ValueError(f"{where}: table: expected a file path, got {table!r}")
            table = str((relative_to / table) if not Path(table).is_absolute() else Path(table))
        return cls(runtime, threads, table)


#: How a study's trials score a design (``[evaluator] kind``).
EVALUATORS: tuple[str, ...] = ("scratch", "supernet")


@dataclass(frozen=True)
class EvaluatorSettings:
    """``[evaluator]`` of a study: ``kind`` "scratch" (each trial trains its design briefly from
    scratch: the default) or "supernet" (each trial scores its design with the weights it inherits
    from the trained supernet in the state file ``supernet``, written by ``slwsr supernet train``; a
    relative path is read from the study file's folder). A supernet scores PSNR and SSIM on the
    validation images and trains nothing, so such a study ranks by ``psnr`` or ``ssim``, with one
    rung, one seed and no int8 scoring (docs/supernet.md)."""

    kind: str = "scratch"
    supernet: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str, relative_to: Path) -> "EvaluatorSettings":
        check_keys(d, where, optional=("kind", "supernet"))
        kind, path = d.get("kind", cls.kind), d.get("supernet")
        if kind not in EVALUATORS:
            raise ValueError(f"{where}: kind: expected one of {', '.join(EVALUATORS)}, got {kind!r}")
        if (kind == "supernet") != (path is not None) or (path is not None and (not isinstance(path, str) or not path)):
            raise ValueError(f"{where}: supernet: a supernet's state file goes with kind = \"supernet\" (and only "
                             f"with it), got kind {kind!r} and supernet {path!r}")
        return cls(kind, None if path is None else str(relative_to / path if not Path(path).is_absolute() else path))

    def check(self, quality: list[str], multi: bool, int8: bool, where: str) -> None:
        """``ValueError`` naming what a supernet-scored study asks that a supernet does not score."""
        if self.kind != "supernet":
            return
        if [q for q in quality if q not in ("psnr", "ssim")]:
            raise ValueError(f"{where}: objectives: a supernet scores psnr and ssim, not "
                             f"{[q for q in quality if q not in ('psnr', 'ssim')][0]}")
        if multi:
            raise ValueError(f"{where}: [fidelity]: a supernet scores each design once; use rungs = [1], seeds_at_top = 1")
        if int8:
            raise ValueError(f"{where}: a supernet-scored study scores no int8 graph (int8 objectives and limits)")
