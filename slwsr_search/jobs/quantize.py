"""The int8 and fp16 graphs of trained networks, as one call per network, :func:`quantize_model`:
its fp32 graph (reused only when exported from these very weights), the int8 graph calibrated on
patches of its training data (or other images), the fp16 graph and, asked for, the LiteRT files;
every file checked against the network on a real picture (the parity gate: a file that fails moves
to ``BUNDLE.rejected/`` and is not scored), then scored on bench sets and timed, as table rows
(:func:`rows_csv` writes them). ``say`` hears one line per step."""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..model.cost import count_cost
from ..sr.table import Bench
from ..sr.tiles import check_window, receptive_radius
from ..deploy.bundle import ONNX, trained_network, weights_hash
from ..deploy.int8_settings import METHODS, Int8Settings
from ..deploy.latency import lr_size_for
from ..deploy.onnx_export import export_onnx
from ..deploy.parity import parity_picture
from ..deploy.quantize import graph_metadata, patches_from
from ..deploy.release_files import Say, gate
from ..deploy.variants import Variant, litert_variants, method_variants, score_variants, time_variants, write_variants


@dataclass(frozen=True)
class QuantizeOptions:
    """What to make and measure: ``settings`` (the int8 calibration), ``calib_dirs`` (its images;
    empty: the model's training data), ``compare`` (also score every calibration method),
    ``time`` (time each graph), ``litert`` (also the LiteRT files, at ``tflite_size``; None: the
    cost convention's LR size) and ``threads`` (onnxruntime's while scoring)."""

    settings: Int8Settings = Int8Settings()
    calib_dirs: tuple[str, ...] = ()
    compare: bool = False
    time: bool = False
    litert: bool = False
    tflite_size: tuple[int, int] | None = None
    threads: int = 1


@dataclass
class Quantized:
    """One model's table ``rows`` (none unless scored or timed) and the ``failed`` files (their paths)."""

    rows: list[dict] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def out_folders(models: list[str], out: str | None) -> dict[str, Path | None]:
    """Where each model's graphs go: its bundle (None: decided by the model), ``out`` for one model,
    ``out/NAME`` for several (NAME: the folder's name, its parent's for a ``bundle`` folder);
    ``ValueError`` when two models would share a folder."""
    if out is None:
        return {m: None for m in models}
    if len(models) == 1:
        return {models[0]: Path(out)}
    named = {m: Path(out) / (Path(m).parent.name if Path(m).name == "bundle" else Path(m).name) for m in models}
    seen: dict[Path, str] = {}
    for m, f in named.items():
        if f in seen:
            raise ValueError(f"--out {out}: {seen[f]} and {m} would both write into {f}; quantize them one at a time")
        seen[f] = m
    return named


def _calibration(dirs: list[str], model_dir: Path, scale: int, settings: Int8Settings, given: bool) -> np.ndarray:
    if not dirs:
        raise ValueError(f"{model_dir}: records no training data; name the calibration images with --calib-dir")
    for d in dirs:
        if not d.startswith("builtin:") and not Path(d).exists():
            hint = "" if given else f" (the training data {model_dir} records; give --calib-dir)"
            raise ValueError(f"{d}: calibration folder not found{hint}")
    return patches_from(dirs, scale, settings)


def _fp32_graph(model, out: Path) -> Path:
    """``out``'s model.onnx when it was exported from this network (its spec and weights hashes,
    :func:`..deploy.onnx_export.onnx_metadata`), else exported afresh: a graph of another training
    or seed of the same design has the spec hash but not the weights, and one written before the
    weights hash was recorded cannot say."""
    path = out / ONNX
    if path.is_file():
        meta = graph_metadata(path)
        if meta.get("spec_hash") == model.spec.hash and meta.get("weights_hash") == weights_hash(model):
            return path
    return export_onnx(model, path)


