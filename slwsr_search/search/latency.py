"""Latency in a study: the table a study prices with, and the measured time of its Pareto points.

A study that uses latency (a ``latency`` objective or ``max_latency_ms``) prices every spec from a
table (:mod:`~slwsr_search.model.latency_table`): this machine's, calibrated on first use for the
study's search space, or the file its ``[latency] table`` names (made on a phone, say). Its Pareto
points are timed after a run only under this machine's own table (:func:`made_here`): a time measured
here cannot check a phone's prediction. Each time is stored with the identity of the table it was
measured under, and kept or shown under that table only (:meth:`.record.StudyRecord.measured_under`).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Callable, Sequence

import optuna

from ..deploy.calibrate import Part, plan, table_for
from ..deploy.latency import lr_size_for, round_robin, spec_workload
from ..model.latency_table import LatencyTable, MachineIdentity
from ..model.spec import ArchSpec, BlockSpec
from .record import StudyRecord
from .space import SearchSpace, parse_block_choice
from .study import StudyConfig


def space_blocks(space: SearchSpace, choices: Sequence[str] | None = None, where: str = "blocks.choices") -> list[BlockSpec]:
    """The block kinds a table for ``space`` covers: ``res`` (every slot not searched) and the
    space's choices, or ``choices`` (``res``, ``ir<t>``) when given."""
    return [parse_block_choice(c, where) for c in (choices or dict.fromkeys(("res", *space.block_choices)))]


def space_parts(space: SearchSpace) -> list[Part]:
    """Every table part a spec of ``space`` can need: its widths, ``res`` and its block kinds."""
    return plan(space.n_feats, space_blocks(space))


def study_table(cfg: StudyConfig, on_calibrate: Callable[[list[Part], Path], None] | None = None,
                **measure) -> LatencyTable:
    """The latency table ``cfg`` prices with. With ``[latency] table = FILE``: that file, refused
    when its runtime, threads, scale or size differ from the study's, or when it lacks a part the
    space needs (its CPU may be another machine's: that is what such a file is for). Otherwise this
    machine's table, with the parts it lacks measured first (``on_calibrate(parts, path)`` hears
    it before; ``measure``: :func:`~..deploy.calibrate.calibrate`'s settings)."""
    s = cfg.latency
    scale = cfg.space.scale
    lr_size = lr_size_for(scale)
    parts = space_parts(cfg.space)
    if s.table is not None:
        table = LatencyTable.load(s.table)
        ident = MachineIdentity(table.identity.cpu, table.identity.cores, s.runtime, table.identity.version, s.threads)
        table.check(ident, scale, lr_size)
        for part in parts:
            table.ms(part.key)  # ValueError naming the first missing part
        return table
    table, _, _ = table_for(parts, s.runtime, s.threads, scale, lr_size, on_missing=on_calibrate, **measure)
    return table


def table_record(table: LatencyTable) -> dict:
    """What a study remembers of the table it prices with."""
    return {"identity": table.identity.__dict__, "file": table.source, "created": table.created,
            "lr_size": list(table.lr_size)}


def host_identity(table: LatencyTable) -> MachineIdentity | None:
    """This machine's identity under ``table``'s runtime and threads (None where that runtime is
    not installed here)."""
    try:
        return MachineIdentity.here(table.identity.runtime, table.identity.threads)
    except ValueError:
        return None


def made_here(table: LatencyTable) -> bool:
    """Whether ``table`` was made on this machine (CPU, cores, runtime and its version, threads):
    only then can a time measured here check its predictions. A table named with ``[latency]
    table = FILE`` from a phone is not, whatever this machine's times are."""
    return host_identity(table) == table.identity


def measure_front(study: optuna.Study, specs: dict[int, ArchSpec], table: LatencyTable, passes: int = 3,
                  on_start: Callable[[int], None] | None = None,
                  on_turn: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """Measure the time per image of those of ``specs`` (trial number -> spec; e.g. the Pareto
    points) the study has not measured yet under this table, on the table's runtime and threads, in
    turns, and store it in the study with the table's identity (``StudyRecord.measured_latency``,
    which the report pairs with the predictions of that same table only); ``on_start(n)`` hears how
    many before. Times the study holds from another table (the study resumed on another machine,
    with that machine's own table) or from an unknown one are no check of this table's predictions:
    every point is measured afresh and they are replaced. Returns every measured time the study
    holds under this table, by trial number. ``ValueError`` for a table made elsewhere
    (:func:`made_here`): this machine's time, stored there, would read as the other machine's."""
    if not made_here(table):
        where = f" {table.source}" if table.source else ""
        raise ValueError(f"latency table{where}: made on {table.identity.describe()}, not on this machine: "
                         "a time measured here cannot check its predictions")
    ident = table.identity
    known = StudyRecord.of(study).measured_under(ident)
    todo = {n: s for n, s in specs.items() if str(n) not in known}
    if todo:
        if on_start is not None:
            on_start(len(todo))
        workloads = [spec_workload(s, ident.runtime, tuple(table.lr_size), ident.threads) for s in todo.values()]
        times = round_robin(workloads, passes, 2, 1, on_turn)
        known.update({str(n): round(statistics.median(t), 2) for n, t in zip(todo, times)})
        StudyRecord(measured_latency=StudyRecord.measured_record(ident, known)).write(study)
    return known
