"""``slwsr bench latency --validate N``: a latency table's predictions against measured whole
networks, printed (and written with ``--out``); the work is :mod:`..benchmarks.latency`'s."""

from __future__ import annotations

import json
import os
import sys

from ..model.latency_table import LatencyTable, MachineIdentity
from .common import fmt_size


def _print_validation(rows, summary: dict) -> None:
    """The validation's table: each spec's prediction against its measurement, then each subset's figures."""
    print(f"{'spec':<14} {'n':>3} {'ir':>3} {'params':>9} {'Multi-Adds':>10} {'predicted':>10} {'measured':>10} {'error':>7}")
    for r in rows:
        print(f"{r.label:<14} {r.n_feats:>3} {r.n_ir:>3} {r.params:>9,} {r.macs / 1e9:>8.2f} G {r.predicted_ms:>7.1f} ms "
              f"{r.measured_ms:>7.1f} ms {100 * r.error:>+6.1f}%")
    print(f"\n{'subset':<9} {'specs':>5} {'rho pred':>8} {'MdAPE':>6} {'<=10%':>6} {'mean err':>8} {'rho MACs':>8} {'rho params':>10}")
    for name, f in summary.items():
        print(f"{name:<9} {f['specs']:>5} {f['rho_predicted']:>8.3f} {100 * f['mdape']:>5.1f}% {100 * f['within_10pct']:>5.0f}% "
              f"{100 * f['mean_error']:>+7.1f}% {f['rho_macs']:>8.3f} {f['rho_params']:>10.3f}")


def _validation_table(args, runtime, space, lr_size):
    """The table ``--table`` names (checked against this machine), else this machine's, calibrated first."""
    from ..deploy.calibrate import table_for
    from ..search.latency import space_parts

    if args.table:
        table = LatencyTable.load(args.table)
        table.check(MachineIdentity.here(runtime, args.threads), space.scale, lr_size)
    else:  # this machine's table, calibrated first for the space where it lacks parts
        parts = space_parts(space)
        print(f"latency table: calibrating any of {len(parts)} parts it lacks (space {space.name!r})", flush=True)
        table, path, measured = table_for(parts, runtime, args.threads, space.scale, lr_size)
        print(f"latency table: {path} ({len(measured)} parts measured now)", flush=True)
    return table


def _validation_specs(args, table, lr_size, load):
    """The specs to validate, each checked to be predictable from the table, announced."""
    from ..benchmarks.latency import validation_specs
    from ..model.latency_table import spec_keys

    specs = validation_specs(args.validate, table.widths, args.seed, args.space)
    for label, spec in specs:  # every part a prediction reads: refuse before measuring anything
        for key in spec_keys(spec):
            table.ms(key)
    print(f"{len(specs)} specs ({len(specs) - args.validate} presets + {args.validate} drawn from "
          f"{args.space!r}, seed {args.seed}); {table.identity.describe()}; LR {fmt_size(lr_size)}; load average "
          f"{load:.2f}", flush=True)
    return specs


def _validation_rows(args, specs, table):
    """Each spec's predicted and measured latency, with progress bars."""
    from tqdm import tqdm

    from ..benchmarks.latency import validate

    prep = tqdm(total=len(specs), desc="exporting", unit="spec", file=sys.stderr, disable=None, leave=False)
    turns = tqdm(total=len(specs) * args.passes, desc="timing", unit="turn", file=sys.stderr, disable=None, leave=False)
    try:
        return validate(specs, table, args.passes, args.repeats or 2, 1,
                        on_prepare=lambda i, label: prep.update(1), on_turn=lambda k, i: turns.update(1))
    finally:
        prep.close()
        turns.close()


def _write_validation(args, rows, table, lr_size, load, load_after, minutes, summary) -> None:
    """``--out``: the rows as CSV, the run as JSON and the scatter as HTML."""
    from pathlib import Path

    from ..benchmarks.latency import rows_frame, scatter_html

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows_frame(rows).to_csv(f"{out}.csv", index=False)
    Path(f"{out}.json").write_text(json.dumps({
        "identity": table.identity.__dict__, "lr_size": fmt_size(lr_size), "table": table.to_dict(),
        "specs": len(rows), "passes": args.passes, "seed": args.seed, "space": args.space,
        "load_before": load, "load_after": load_after, "minutes": round(minutes, 1), "summary": summary}, indent=1))
    Path(f"{out}.html").write_text(scatter_html(rows, f"Latency predicted from the table against measured: "
                                                      f"{len(rows)} specs, {table.identity.describe()}"))
    print(f"wrote {out}.csv, {out}.json, {out}.html")


def validate_table(args) -> int:
    """``slwsr bench latency --validate N``: the table's predictions against measured specs, printed
    (and written with ``--out``); see :mod:`slwsr_search.benchmarks.latency`."""
    import time

    import torch

    from ..benchmarks.latency import summarise
    from ..deploy.latency import lr_size_for
    from ..search.space import SearchSpace

    runtime = (args.runtime or ["onnxruntime"])[0]
    torch.set_num_threads(args.threads)
    space = SearchSpace.load(args.space)
    lr_size = args.lr_size or lr_size_for(space.scale)
    load = os.getloadavg()[0]
    start = time.monotonic()
    table = _validation_table(args, runtime, space, lr_size)
    specs = _validation_specs(args, table, lr_size, load)
    rows = _validation_rows(args, specs, table)
    summary = summarise(rows)
    load_after = os.getloadavg()[0]
    _print_validation(rows, summary)
    minutes = (time.monotonic() - start) / 60
    print(f"\n{minutes:.1f} min; load average {load:.2f} before, {load_after:.2f} after")
    if args.out:
        _write_validation(args, rows, table, lr_size, load, load_after, minutes, summary)
    return 0
