"""Measure a latency table (:class:`~..model.latency_table.LatencyTable`): each part of the network timed
alone on the target runtime, all parts in turns (:func:`~.latency.round_robin`).

Parts are the real network's modules (:func:`~..model.block_types.make_block`, :class:`~..model.network.SLWSR` with
its slots emptied), run the way a shipped model is run (onnxruntime: the skeleton wrapped in
:class:`~.onnx_export.UnitRange` as a bundle's graph is, opset :data:`~.onnx_export.OPSET`), so the
table prices the graph a user deploys. Parts are exported with PyTorch's TorchScript exporter: for
these small graphs it is ten times quicker than the dynamo exporter a bundle uses, and emits the
same operators (tested). On LiteRT a part is a ``.tflite`` converted as a whole network's is
(:func:`.litert.convert_module`: NHWC in and out, the layout LiteRT computes in, so a block chain
holds no transpose and the parts add up to the network's file); int8: its static int8 file.
"""

from __future__ import annotations

import dataclasses
import io
import os
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from ..config import utc_now
from ..model.block_types import block_type
from ..model.block_types import make_block
from .latency import Workload, model_workload, round_robin, torch_workload
from ..model.latency_table import (SKELETON_SOURCES, LatencyTable, MachineIdentity, block_key, skeleton_key,
                                   split_runtime, table_path)
from ..model.network import SLWSR
from .onnx_export import INPUT, OPSET, UnitRange
from .quantize import quantize_graph
from ..model.spec import POOL_SOURCES, ArchSpec, BlockSpec

#: Copies of a block chained in one measured part. A part run alone pays a fixed cost per call
#: (the runtime's call, the input's first read) that a block inside a network does not: measured
#: here, one residual block alone took 1.0x, a chain of 4 3.85x, a chain of 26 23.4x; a chain of 4
#: leaves a quarter of that cost per block.
CHAIN = 4
#: The export format (:data:`~..model.block_types.EXPORTS`) each runtime runs a part from; torch runs the module.
RUNTIME_FORMATS: dict[str, str] = {"onnxruntime": "onnx", "litert": "litert"}


@dataclass(frozen=True)
class Part:
    """One measured part: ``copies`` chained residual-block slots (``block`` set) or the skeleton
    with ``sources`` pool sources (``block`` None), at ``n_feats``. Its entry is per copy."""

    key: str
    n_feats: int
    block: BlockSpec | None = None
    sources: int = 0
    copies: int = 1


def block_part(block: BlockSpec, n_feats: int, copies: int = CHAIN) -> Part:
    return Part(block_key(block, n_feats), n_feats, block=block, copies=copies)


def plan(n_feats: Iterable[int], blocks: Iterable[BlockSpec]) -> list[Part]:
    """The parts a table for these widths and block kinds needs: per width the skeleton at each of
    :data:`~.latency_table.SKELETON_SOURCES` and every block kind with and without its activation."""
    kinds = list(dict.fromkeys((b.type, b.expand) for b in blocks))
    parts = []
    for n in dict.fromkeys(n_feats):
        parts += [Part(skeleton_key(n, k), n, sources=k) for k in SKELETON_SOURCES]
        parts += [block_part(BlockSpec(t, e, act), n) for t, e in kinds for act in (True, False)]
    return parts


def part_module(part: Part, scale: int, lr_size: tuple[int, int]) -> tuple[nn.Module, torch.Tensor]:
    """The module a part runs and a random input for it (eval mode, seeded weights). The skeleton
    is the exported network seen from 0..1 (:class:`UnitRange`) with every slot an identity."""
    torch.manual_seed(0)
    h, w = lr_size
    if part.block is not None:
        chain = nn.Sequential(*(make_block(part.block, part.n_feats, 1.0) for _ in range(part.copies)))
        return chain.eval(), torch.rand(1, part.n_feats, h, w) * 50.0
    net = SLWSR(ArchSpec(scale=scale, n_feats=part.n_feats, pool=POOL_SOURCES[:part.sources]))
    for bunch in (*net.extractor, *net.fusion):
        bunch.blocks = nn.ModuleList(nn.Identity() for _ in bunch.blocks)
    return UnitRange(net).eval(), torch.rand(1, 3, h, w)


