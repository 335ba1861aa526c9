"""A release as one call, :func:`build_release`: a finished long training
(:func:`..training.finalize.finalize_training`) to the bundle a user ships. The network as the
bundle saves it (:func:`.release.write_network`), every file made from it (the int8 and fp16
graphs, LiteRT and Core ML where their extras are installed) and checked against it on a real
picture (the parity gate: a file that fails moves to ``BUNDLE.rejected/``), the files scored on the
bench sets and timed, the literature's table (``OUT/table.md``, ``table.csv``), the progress chart
(``OUT/progress.html``) and the model card. ``say`` hears one line per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..model.cost import count_cost
from ..sr.data import ImagePair
from ..sr.table import Bench, LiteratureTable, literature_table, table_csv, table_markdown
from ..training.finalize import FinalizeConfig, FinalizeResult, count_resumes, read_progress
from .bundle import ONNX_INT8
from .int8_settings import Int8Settings
from .release import FileFacts, TrainingFacts, choose_weights, progress_chart_html
from .release_files import Say

#: The card's first line of how to reproduce a release: the install its command needs.
INSTALL = "pip install torch==2.13.0 -e '.[dev]'   # in a checkout of slwsr-search"


@dataclass(frozen=True)
class ReleaseOptions:
    """How a release is made: ``int8`` (the int8 graph's calibration), ``calib_dirs`` (its images;
    empty: the training data), ``tflite_size`` (the LiteRT files' fixed LR size, height x width;
    None: the cost convention's), ``self_ensemble`` (the table's x8 rows), ``ship`` (which weights
    the bundle holds: :data:`.release.SHIP_CHOICES`) and ``command`` (the card's command that
    reproduces the release; empty: none)."""

    int8: Int8Settings = Int8Settings()
    calib_dirs: tuple[str, ...] = ()
    tflite_size: tuple[int, int] | None = None
    self_ensemble: bool = True
    ship: str = "best"
    command: str = ""


@dataclass(frozen=True)
class Release:
    """A release written: its ``bundle`` folder, what its card says of the training (``facts``),
    the literature's table (None without bench sets) and the ``failed`` files (moved out of the
    bundle by the parity gate)."""

    bundle: Path
    facts: TrainingFacts
    table: LiteratureTable | None
    failed: list[str]


#: The int8 graph's calibration: its settings and LR patches (what :func:`.release_files.litert_files` takes).
Calibration = tuple[Int8Settings, np.ndarray]


def release_calibration(options: ReleaseOptions, scale: int, train: Sequence[ImagePair]) -> Calibration:
    """The int8 graph's calibration patches, from ``options.calib_dirs`` or else the ``train``
    pairs; drawn before the training, so that images too small for a patch fail at once, not after it."""
    from .quantize import patches_for, patches_from

    if options.calib_dirs:
        return options.int8, patches_from(list(options.calib_dirs), scale, options.int8)
    return options.int8, patches_for(train, options.int8)


def _graphs(bundle: Path, onnx: Path, calib: Calibration, options: ReleaseOptions, say: Say) -> list:
    """Write the int8 graph (calibrated on ``calib``) and the fp16 graph."""
    from .variants import write_variants

    settings, patches = calib
    say(f"int8: {settings.method} calibration on {settings.patches} LR patches of "
        f"{' + '.join(options.calib_dirs) if options.calib_dirs else 'the training data'}; fp16")
    return write_variants(onnx, bundle, patches, settings)


def _facts(res: FinalizeResult, out: Path, ship: str) -> tuple[TrainingFacts, object]:
    """What the card says of the training, and the module the bundle ships (raw or EMA weights)."""
    import torch

    tr, row = res.training, res.last_row or {}
    use_ema = choose_weights(ship, row, tr.ema is not None) == "ema"
    facts = TrainingFacts("ema" if use_ema else "raw", res.steps_done, res.train_s, str(tr.dev), torch.get_num_threads(),
                          count_resumes(out), row.get("ema_psnr" if use_ema else "psnr") or math.nan,
                          row.get("ema_ssim" if use_ema else "ssim") or math.nan)
    return facts, tr.ema_model() if use_ema else tr.model.eval()


def _made(bundle: Path, onnx: Path, options: ReleaseOptions, calib: Calibration, picture: tuple,
          lr: tuple[int, int], say: Say):
    """Every file made from the network as the bundle saved it (CPU, fp32, contiguous) and gated
    against it: ``(network, passed variants, passed Core ML ones, card cells, failed file names)``."""
    from .bundle import load_bundle
    from .release_files import coreml_files, gate, litert_files

    model = load_bundle(bundle)
    made = _graphs(bundle, onnx, calib, options, say) + litert_files(bundle, model, calib, options.tflite_size or lr, say)
    made += coreml_files(bundle, model, say)
    passed, parity = gate(bundle, model, made, picture, say)
    failed = [v.path.name for v in made if v not in passed]
    return (model, [v for v in passed if v.label != "coreml"], [v for v in passed if v.label == "coreml"], parity,
            failed)


def _bench_table(name: str, res: FinalizeResult, out: Path, benches: Sequence[Bench], self_ensemble: bool, note: str,
                 rows: list) -> LiteratureTable | None:
    """The literature's table of the trained weights (and their moving average) with the files'
    ``rows``, written as OUT/table.md and table.csv; None without bench sets."""
    if not benches:
        return None
    tr, params = res.training, count_cost(res.training.spec).params
    models = [(name, tr.model.eval(), params)]
    if tr.ema is not None:
        models.append((name + " EMA", tr.ema_model(), params))
    table = literature_table(models, benches, tr.spec.scale, self_ensemble=self_ensemble, device=str(tr.dev),
                             note=note, more=rows)
    (out / "table.md").write_text(table_markdown(table))
    (out / "table.csv").write_text(table_csv(table))
    return table


def _file_facts(variants: list, coreml: list, scores: dict, times: dict, parity: dict, options: ReleaseOptions,
                lr: tuple[int, int]) -> list[FileFacts]:
    """The card's rows of model files."""
    from .variants import litert_what

    method = options.int8.method
    what = {"fp32": "fp32 ONNX", "int8": f"int8 ONNX ({method} calibration)", "fp16": "fp16 ONNX",
            **litert_what(options.tflite_size or lr, method)}
    files = [FileFacts(v.path.name, what[v.label], scores.get(v.label, {}), times[v.label], parity[v.label])
             for v in variants]
    return files + [FileFacts(v.path.name, "Core ML ML program, fp16 (iOS 16 / macOS 13+; runs on Apple systems only: "
                              "not scored here)", {}, None, parity[v.label]) for v in coreml]


