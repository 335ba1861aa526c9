"""The parity gate: every model file a command writes (ONNX fp32 / int8 / fp16, LiteRT fp32 / int8,
Core ML) checked against the network it was made from, on a real picture, before the command
reports success.

A file's output and the network's (:class:`.onnx_export.UnitRange`, fp32 on the CPU) are compared
on one LR picture of real content (:func:`parity_input`: a bench picture, a validation image or a
mosaic of calibration patches, cropped or edge-padded to the file's fixed size where it has one),
both on 0..1: the largest absolute difference and the PSNR between them (peak 1, all channels,
no border cropped). Each precision has its bounds (:data:`TOLERANCES`, from measurements in
docs/deployment.md#the-parity-gate); a file outside them is not the model (a converter that
mistook a memory layout gave a 0.79 difference, 10 dB). A Core ML package runs only on Apple
systems: here its spec is read and its interface, precision and the weights it was made from
(:func:`.onnx_export.onnx_metadata`'s hashes) are checked instead (:func:`coreml_parity`).

:func:`check_files` returns plain data; :func:`reject_failures` moves failing files out of the
bundle; the commands print :func:`parity_lines`.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..model.network import SLWSR
from .bundle import COREML, LITERT, LITERT_INT8, ONNX, ONNX_FP16, ONNX_INT8


@dataclass(frozen=True)
class Tolerance:
    """The bounds a file of one precision must meet against its network, outputs on 0..1:
    ``max_abs`` (largest absolute difference) and ``min_psnr`` (dB, peak 1)."""

    max_abs: float
    min_psnr: float


#: Bounds per precision (``fp32``, ``fp16``, ``int8``): margins over the worst of 19 pictures
#: (Set5 + Set14) for two 5,000-step networks, s-LWSR16 and a mix design
#: (docs/results/2026-12-07-parity-xeon.csv), and far inside what a wrong file gives (a
#: channels_last LiteRT conversion: 0.78-1.0 max difference, 10-12 dB).
TOLERANCES: dict[str, Tolerance] = {
    # fp32 graphs only reorder float sums: measured <= 1.3e-6, >= 133.8 dB; 1e-4 is 1/40 of an 8-bit level.
    "fp32": Tolerance(max_abs=1e-4, min_psnr=100.0),
    # fp16 inside: measured <= 7.0e-4, >= 75.9 dB.
    "fp16": Tolerance(max_abs=5e-3, min_psnr=60.0),
    # int8 weights and activations: measured <= 0.30 (one pixel; ONNX), >= 38.8 dB. PSNR is the
    # bound that tells the network from another; the largest difference only a gross one.
    "int8": Tolerance(max_abs=0.5, min_psnr=32.0),
}


@dataclass(frozen=True)
class Parity:
    """One file against its network: ``name`` (the file's name), ``precision``, ``max_abs`` and
    ``psnr`` (dB) between their outputs on 0..1 (None where the file cannot run here: Core ML),
    ``tolerance``, ``problems`` (what a structural check found wrong), ``how`` (what was run)."""

    name: str
    precision: str
    max_abs: float | None
    psnr: float | None
    tolerance: Tolerance
    how: str
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether the file passes the gate."""
        if self.problems:
            return False
        if self.max_abs is None:
            return True
        return self.max_abs <= self.tolerance.max_abs and self.psnr >= self.tolerance.min_psnr

    def describe(self) -> str:
        """One line: the figures against the bounds, and the verdict."""
        if self.max_abs is None:
            figures = "not run here (" + self.how + ")"
        else:
            psnr = "identical" if math.isinf(self.psnr) else f"{self.psnr:.1f} dB"
            figures = (f"max |diff| {self.max_abs:.2g} (<= {self.tolerance.max_abs:g}), PSNR {psnr} "
                       f"(>= {self.tolerance.min_psnr:g} dB)")
        verdict = "ok" if self.ok else "FAILED" + (f": {'; '.join(self.problems)}" if self.problems else "")
        return f"{self.name:<20} {self.precision:<5} {figures}: {verdict}"


def parity_cell(r: Parity) -> str:
    """``r`` as a model card's cell: the figures, or what was checked where the file cannot run."""
    if r.max_abs is None:
        return "spec, precision and weights hash checked (runs on Apple systems only)"
    return f"max diff {r.max_abs:.1g}, {'identical' if math.isinf(r.psnr) else f'{r.psnr:.1f} dB'}"


def fit_to(lr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An (h, w, 3) uint8 picture as exactly ``size`` = (rows, columns): its centre cropped where
    it is larger, its edge pixels repeated at the bottom and right where it is smaller."""
    h, w = size
    y, x = max(0, (lr.shape[0] - h) // 2), max(0, (lr.shape[1] - w) // 2)
    crop = lr[y:y + h, x:x + w]
    return np.pad(crop, ((0, h - crop.shape[0]), (0, w - crop.shape[1]), (0, 0)), mode="edge")


def parity_input(lr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The (1, 3, rows, columns) float32 input on 0..1 the gate runs: ``lr`` (uint8 (h, w, 3), a
    real picture) fitted to ``size`` (:func:`fit_to`)."""
    a = fit_to(lr, size).astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


def compare(y: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """``(max |y - ref|, PSNR in dB with peak 1)`` of two outputs on 0..1 (inf when identical)."""
    d = y.astype(np.float64) - ref.astype(np.float64)
    mse = float(np.mean(d * d))
    return float(np.abs(d).max()), math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def file_parity(path: str | Path, precision: str, model: SLWSR, lr: np.ndarray) -> Parity:
    """The model file at ``path`` (``.onnx`` on onnxruntime, ``.tflite`` on LiteRT with XNNPACK,
    ``.mlpackage``: :func:`coreml_parity`) against ``model`` on the picture ``lr`` (uint8 (h, w, 3),
    fitted to a ``.tflite``'s fixed size; a dynamic graph runs it whole)."""
    from .onnx_export import export_copy
    from .runners import runner_for, torch_runner

    p = Path(path)
    tol = TOLERANCES[precision]
    if p.suffix == ".mlpackage":
        return coreml_parity(p, model, precision)
    run, size = runner_for(p, threads=None)
    x = parity_input(lr, size or lr.shape[:2])
    runtime = "LiteRT (XNNPACK)" if p.suffix == ".tflite" else "onnxruntime"
    how = f"{x.shape[3]}x{x.shape[2]} LR picture on {runtime}"
    try:
        y = run(x)
    except Exception as e:  # a runtime raises its own types; a file that does not run fails the gate
        return Parity(p.name, precision, None, None, tol, how, (f"does not run ({type(e).__name__}: {str(e)[:120]})",))
    ref = torch_runner(export_copy(model))(x)  # a CPU copy: the caller's module stays where it is
    if y.shape != ref.shape:
        return Parity(p.name, precision, None, None, tol, how, (f"output shape {y.shape}, the network's {ref.shape}",))
    return Parity(p.name, precision, *compare(y, ref), tol, how)


def coreml_parity(path: str | Path, model: SLWSR, precision: str = "fp16") -> Parity:
    """What can be checked of a Core ML package off Apple systems (it cannot run here): its
    input and output names, its compute precision, and that its metadata names ``model``'s spec
    and weights (:func:`.onnx_export.onnx_metadata`)."""
    from .coreml import coreml_summary
    from .onnx_export import INPUT, OUTPUT, onnx_metadata

    p = Path(path)
    s = coreml_summary(p)
    want = onnx_metadata(model)
    problems = [f"{k} {s[k]!r}, expected {v!r}" for k, v in (("input", INPUT), ("output", OUTPUT), ("precision", precision))
                if s[k] != v]
    problems += [f"metadata {k} {s['metadata'].get(k)!r}, the network's {want[k]!r}"
                 for k in ("spec_hash", "weights_hash") if k in want and s["metadata"].get(k) != want[k]]
    return Parity(p.name, precision, None, None, TOLERANCES[precision],
                  "Core ML runs on Apple systems only: spec, precision and weights hash checked", tuple(problems))


def check_files(files: Sequence[tuple[str | Path, str]], model: SLWSR, lr: np.ndarray) -> list[Parity]:
    """Each ``(path, precision)`` in ``files`` against ``model`` on the picture ``lr``
    (:func:`file_parity`)."""
    return [file_parity(path, precision, model, lr) for path, precision in files]


#: A bundle's model files and their precisions (what :func:`check_bundle` checks).
BUNDLE_FILES: dict[str, str] = {ONNX: "fp32", ONNX_INT8: "int8", ONNX_FP16: "fp16", LITERT: "fp32", LITERT_INT8: "int8",
                                COREML: "fp16"}


def check_bundle(folder: str | Path, lr: np.ndarray) -> list[Parity]:
    """Every model file the bundle ``folder`` holds (:data:`BUNDLE_FILES`) against the network it
    holds (:func:`.bundle.load_bundle`) on the picture ``lr``: a bundle made elsewhere, or by an
    older release, checked as a release checks its own. ``ValueError`` naming the folder when it
    holds no model file beside the weights."""
    from .bundle import load_bundle

    model = load_bundle(folder)
    files = [(Path(folder) / name, p) for name, p in BUNDLE_FILES.items() if (Path(folder) / name).exists()]
    if not files:
        raise ValueError(f"{folder}: no model file to check ({', '.join(BUNDLE_FILES)}); `slwsr quantize` writes them")
    if any(path.suffix == ".mlpackage" for path, _ in files):
        try:
            __import__("coremltools")
        except ImportError:  # its spec cannot be read without coremltools: say so, do not skip silently
            files = [f for f in files if f[0].suffix != ".mlpackage"]
            return check_files(files, model, lr) + [Parity(COREML, "fp16", None, None, TOLERANCES["fp16"],
                                                           "not checked", ("coremltools is not installed to read it",))]
    return check_files(files, model, lr)


def rejected_folder(bundle: str | Path) -> Path:
    """Where the files of ``bundle`` that fail the gate go: ``NAME.rejected`` beside it (outside
    the folder a user ships, inside the same run folder)."""
    b = Path(bundle)
    return b.parent / f"{b.name}.rejected"


def reject_failures(results: Sequence[Parity], folder: str | Path, rejected: str | Path | None = None) -> list[Path]:
    """Move each failing file out of ``folder`` into ``rejected`` (default :func:`rejected_folder`;
    created), so that what stays in the bundle passed; returns the new paths."""
    rejected = rejected_folder(folder) if rejected is None else rejected
    moved = []
    for r in results:
        if r.ok or not (Path(folder) / r.name).exists():
            continue
        dst = Path(rejected) / r.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_dir():
            shutil.rmtree(dst)
        elif dst.exists():
            dst.unlink()
        shutil.move(str(Path(folder) / r.name), str(dst))
        moved.append(dst)
    return moved


def parity_lines(results: Sequence[Parity], picture: str) -> list[str]:
    """The gate's report, one line per file, headed by the picture it ran."""
    return [f"parity against the network on {picture}:"] + [f"  {r.describe()}" for r in results]


def parity_picture(benches: Sequence, fallback: Sequence = (), patches: np.ndarray | None = None,
                   size: tuple[int, int] = (180, 320)) -> tuple[np.ndarray, str]:
    """The real picture the gate runs and its name: the first bench's first LR picture, else the
    first of ``fallback`` (:class:`..sr.data.ImagePair`, e.g. the validation images), else a mosaic
    of ``patches`` (LR calibration patches, (N, 3, p, p) on 0..1) of ``size``. ``ValueError`` when
    none is given."""
    if benches and benches[0].pairs:
        pair = benches[0].pairs[0]
        return pair.lr, f"{benches[0].name} {pair.name}"
    if fallback:
        return fallback[0].lr, f"validation image {fallback[0].name}"
    if patches is not None and len(patches):
        return mosaic_picture(patches, size), f"a {size[1]}x{size[0]} mosaic of {len(patches)} calibration patches"
    raise ValueError("the parity gate needs a real picture: give a bench folder, validation images or calibration patches")


def mosaic_picture(patches: np.ndarray, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A uint8 (rows, columns, 3) picture of ``size`` tiled from ``patches`` ((N, 3, p, p) on 0..1)
    in a seeded order: the LiteRT calibration's own mosaic (:func:`.litert.mosaic_inputs`, whose
    first two pixels are black and white)."""
    from .litert import mosaic_inputs

    return np.round(mosaic_inputs(patches, size, 1, seed)[0, 0] * 255.0).clip(0, 255).astype(np.uint8)
