"""LiteRT (TensorFlow Lite): the network as ``.tflite`` files for Android, with Google's converter
``litert-torch`` and its ``ai-edge-quantizer`` (the ``[litert]`` extra), run on the host with
``ai-edge-litert``'s interpreter and its XNNPACK delegate (the CPU kernels Android phones run).

A ``.tflite`` file is converted at one fixed input size (the converter cannot keep height and
width dynamic: the PixelShuffle becomes reshapes of constant shape), NHWC RGB on 0..1 in and out,
float32 (:func:`export_tflite`). The int8 file (:func:`quantize_tflite`) is static int8 throughout
(weights and activations, its input and output int8 too: :func:`litert_runner` converts at both
ends with the tensors' own scales), calibrated on inputs of the model's size tiled from LR
patches of the training data (:func:`mosaic_inputs`), each activation's range clipped at a
percentile as onnxruntime's default calibration does (:func:`activation_ranges`). :func:`write_litert` writes both into a
bundle; :func:`tflite_shape` reads a file's fixed size and scale back.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..config import LITERT_INSTALL
from ..model.network import SLWSR
from .onnx_export import UnitRange, export_copy

#: The interpreter's signature and its input's name, as litert-torch writes them.
SIGNATURE, ARG = "serving_default", "args_0"
#: How many calibration inputs (mosaics of the model's size) an int8 ``.tflite`` is calibrated on
#: in a bundle: 16 inputs of 320x180 hold about 450 patches of 48 px (the 64 drawn, repeated).
CALIB_INPUTS = 16


def litert_or_error(module: str = "litert_torch"):
    """``module`` (litert_torch, ai_edge_quantizer or ai_edge_litert); ``ValueError`` saying how to
    install the extra when it is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"LiteRT needs {module.split('.')[0].replace('_', '-')}: {LITERT_INSTALL}") from None


def export_tflite(model: SLWSR, path: str | Path, lr_size: tuple[int, int]) -> Path:
    """Convert ``model`` to a float32 ``.tflite`` at ``path`` for (1, h, w, 3) NHWC inputs of
    ``lr_size`` = (h, w). Returns ``path``."""
    net = UnitRange(export_copy(model, "litert")).eval()
    return convert_module(net, torch.rand(1, 3, *lr_size), path)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The converter's and the quantizer's chatter off while they work (library code never prints):
    litert-torch's progress lines and the quantizer's report on stdout, its bars on stderr, their
    Python warnings. Restored after; their C++ log lines (written to the file descriptor) stay."""
    key = "LITERT_TORCH_SHOW_PROGRESS"
    old = os.environ.get(key)
    os.environ[key] = "n"
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def convert_module(module: nn.Module, x: torch.Tensor, path: str | Path) -> Path:
    """Convert ``module`` (NCHW in and out, e.g. a network or a latency part) to a float32
    ``.tflite`` at ``path`` whose input and output are NHWC, at the fixed shape of ``x`` (N, C, H,
    W): the layout LiteRT computes in, so no transpose is left at either end and parts converted
    this way add up to the whole network's file. Returns ``path``."""
    lt = litert_or_error()
    # litert-torch mistranslates a channels_last module (0.79 max difference, measured): convert
    # a contiguous copy, whatever layout the caller's module is in
    module = copy.deepcopy(module).to(memory_format=torch.contiguous_format)
    nhwc = lt.to_channel_last_io(module.eval(), args=[0], outputs=[0]).eval()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), _quiet():
        lt.convert(nhwc, (x.permute(0, 2, 3, 1).contiguous(),)).export(str(out))
    return out


def tflite_model(module: nn.Module, x: torch.Tensor, int8: bool = False) -> bytes:
    """``module`` as the bytes of a ``.tflite`` at ``x``'s shape (:func:`convert_module`); ``int8``:
    its static int8 file (:func:`quantize_tflite`) calibrated on ``x`` itself (for timing: the
    ranges do not change the time)."""
    if int8:
        litert_or_error("ai_edge_quantizer")  # refused before the (slow) conversion
    with tempfile.TemporaryDirectory() as tmp:
        path = convert_module(module, x, Path(tmp) / "model.tflite")
        if int8:
            inputs = x.permute(0, 2, 3, 1).contiguous().numpy()[None].astype(np.float32)
            with _quiet():
                path = quantize_tflite(path, Path(tmp) / "model.int8.tflite", inputs)
        return path.read_bytes()


