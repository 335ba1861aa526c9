"""A finalized run's release: the bundle folder a user ships (weights, spec, ONNX graphs, model card).

:func:`write_network` writes ``model.safetensors`` and ``spec.json`` (:func:`~.bundle.save_bundle`)
and ``model.onnx`` (:func:`~.onnx_export.export_onnx`); the int8 and fp16 graphs come from that one
(:mod:`.variants`); :func:`write_card` writes ``MODEL_CARD.md`` (:func:`model_card`) with each file's
scores and host latency, and the picture of crops. :func:`.release_job.build_release` makes a whole
release with them in one call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..config import write_atomic
import numpy as np

from .bundle import CARD, COREML, CROPS, LITERT, LITERT_INT8, ONNX, ONNX_FP16, ONNX_INT8, SPEC, WEIGHTS, save_bundle
from ..model.cost import count_cost
from ..model.network import SLWSR
from .onnx_export import OPSET, export_onnx
from ..sr.table import LiteratureTable, table_markdown
from ..training.finalize import FinalizeConfig

@dataclass(frozen=True)
class TrainingFacts:
    """What the card says about the training: ``weights`` (``raw`` or ``ema``: which weights the
    bundle holds), ``steps``, ``train_s`` (training seconds, summed over resumes), ``device``,
    ``threads``, ``resumes`` (how many times the run was resumed from a checkpoint), ``val_psnr`` /
    ``val_ssim`` of the shipped weights on the validation data."""

    weights: str
    steps: int
    train_s: float
    device: str
    threads: int
    resumes: int
    val_psnr: float
    val_ssim: float


#: What ``finalize --ship`` may ask for.
SHIP_CHOICES: tuple[str, ...] = ("best", "raw", "ema")


def choose_weights(ship: str, last_row: dict, has_ema: bool) -> str:
    """``"raw"`` or ``"ema"``: which weights a release holds. ``ship``: one of :data:`SHIP_CHOICES`;
    ``best`` takes the moving average only when its validation PSNR in ``last_row`` (a progress
    row) beats the weights' (with a cosine decay to 0 the average often lags them at the end)."""
    if ship not in SHIP_CHOICES:
        raise ValueError(f"ship: expected one of {', '.join(SHIP_CHOICES)}, got {ship!r}")
    if not has_ema or ship == "raw":
        if ship == "ema":
            raise ValueError("ship ema: the training kept no moving average")
        return "raw"
    if ship == "ema":
        return "ema"
    ema, raw = last_row.get("ema_psnr"), last_row.get("psnr")
    return "ema" if ema is not None and raw is not None and ema > raw else "raw"


@dataclass(frozen=True)
class FileFacts:
    """One model file as the card lists it: its ``name`` in the bundle, ``what`` it is, its
    ``scores[set] = (PSNR dB, SSIM)`` on the bench sets, its host ``latency_ms`` (one image of the
    cost convention's size, None when not timed) and ``parity``: how it matched the bundle's
    network in the parity gate (:func:`.parity.parity_cell`; None when not checked)."""

    name: str
    what: str
    scores: dict[str, tuple[float, float]]
    latency_ms: float | None = None
    parity: str | None = None


#: The files a release writes into a bundle beside its weights and spec.
RELEASE_FILES: tuple[str, ...] = (ONNX, ONNX_INT8, ONNX_FP16, LITERT, LITERT_INT8, COREML, CARD, CROPS)


def clear_release(folder: str | Path) -> None:
    """Remove an earlier release's files from the bundle ``folder``, so that a release made again
    (say, without the ``[litert]`` extra this time) leaves no file it did not make and check."""
    import shutil

    for name in RELEASE_FILES:
        p = Path(folder) / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def write_network(folder: str | Path, model: SLWSR, config: FinalizeConfig, facts: TrainingFacts) -> Path:
    """Write the bundle's weights, spec and fp32 ONNX graph into ``folder`` (created, an earlier
    release's files cleared: :func:`clear_release`); returns the graph's path (what the int8 and
    fp16 graphs are made from)."""
    out = Path(folder)
    clear_release(out)
    meta = {"protocol": json.dumps(config.protocol.to_dict()), "train": " + ".join(config.train),
            "val": " + ".join(config.val), "weights": facts.weights, "steps": str(facts.steps)}
    save_bundle(model, out, meta)
    return export_onnx(model, out / ONNX)


