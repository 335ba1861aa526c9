"""Latency predicted from the spec alone: a per-machine table of the network's parts, and their sum.

The table (:class:`LatencyTable`, JSON) is measured once per machine, runtime, thread count, scale
and LR size by :func:`slwsr_search.deploy.calibrate.calibrate` and read here without torch, so a
study prices a spec's latency as it prices its parameters (:func:`predict_latency`, microseconds).

Decomposition (what a prediction sums)::

    latency(spec) = skeleton(n_feats, pool sources) + sum over the 26 slots of block(slot's block, n_feats)

* ``skeleton:n<N>:k<K>``: the whole exported network (input scaling, mean shift, head, the pool's
  concat and 1x1 conv over K sources, the four fusion concats, skip mixes and 1x1 convs, the global
  residual, the upsampler, the tail, the output clamp) with every residual-block slot an identity.
  Measured at K = 1 and K = 15 (every source); other K are interpolated linearly, as the pool's
  concat and conv grow linearly with K.
* ``block:<choice>:n<N>:<act|noact>``: one residual-block slot alone (its residual add included),
  ``<choice>`` ``res`` or ``ir<t>``, e.g. ``block:ir6:n16:noact``.

* blocks are measured as a chain of :data:`~.calibrate.CHAIN` copies, per copy: a part run alone
  pays a fixed cost per call that a block inside a network does not.

Each entry is the median over turns spread across the calibration (:func:`.latency.round_robin`):
on a shared CPU whose speed drifts in spells, every part then sees the same mix of spells.
What it does not cover: ``res_scale`` other than 1 (a multiply per block, unpriced), scales and LR
sizes other than the table's (refused), batches above 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config import LITERT_INSTALL
from ..machine import cpu_model
from .spec import EXTRACTOR_SLOTS, N_SLOTS, POOL_SOURCES, ArchSpec, BlockSpec

#: The runtimes a latency is measured on: onnxruntime on the fp32 graph, onnxruntime on its int8
#: (QDQ) graph, PyTorch eager, LiteRT (ai-edge-litert's interpreter, XNNPACK delegate) on the fp32
#: ``.tflite`` and on its static int8 one. ``-int8``: the int8 model of the runtime before it.
RUNTIMES: tuple[str, ...] = ("onnxruntime", "onnxruntime-int8", "torch", "litert", "litert-int8")
#: The distribution whose version names each runtime's tables (a base runtime and its ``-int8``).
RUNTIME_PACKAGES: dict[str, str] = {"onnxruntime": "onnxruntime", "torch": "torch", "litert": "ai-edge-litert"}
#: The table file's format tag.
TABLE_FORMAT = "slwsr-search/latency-table-1"
#: The pool source counts the skeleton is measured at (others interpolated between them).
SKELETON_SOURCES: tuple[int, int] = (1, len(POOL_SOURCES))


@dataclass(frozen=True)
class MachineIdentity:
    """Where a latency was measured: ``cpu`` model, ``cores`` (logical), ``runtime`` and its
    ``version``, intra-op ``threads``. Two figures compare only under one identity."""

    cpu: str
    cores: int
    runtime: str
    version: str
    threads: int

    @classmethod
    def here(cls, runtime: str, threads: int) -> "MachineIdentity":
        base, _ = split_runtime(runtime)
        if base == "onnxruntime":
            import onnxruntime

            version = onnxruntime.__version__
        elif base == "torch":
            import torch

            version = torch.__version__
        else:
            from importlib.metadata import PackageNotFoundError
            from importlib.metadata import version as package_version

            try:
                version = package_version(RUNTIME_PACKAGES[base])
            except PackageNotFoundError:
                raise ValueError(f"runtime {runtime}: needs {RUNTIME_PACKAGES[base]}: {LITERT_INSTALL}") from None
        return cls(cpu_model(), os.cpu_count() or 1, runtime, version, threads)

    def describe(self) -> str:
        return f"{self.cpu}, {self.cores} cores, {self.runtime} {self.version}, {self.threads} thread(s)"


def split_runtime(runtime: str) -> tuple[str, bool]:
    """(the base runtime, int8?) of one of :data:`RUNTIMES` (``litert-int8`` -> ``("litert", True)``);
    ``ValueError`` naming the runtimes for another name."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
    base = runtime.removesuffix("-int8")
    return base, base != runtime