def mosaic_inputs(patches: np.ndarray, lr_size: tuple[int, int], count: int, seed: int = 0) -> np.ndarray:
    """``count`` float32 (1, h, w, 3) NHWC inputs of ``lr_size``, each tiled from ``patches``
    ((N, 3, p, p) on 0..1, :func:`.quantize.calibration_patches`) in a random order: calibration
    data of a fixed-size model from images smaller than it."""
    h, w = lr_size
    p = patches.shape[-1]
    rng = np.random.default_rng(seed)
    out = np.empty((count, 1, h, w, 3), dtype=np.float32)
    for k in range(count):
        canvas = np.empty((3, -(-h // p) * p, -(-w // p) * p), dtype=np.float32)
        for y in range(0, canvas.shape[1], p):
            for x in range(0, canvas.shape[2], p):
                canvas[:, y:y + p, x:x + p] = patches[rng.integers(len(patches))]
        out[k, 0] = canvas[:, :h, :w].transpose(1, 2, 0)
    # The input's range is 0..1 by contract: one black and one white pixel make the calibrated
    # input scale exactly 1/255, so every 8-bit level is represented exactly (a range a little
    # short of 1 would round each level by up to half a step: 0.26 dB lost on Set5 here).
    out[:, 0, 0, 0, :], out[:, 0, 0, 1, :] = 0.0, 1.0
    return out


def quantize_tflite(fp32: str | Path, out: str | Path, inputs: np.ndarray, method: str = "percentile") -> Path:
    """The static int8 ``.tflite`` of the float one at ``fp32`` (ai-edge-quantizer's
    ``static_wi8_ai8`` recipe: int8 weights and activations), each activation's range taken from
    ``inputs`` (:func:`mosaic_inputs`) by ``method``: ``percentile`` clips it at the
    :data:`.int8_settings.PERCENTILE` th percentile at both ends, as onnxruntime's percentile
    calibration does; ``minmax`` (and ``entropy``, which onnxruntime resolves to the same ranges
    here) takes the whole observed range. The model's input and output keep their whole range
    (0..1). Returns ``out``."""
    aq = litert_or_error("ai_edge_quantizer")
    qt = aq.quantizer.Quantizer(str(fp32))
    qt.load_quantization_recipe(aq.recipe.static_wi8_ai8())
    # ai-edge-quantizer's own calibration keeps a moving average of each input's min and max; one
    # input gives the tensors and shapes it needs, and the ranges are ours (activation_ranges).
    with _quiet():
        layout = qt.calibrate({SIGNATURE: [{ARG: inputs[0]}]})
        ranges = activation_ranges(fp32, inputs, list(layout), method)
    result = {k: {"min": np.full(np.shape(v["min"]), ranges[k][0], np.float32),
                  "max": np.full(np.shape(v["max"]), ranges[k][1], np.float32)} for k, v in layout.items()}
    dst = Path(out)
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        with _quiet():
            qt.quantize(result).export_model(str(Path(tmp) / dst.name), overwrite=True)
        (Path(tmp) / dst.name).replace(dst)
    return dst


def activation_ranges(fp32: str | Path, inputs: np.ndarray, names: Sequence[str], method: str,
                      sample: int = 20_000, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Each tensor in ``names``: its ``(low, high)`` over ``inputs`` run through the float
    ``.tflite`` at ``fp32``, 0 always inside; ``percentile``: the :data:`.int8_settings.PERCENTILE`
    th percentiles at both ends of up to ``sample`` values per input, drawn with ``seed`` (the
    signature's input and output keep their whole range); else the whole range. ``ValueError``
    naming a tensor the interpreter does not hold."""
    from .int8_settings import PERCENTILE

    litert = litert_or_error("ai_edge_litert.interpreter")
    it = litert.Interpreter(model_path=str(fp32), experimental_preserve_all_tensors=True)
    run = it.get_signature_runner(SIGNATURE)
    index = {d["name"]: d["index"] for d in it.get_tensor_details()}
    missing = [n for n in names if n not in index]
    if missing:
        raise ValueError(f"{fp32}: no tensor {missing[0]!r} in the interpreter (calibration cannot range it)")
    ends = {d["name"] for d in it.get_input_details() + it.get_output_details()}
    rng = np.random.default_rng(seed)
    lo, hi, drawn = {n: np.inf for n in names}, {n: -np.inf for n in names}, {n: [] for n in names}
    for x in inputs:
        run(**{ARG: x})
        for n in names:
            a = it.get_tensor(index[n]).ravel()
            lo[n], hi[n] = min(lo[n], float(a.min())), max(hi[n], float(a.max()))
            drawn[n].append(a if a.size <= sample else rng.choice(a, sample, replace=False))
    out = {}
    for n in names:
        if method == "percentile" and n not in ends:
            v = np.concatenate(drawn[n])
            lo[n], hi[n] = float(np.percentile(v, 100 - PERCENTILE)), float(np.percentile(v, PERCENTILE))
        out[n] = (min(lo[n], 0.0), max(hi[n], 0.0))
    return out


def write_litert(model: SLWSR, folder: str | Path, lr_size: tuple[int, int], patches: np.ndarray | None,
                 method: str = "percentile", calib_inputs: int = CALIB_INPUTS) -> list[Path]:
    """Write :data:`.bundle.LITERT` (fp32, inputs of ``lr_size`` = (h, w)) into ``folder`` and, when
    ``patches`` (:func:`.quantize.calibration_patches`) are given, :data:`.bundle.LITERT_INT8`
    calibrated on ``calib_inputs`` mosaics of them with ``method``. Returns the paths written."""
    from .bundle import LITERT, LITERT_INT8

    fp32 = export_tflite(model, Path(folder) / LITERT, lr_size)
    if patches is None:
        return [fp32]
    return [fp32, quantize_tflite(fp32, Path(folder) / LITERT_INT8, mosaic_inputs(patches, lr_size, calib_inputs), method)]


def tflite_shape(path: str | Path) -> tuple[int, int, int]:
    """(rows, columns, scale) of the ``.tflite`` at ``path``: its fixed LR input size and its
    upscaling factor (output rows over input rows). ``ValueError`` naming the file when LiteRT
    cannot load it or it is not an upscaler of NHWC RGB images."""
    try:
        it = interpreter(path)
    except (ValueError, RuntimeError) as e:
        raise ValueError(f"{path}: LiteRT cannot load it ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    (i,), (o,) = it.get_input_details(), it.get_output_details()
    (_, h, w, c), (_, oh, ow, oc) = (tuple(int(v) for v in d["shape"]) for d in (i, o))
    if c != 3 or oc != 3 or oh % h or ow % w or oh // h != ow // w:
        raise ValueError(f"{path}: not an upscaler of NHWC RGB images (input {list(i['shape'])}, output {list(o['shape'])})")
    return h, w, oh // h


def litert_runner(path: str | Path, threads: int = 1, xnnpack: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """A runner of the ``.tflite`` at ``path`` on 0..1 NCHW float32 batches of one image of its
    size (as :mod:`.runners`' runners take), returning (1, 3, s*h, s*w) on 0..1; int8 input and
    output converted with the tensors' scales and zero points. ``xnnpack``: the XNNPACK delegate
    (LiteRT's default CPU path) or the built-in kernels."""
    it = interpreter(path, threads, xnnpack)
    run = it.get_signature_runner(SIGNATURE)
    (i,), (o,) = it.get_input_details(), it.get_output_details()
    size = tuple(int(v) for v in i["shape"][1:3])

    def upscale(x: np.ndarray) -> np.ndarray:
        if x.shape[0] != 1 or tuple(x.shape[2:]) != size:
            raise ValueError(f"{path}: converted for 1 x {size[1]}x{size[0]} inputs, got {x.shape[0]} x "
                             f"{x.shape[3]}x{x.shape[2]} (a .tflite has one fixed size)")
        a = to_tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), i)
        y = from_tensor(next(iter(run(**{ARG: a}).values())), o)
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))

    return upscale


def interpreter(model: str | Path | bytes, threads: int = 1, xnnpack: bool = True):
    """ai-edge-litert's interpreter of a ``.tflite`` (its path, or its bytes) with ``threads``
    threads; ``xnnpack``: the XNNPACK delegate (LiteRT's default CPU path, what ``benchmark_model
    --use_xnnpack=true`` runs) or the built-in kernels."""
    litert = litert_or_error("ai_edge_litert.interpreter")
    kind = litert.OpResolverType.AUTO if xnnpack else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    return litert.Interpreter(**source, num_threads=threads, experimental_op_resolver_type=kind)


def to_tensor(x: np.ndarray, detail: dict) -> np.ndarray:
    """``x`` (float32) as the interpreter tensor ``detail`` takes it: quantized with its scale and
    zero point when it is int8 (round to nearest, saturated), else as it is."""
    if detail["dtype"] != np.int8:
        return x.astype(np.float32)
    scale, zero = detail["quantization"]
    return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)


def from_tensor(y: np.ndarray, detail: dict) -> np.ndarray:
    """An interpreter output as float32 (dequantized when it is int8)."""
    if detail["dtype"] != np.int8:
        return y.astype(np.float32)
    scale, zero = detail["quantization"]
    return (y.astype(np.float32) - zero) * np.float32(scale)