def _written(folder: Path, model, out: Path, patches: np.ndarray, options: QuantizeOptions, benches: list, say: Say,
             failed: list[str]) -> tuple[Path, list[Variant]]:
    """Write one model's graphs (and LiteRT files) into ``out`` and gate them (a file that is not
    the network leaves the folder and is not scored; its path goes to ``failed``): ``(fp32 graph,
    the variants that passed)``."""
    scale, settings = model.spec.scale, options.settings
    lr = options.tflite_size or lr_size_for(scale)
    if options.litert:
        check_window(lr, receptive_radius(model, scale), "--tflite-size")
    fp32 = _fp32_graph(model, out)
    written = write_variants(fp32, out, patches, settings)
    if options.litert:
        written += litert_variants(model, out, lr, patches, settings)
    say(f"{folder}: wrote {', '.join(str(v.path) for v in written[1:])} ({settings.method}, {len(patches)} patches)")
    # the gate's picture: the first bench picture, else a mosaic of the calibration patches
    passed, _ = gate(out, model, written, parity_picture(benches, (), patches, lr_size_for(scale)),
                     lambda line: say(f"{folder}: {line}"))
    failed.extend(str(v.path) for v in written if v not in passed)
    return fp32, passed


def _rows(folder: Path, model, variants: list, benches: list, scores: dict, times: dict) -> list[dict]:
    """The table's rows of one model: each graph's scores with its loss against fp32, and times."""
    params, rows = count_cost(model.spec).params, []
    for v in variants:
        row = {"model": str(folder), "params": params, "graph": v.label, "precision": v.precision, "method": v.method,
               "ms": times.get(v.label), "speed": times["fp32"] / times[v.label] if times.get(v.label) else None}
        for b in benches:
            p, s = scores[v.label][b.name]
            row[b.name] = (p, s, p - scores["fp32"][b.name][0])
        rows.append(row)
    return rows


def quantize_model(folder: str | Path, options: QuantizeOptions, benches_for: Callable[[int], Sequence[Bench]],
                   out: str | Path | None = None, say: Say = lambda line: None) -> Quantized:
    """Write, gate, score and time the graphs of the trained network in ``folder`` (a bundle or a
    finalize run folder) into ``out`` (None: its bundle); ``benches_for(scale)``: the bench sets
    to score on (none: not scored). Its table rows, and the files that failed the parity gate."""
    folder = Path(folder)
    model, train, bundle = trained_network(folder)
    out = Path(out) if out is not None else bundle
    if out is None:
        raise ValueError(f"{folder}: a run folder without a bundle; say where the graphs go with --out")
    scale, done = model.spec.scale, Quantized()
    patches = _calibration(list(options.calib_dirs) or train, folder, scale, options.settings, bool(options.calib_dirs))
    out.mkdir(parents=True, exist_ok=True)
    benches = list(benches_for(scale))
    fp32, variants = _written(folder, model, out, patches, options, benches, say, done.failed)
    if not benches and not options.time:
        return done
    scores, times = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        if benches:
            if options.compare:
                variants += method_variants(fp32, tmp, patches, list(METHODS), options.settings)
            # margin: the windows' context when a fixed-size file is scored
            scores = score_variants(variants, benches, scale, options.threads, margin=receptive_radius(model, scale),
                                    on_variant=lambda v: say(f"{folder}: scoring {v.label}"))
        if options.time:
            lr = lr_size_for(scale)
            say(f"{folder}: timing {len(variants)} graphs ({lr[1]}x{lr[0]} LR, 1 thread, in turns)")
            times = time_variants(variants, lr, passes=5)
    done.rows = _rows(folder, model, variants, benches, scores, times)
    return done


def rows_csv(rows: list[dict], sets: list[str]) -> str:
    """The rows as CSV: one line per model, graph and set (per model and graph when only timed)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "params", "graph", "precision", "method", "set", "psnr", "ssim", "loss_db", "ms", "speed_x_fp32"])
    for r in rows:
        timing = ["" if r["ms"] is None else f"{r['ms']:.2f}", "" if r["speed"] is None else f"{r['speed']:.3f}"]
        for s in sets:
            w.writerow([r["model"], r["params"], r["graph"], r["precision"], r["method"] or "", s,
                        f"{r[s][0]:.4f}", f"{r[s][1]:.5f}", f"{r[s][2]:.4f}", *timing])
        if not sets:  # timed only: one line per graph, its scores empty
            w.writerow([r["model"], r["params"], r["graph"], r["precision"], r["method"] or "", "", "", "", "",
                        *timing])
    return buf.getvalue()