def block_key(block: BlockSpec, n_feats: int) -> str:
    """The table key of one residual-block slot, e.g. ``block:ir6:n16:noact``."""
    return f"block:{block.kind}:n{n_feats}:{'act' if block.act else 'noact'}"


def skeleton_key(n_feats: int, sources: int) -> str:
    """The table key of the network without its blocks, with ``sources`` pool sources."""
    return f"skeleton:n{n_feats}:k{sources}"


def spec_keys(spec: ArchSpec) -> list[str]:
    """Every table key a prediction of ``spec`` reads (the skeleton at both measured source counts)."""
    keys = [skeleton_key(spec.n_feats, k) for k in SKELETON_SOURCES]
    keys += [block_key(b, spec.n_feats) for b in spec.blocks]
    return list(dict.fromkeys(keys))


def table_path(identity: MachineIdentity, scale: int, lr_size: tuple[int, int], folder: str | Path | None = None) -> Path:
    """Where the table of one identity, scale and LR size lives: ``folder`` (default
    :func:`cache_dir`) / ``<runtime>-<version>-t<threads>-x<scale>-<W>x<H>-<cpu hash>.json``."""
    cpu = hashlib.sha256(f"{identity.cpu}|{identity.cores}".encode()).hexdigest()[:8]
    h, w = lr_size
    name = f"{identity.runtime}-{identity.version}-t{identity.threads}-x{scale}-{w}x{h}-{cpu}.json"
    return Path(folder if folder is not None else cache_dir()) / name.replace("+", "_")


def cache_dir() -> Path:
    """The latency tables' folder: ``$SLWSR_CACHE_DIR/latency``, else ``$XDG_CACHE_HOME`` (default
    ``~/.cache``) ``/slwsr-search/latency``."""
    if os.environ.get("SLWSR_CACHE_DIR"):
        return Path(os.environ["SLWSR_CACHE_DIR"]) / "latency"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "slwsr-search" / "latency"


def calibrate_hint(identity: MachineIdentity, scale: int, lr_size: tuple[int, int]) -> str:
    """The command that calibrates a table for ``identity`` (said in every refusal)."""
    h, w = lr_size
    return (f"python -m slwsr_search.latency calibrate --runtime {identity.runtime} --threads {identity.threads} "
            f"--scale {scale} --lr-size {w}x{h}")