def write_card(folder: str | Path, model: SLWSR, config: FinalizeConfig, facts: TrainingFacts,
               table: LiteratureTable | None, commands: Sequence[str], files: Sequence[FileFacts] = (),
               picture: tuple[np.ndarray, str] | None = None, host: str = "") -> Path:
    """Write ``MODEL_CARD.md`` (and ``picture``'s image, a uint8 array with its caption, as
    :data:`.bundle.CROPS`) into ``folder``; ``files`` and ``host`` (the CPU the latencies were timed
    on): the card's table of model files. Returns ``folder``."""
    out = Path(folder)
    if picture is not None:
        from PIL import Image

        write_atomic(out / CROPS, lambda tmp: Image.fromarray(picture[0]).save(tmp, format="PNG"))
    card = model_card(model, config, facts, table, commands, files, None if picture is None else picture[1], host)
    write_atomic(out / CARD, lambda tmp: tmp.write_text(card))
    return out


def files_markdown(files: Sequence[FileFacts], host: str) -> list[str]:
    """The card's table of model files: one row each, PSNR per bench set, host latency."""
    sets = sorted({s for f in files for s in f.scores}, key=lambda s: [s for f in files for s in f.scores].index(s))
    head = ["file", "what", *(f"{s} PSNR / SSIM" for s in sets), "host latency", "against the network"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in files:
        cells = [f"{f.scores[s][0]:.2f} / {f.scores[s][1]:.4f}" if s in f.scores else "-" for s in sets]
        ms = "-" if f.latency_ms is None else f"{f.latency_ms:.0f} ms"
        lines.append("| " + " | ".join([f"`{f.name}`", f.what, *cells, ms, f.parity or "-"]) + " |")
    lines += ["", f"Host latency: median wall time of one image on onnxruntime (`.onnx`) or LiteRT's interpreter with "
                  f"XNNPACK (`.tflite`), 1 thread, the files timed in turns ({host or 'this machine'}). A phone's "
                  "figures differ: `slwsr latency kit` measures one. Against the network: the parity gate's "
                  "largest difference and PSNR between the file's output and the bundle's own network on a real "
                  "picture, both on 0..1 (every file passed its precision's bounds before the card was written).", ""]
    return lines


def model_card(model: SLWSR, config: FinalizeConfig, facts: TrainingFacts, table: LiteratureTable | None,
               commands: Sequence[str], files: Sequence[FileFacts] = (), picture: str | None = None,
               host: str = "") -> str:
    """The bundle's ``MODEL_CARD.md``: what the model is, how it was trained and scored, how to
    reproduce it and how to run it."""
    spec = model.spec
    lines = [f"# s-LWSR design x{spec.scale}: {spec.arch}", "",
             "A super-resolution network from the s-LWSR family (Li et al. 2019, arXiv 1909.10774), "
             "trained and exported by slwsr-search.", "", *_card_facts(model, config, facts), ""]
    if table is not None:
        lines += ["## Benchmarks", "", table_markdown(table)]
    if picture is not None:
        lines += [f"![{picture}]({CROPS})", "", picture, ""]
    if files:
        lines += ["## Model files", "", *files_markdown(files, host)]
    lines += ["## Reproduce", "", "```sh", *commands, "```", "",
              "On a CPU with the same thread count the result is bit-identical, killed and resumed or not; "
              "another thread count or device gives the same figures up to float rounding.", "",
              *_CARD_FILES, *_CARD_RUN]
    return "\n".join(lines)


def _card_facts(model: SLWSR, config: FinalizeConfig, facts: TrainingFacts) -> list[str]:
    """The card's table of what the model is and how it was trained."""
    spec, p = model.spec, config.protocol
    cost = count_cost(spec)
    ema = f"moving average of the weights (decay {config.ema_decay:g})" if facts.weights == "ema" else "the trained weights"
    return [
        "| | |", "|---|---|",
        f"| arch string | `{spec.arch}` |",
        f"| spec hash | `{spec.hash}` |",
        f"| origin | {config.origin or '-'} |",
        f"| scale | x{spec.scale} |",
        f"| parameters | {cost.params:,} |",
        f"| Multi-Adds | {cost.gmacs:.2f} G for a 1280x720 output |",
        f"| training data | {' + '.join(config.train)} |",
        f"| validation data | {' + '.join(config.val)} |",
        f"| protocol | {p.steps:,} steps x {p.batch_size} LR patches of {p.lr_patch} px, L1, Adam, "
        f"lr {p.lr:g} {p.schedule}{f' (halved every {p.halve_every:,})' if p.schedule == 'step' else ''}, "
        f"{'flips and rotations' if p.augment else 'no augmentation'} |",
        f"| seed | {p.seed} |",
        f"| weights | {ema} |",
        f"| training | {facts.steps:,} steps, {facts.train_s / 60:.1f} min on {facts.device} with {facts.threads} thread(s)"
        f"{f', resumed {facts.resumes} time(s) from a checkpoint' if facts.resumes else ''} |",
        f"| validation | PSNR {facts.val_psnr:.3f} dB, SSIM {facts.val_ssim:.4f} |",
    ]


#: The card's list of the bundle's files (the same for every bundle).
_CARD_FILES: tuple[str, ...] = (
    "## Files", "",
    f"- `{WEIGHTS}`: the state dict; its header holds the spec JSON and hash, the protocol and data.",
    f"- `{SPEC}`: the spec (what `load_bundle` rebuilds the network from).",
    f"- `{ONNX}`: ONNX opset {OPSET}, input `input` and output `output`: RGB on 0..1, NCHW, float32; "
    "batch, height and width dynamic; the output clamped to 0..1. Scale, spec and hash in its metadata.",
    f"- `{ONNX_INT8}`: the same interface, int8 inside (onnxruntime's post-training static quantization, "
    "QDQ format: weights int8 per channel, activations uint8 per tensor; its metadata says how it was "
    "calibrated). What phone NPUs and DSPs run; `onnxruntime` runs it on any CPU.",
    f"- `{ONNX_FP16}`: the same interface (float32 in and out), fp16 inside: what GPU and NPU delegates take.",
    f"- `{LITERT}` (where the `[litert]` extra was installed): LiteRT (TensorFlow Lite) for Android, converted by "
    "litert-torch: one fixed input size (the table above says which), NHWC RGB on 0..1, float32 in and out; run "
    "larger pictures in windows of it (`slwsr upscale --backend litert` does).",
    f"- `{LITERT_INT8}`: the same size, static int8 throughout (ai-edge-quantizer: weights and activations int8, "
    "their ranges from the same calibration patches by the same method), its input and output int8 too: quantize "
    "the 0..1 input and dequantize the output with the tensors' scales and zero points.",
    f"- `{COREML}` (where coremltools was installed): a Core ML ML program for iOS 16 / macOS 13 and later, "
    "the same interface (`input` / `output`, RGB 0..1, NCHW, height and width 8-2048), fp16 compute.",
)

#: The card's how-to-run section (the same for every bundle).
_CARD_RUN: tuple[str, ...] = (
    "", "## Run it", "", "PyTorch (with slwsr-search installed):", "", "```python",
    "from slwsr_search import load_bundle",
    "model = load_bundle('path/to/this/folder')   # eval mode, on CPU; input/output RGB on 0..255",
    "```", "", "onnxruntime (nothing else needed but numpy and Pillow):", "", "```python",
    "import numpy as np, onnxruntime as ort",
    "from PIL import Image",
    f"session = ort.InferenceSession('path/to/this/folder/{ONNX}', providers=['CPUExecutionProvider'])",
    "lr = np.asarray(Image.open('photo.png').convert('RGB'), dtype=np.float32) / 255.0",
    "x = lr.transpose(2, 0, 1)[None]                      # 1 x 3 x H x W on 0..1",
    "y = session.run(None, {'input': x})[0][0]            # 3 x sH x sW on 0..1",
    "sr = (y.transpose(1, 2, 0) * 255.0).round().astype(np.uint8)",
    "Image.fromarray(sr).save('photo_sr.png')",
    "print(session.get_modelmeta().custom_metadata_map['scale'])",
    "```", "",
    "For large images, `python -m slwsr_search.upscale --model path/to/this/folder photo.jpg --out DIR` "
    "runs in tiles with bounded memory and no seams.", "",
)


def progress_chart_html(runs: dict[str, list[dict]]) -> str:
    """One self-contained HTML page (plotly.js embedded, opens offline) drawing each run's
    validation PSNR against the step, the moving average's dotted where there is one. ``runs``:
    name -> :func:`.finalize.read_progress` rows."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, rows in runs.items():
        fig.add_trace(go.Scatter(x=[r["step"] for r in rows], y=[r["psnr"] for r in rows], mode="lines+markers", name=name))
        ema = [r for r in rows if r.get("ema_psnr") is not None]
        if ema:
            fig.add_trace(go.Scatter(x=[r["step"] for r in ema], y=[r["ema_psnr"] for r in ema], mode="lines",
                                     line=dict(dash="dot"), name=f"{name} (moving average)"))
    fig.update_layout(xaxis_title="step", yaxis_title="validation PSNR (dB)", template="plotly_white", height=420,
                      legend=dict(orientation="h", y=-0.2))
    return fig.to_html(include_plotlyjs=True, full_html=True)