def build_release(name: str, config: FinalizeConfig, res: FinalizeResult, out: str | Path, benches: Sequence[Bench],
                  calib: Calibration, val: Sequence[ImagePair], options: ReleaseOptions = ReleaseOptions(),
                  say: Say = lambda line: None) -> Release:
    """Write the release of ``res`` (an ``ok`` training of ``config`` in the run folder ``out``) as
    ``out/bundle``: the network and every file made from it, each checked against the network on
    the first bench picture (else the first of ``val``) by the parity gate, scored on ``benches``
    and timed; the table, the progress chart and the card. ``name``: the design's name in the
    table; ``calib``: :func:`release_calibration`'s."""
    from ..machine import cpu_summary
    from ..sr.tiles import receptive_radius
    from .latency import lr_size_for
    from .parity import parity_picture
    from .release import write_card, write_network
    from .release_files import crops_picture
    from .variants import score_variants, time_variants, variant_rows

    out = Path(out)
    facts, shipped = _facts(res, out, options.ship)
    bundle, scale, lr = out / "bundle", config.spec.scale, lr_size_for(config.spec.scale)
    note = f"this run: {config.protocol.steps:,} steps on {' + '.join(config.train)}"
    onnx = write_network(bundle, shipped, config, facts)
    model, variants, coreml, parity, failed = _made(bundle, onnx, options, calib,
                                                    parity_picture(benches, val, calib[1], lr), lr, say)
    scores = score_variants(variants, benches, scale, margin=receptive_radius(model, scale)) if benches else {}
    say(f"timing {', '.join(v.label for v in variants)} ({lr[1]}x{lr[0]} LR, 1 thread)")
    times = time_variants(variants, lr)
    if benches:
        say(f"scoring on {', '.join(b.name for b in benches)}{' (with the x8 self-ensemble)' if options.self_ensemble else ''}")
    rows = variant_rows(name + (" EMA" if facts.weights == "ema" else ""), count_cost(config.spec).params, scores, note)
    table = _bench_table(name, res, out, benches, options.self_ensemble, note, rows)
    (out / "progress.html").write_text(progress_chart_html({name: read_progress(out)}))
    int8 = bundle / ONNX_INT8
    picture = crops_picture(benches[0], model, int8) if benches and int8.is_file() else None
    write_card(bundle, model, config, facts, table, [INSTALL, *([options.command] if options.command else [])],
               _file_facts(variants, coreml, scores, times, parity, options, lr), picture,
               f"{lr[1]}x{lr[0]} LR image, {cpu_summary()}")
    return Release(bundle, facts, table, failed)