@dataclass(frozen=True)
class LatencyTable:
    """Time per part of the network on one machine identity (see the module doc).

    ``entries``: key -> the part's median time per image in milliseconds; ``scale`` and ``lr_size``
    (height, width) the image; ``passes`` turns per part of ``repeats`` measured runs after
    ``warmup``; ``created`` (UTC, ISO 8601) and ``seconds`` the calibration's, ``load_average``
    the load average before it.
    """

    identity: MachineIdentity
    scale: int
    lr_size: tuple[int, int]
    entries: Mapping[str, float]
    passes: int
    repeats: int
    warmup: int
    created: str = ""
    seconds: float = 0.0
    load_average: float | None = None
    source: str = field(default="", compare=False)  # the file it was read from, for messages

    @property
    def widths(self) -> tuple[int, ...]:
        """The widths (n_feats) whose skeleton the table holds, ascending."""
        return tuple(sorted({int(k.split(":")[1][1:]) for k in self.entries if k.startswith("skeleton:")}))

    def ms(self, key: str) -> float:
        """One part's time in milliseconds; ``ValueError`` naming the part and how to add it."""
        try:
            return self.entries[key]
        except KeyError:
            raise ValueError(self._missing(key)) from None

    def _missing(self, key: str) -> str:
        fields = key.split(":")
        n = next((f[1:] for f in fields if f.startswith("n") and f[1:].isdigit()), "?")
        flags = f"--n-feats {n}" + (f" --blocks {fields[1]}" if fields[0] == "block" else "")
        where = f" {self.source}" if self.source else ""
        return (f"latency table{where} has no entry {key!r}; add it with "
                f"`{calibrate_hint(self.identity, self.scale, self.lr_size)} {flags}`")

    def check(self, identity: MachineIdentity, scale: int | None = None, lr_size: tuple[int, int] | None = None) -> None:
        """``ValueError`` when this table was measured under another identity, scale or LR size,
        naming each difference and the command that calibrates one here."""
        diffs = [f"{f.name} {getattr(self.identity, f.name)!r} (here {getattr(identity, f.name)!r})"
                 for f in dataclasses.fields(MachineIdentity) if getattr(self.identity, f.name) != getattr(identity, f.name)]
        if scale is not None and scale != self.scale:
            diffs.append(f"scale x{self.scale} (here x{scale})")
        if lr_size is not None and tuple(lr_size) != tuple(self.lr_size):
            diffs.append(f"LR size {_wxh(self.lr_size)} (here {_wxh(lr_size)})")
        if diffs:
            where = f" {self.source}" if self.source else ""
            raise ValueError(f"latency table{where} was calibrated for another setting: {'; '.join(diffs)}. "
                             f"Calibrate one here: `{calibrate_hint(identity, scale or self.scale, lr_size or self.lr_size)}`")

    def merged(self, other: "LatencyTable") -> "LatencyTable":
        """This table with ``other``'s entries added (same identity, scale and size, else
        ``ValueError``): how a table grows to new widths or block kinds."""
        other.check(self.identity, self.scale, self.lr_size)
        return dataclasses.replace(self, entries={**self.entries, **other.entries},
                                   seconds=round(self.seconds + other.seconds, 1))

    def to_dict(self) -> dict[str, Any]:
        return {"format": TABLE_FORMAT, "identity": dataclasses.asdict(self.identity), "scale": self.scale,
                "lr_size": list(self.lr_size), "passes": self.passes, "repeats": self.repeats, "warmup": self.warmup,
                "created": self.created, "seconds": self.seconds, "load_average": self.load_average,
                "entries": {k: round(v, 4) for k, v in sorted(self.entries.items())}}

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON (atomically: written beside ``path``, then renamed)."""
        from ..config import write_atomic

        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, lambda tmp: Path(tmp).write_text(json.dumps(self.to_dict(), indent=1) + "\n"))
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str = "latency table") -> "LatencyTable":
        if not isinstance(d, dict) or d.get("format") != TABLE_FORMAT:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"{where}: not a latency table (format {got!r}, expected {TABLE_FORMAT!r})")
        try:
            ident = MachineIdentity(**d["identity"])
            entries = {str(k): float(v) for k, v in d["entries"].items()}
            table = cls(identity=ident, scale=int(d["scale"]), lr_size=tuple(int(v) for v in d["lr_size"]),
                        entries=entries, passes=int(d["passes"]), repeats=int(d["repeats"]), warmup=int(d["warmup"]),
                        created=str(d.get("created", "")), seconds=float(d.get("seconds", 0)),
                        load_average=d.get("load_average"),
                        source=where)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{where}: malformed latency table ({type(e).__name__}: {e})") from None
        bad = [k for k, v in entries.items() if not v > 0]
        if bad:
            raise ValueError(f"{where}: entries.{bad[0]}: expected a time > 0 ms, got {entries[bad[0]]!r}")
        return table

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ValueError(f"{p}: no such latency table") from None
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{p}: unreadable latency table ({e})") from None
        return cls.from_dict(data, str(p))


def _wxh(size: Iterable[int]) -> str:
    h, w = size
    return f"{w}x{h}"


@dataclass(frozen=True)
class LatencyPrediction:
    """A predicted time per image, in milliseconds: ``ms`` in all, and ``parts`` as
    ``(part, ms)`` for the skeleton, the extractor's 14 blocks and the fusion's 12."""

    ms: float
    parts: tuple[tuple[str, float], ...]


def predict_latency(spec: ArchSpec, table: LatencyTable) -> LatencyPrediction:
    """``spec``'s time per image on ``table``'s machine (see the module doc); microseconds.
    ``ValueError`` for another scale, or a part the table lacks (saying how to add it)."""
    if spec.scale != table.scale:
        raise ValueError(f"spec: scale x{spec.scale}, but the latency table is for x{table.scale}")
    n = spec.n_feats
    lo, hi = SKELETON_SOURCES
    a, b = table.ms(skeleton_key(n, lo)), table.ms(skeleton_key(n, hi))
    skeleton = a + (b - a) * (len(spec.pool) - lo) / (hi - lo)
    blocks = [table.ms(block_key(blk, n)) for blk in spec.blocks]
    n_ext = len(EXTRACTOR_SLOTS)
    parts = (("skeleton", skeleton), ("extractor", sum(blocks[:n_ext])), ("fusion", sum(blocks[n_ext:N_SLOTS])))
    return LatencyPrediction(sum(p[1] for p in parts), parts)