def export_part(module: nn.Module, x: torch.Tensor) -> bytes:
    """``module`` as an ONNX graph (bytes) at :data:`OPSET`, one input named :data:`INPUT`, static shape."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (x,), buf, dynamo=False, opset_version=OPSET, input_names=[INPUT])
    return buf.getvalue()


def model_file(module: nn.Module, x: torch.Tensor, runtime: str) -> bytes:
    """The model file (bytes) ``runtime`` runs ``module`` from at ``x``'s shape: onnxruntime its
    ONNX graph (:func:`export_part`; -int8: quantized, QDQ, ranges from ``x``), litert its
    ``.tflite`` (:func:`.litert.tflite_model`; -int8: static int8, calibrated on ``x``)."""
    base, int8 = split_runtime(runtime)
    if base == "onnxruntime":
        graph = export_part(module, x)
        return quantize_graph(graph, x.numpy()) if int8 else graph
    if base == "litert":
        from .litert import tflite_model

        return tflite_model(module, x, int8)
    raise ValueError(f"runtime {runtime}: runs modules, not model files")


def converter(runtime: str, scale: int, lr_size: tuple[int, int]) -> Callable[[Part], bytes]:
    """The call giving a part's model file for ``runtime`` (:func:`model_file` of :func:`part_module`);
    ``ValueError`` now (before any part is converted) when the runtime's converter is missing."""
    base, int8 = split_runtime(runtime)
    if base == "litert":
        from .litert import litert_or_error

        for module in ("litert_torch", "ai_edge_quantizer") if int8 else ("litert_torch",):
            litert_or_error(module)
    return lambda part: model_file(*part_module(part, scale, lr_size), runtime)


def check_exports(parts: Iterable[Part], runtime: str) -> None:
    """``ValueError`` naming the first block part whose type does not export to ``runtime``'s format
    (before any part is built: its conversion would fail half-way through a calibration)."""
    fmt = RUNTIME_FORMATS[split_runtime(runtime)[0]]
    for part in parts:
        if part.block is not None:
            block_type(part.block.type).check_export(fmt, f"part {part.key}")


def part_workload(part: Part, runtime: str, threads: int, scale: int, lr_size: tuple[int, int]) -> Workload:
    """A part on ``runtime`` as a whole network is run there (:func:`.latency.spec_workload`)."""
    module, x = part_module(part, scale, lr_size)
    if split_runtime(runtime)[0] == "torch":
        return torch_workload(module, x)
    return model_workload(model_file(module, x, runtime), runtime, x.numpy(), threads)


def calibrate(parts: Sequence[Part], runtime: str = "onnxruntime", threads: int = 1, scale: int = 4,
              lr_size: tuple[int, int] = (180, 320), passes: int = 5, repeats: int = 2, warmup: int = 1,
              on_prepare: Callable[[int, Part], None] | None = None,
              on_turn: Callable[[int, int], None] | None = None) -> LatencyTable:
    """Measure ``parts`` on ``runtime`` with ``threads`` intra-op threads and return their table.
    Each part is prepared (built and exported; ``on_prepare(i, part)``), then all are timed in
    ``passes`` turns of ``repeats`` runs after ``warmup`` (``on_turn(pass, i)``); an entry is the
    median of a part's ``passes * repeats`` times, per block copy. The caller sets PyTorch's
    thread count for the torch runtime (process-wide: the entry point's to set)."""
    if not parts:
        raise ValueError("parts: nothing to calibrate")
    identity = MachineIdentity.here(runtime, threads)
    if split_runtime(runtime)[0] != "torch":
        check_exports(parts, runtime)
        converter(runtime, scale, lr_size)  # a missing converter refused before any part is built
    load = round(os.getloadavg()[0], 2)
    start = time.monotonic()
    workloads = []
    for i, part in enumerate(parts):
        if on_prepare is not None:
            on_prepare(i, part)
        workloads.append(part_workload(part, runtime, threads, scale, lr_size))
    times = round_robin(workloads, passes, repeats, warmup, on_turn)
    entries = {p.key: statistics.median(t) / p.copies for p, t in zip(parts, times)}
    return LatencyTable(identity=identity, scale=scale, lr_size=tuple(lr_size), entries=entries, passes=passes,
                        repeats=repeats, warmup=warmup, created=utc_now(), seconds=round(time.monotonic() - start, 1),
                        load_average=load)


def table_for(parts: Sequence[Part], runtime: str = "onnxruntime", threads: int = 1, scale: int = 4,
              lr_size: tuple[int, int] = (180, 320), path: str | Path | None = None, force: bool = False,
              on_missing: Callable[[list[Part], Path], None] | None = None,
              **measure: Any) -> tuple[LatencyTable, Path, list[Part]]:
    """The table at ``path`` (default: this machine's file under :func:`~..model.latency_table.cache_dir`)
    holding every part of ``parts``: read when it has them all, else the missing parts measured
    (:func:`calibrate` with ``measure``'s settings and callbacks) and added, and the file written;
    ``on_missing(parts, path)`` hears which before they are measured. ``force`` measures every part
    afresh. A table of another machine, runtime, thread count, scale or LR size is refused
    (``ValueError`` saying which). Returns (table, its path, the parts measured now)."""
    identity = MachineIdentity.here(runtime, threads)
    p = Path(path) if path is not None else table_path(identity, scale, lr_size)
    existing = None
    if p.exists() and not force:
        existing = LatencyTable.load(p)
        existing.check(identity, scale, lr_size)
    missing = [part for part in parts if existing is None or part.key not in existing.entries]
    if not missing:
        return existing, p, []
    if on_missing is not None:
        on_missing(missing, p)
    new = calibrate(missing, runtime, threads, scale, lr_size, **measure)
    table = existing.merged(new) if existing is not None else new
    table.save(p)
    return dataclasses.replace(table, source=str(p)), p, missing
