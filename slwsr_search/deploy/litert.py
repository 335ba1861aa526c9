"""LiteRT (TensorFlow Lite): the network as ``.tflite`` files for Android, with Google's converter
``litert-torch`` and its ``ai-edge-quantizer`` (the ``[litert]`` extra), run on the host with
``ai-edge-litert``'s interpreter and its XNNPACK delegate (the CPU kernels Android phones run).

A ``.tflite`` file is converted at one fixed input size (the converter cannot keep height and
width dynamic: the PixelShuffle becomes reshapes of constant shape), NHWC RGB on 0..1 in and out,
float32 (:func:`export_tflite`). The int8 file (:func:`quantize_tflite`) is static int8 throughout
(weights and activations, its input and output int8 too: :func:`litert_runner` converts at both
ends with the tensors' own scales), calibrated on inputs of the model's size tiled from LR
patches of the training data (:func:`mosaic_inputs`).
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..model.network import SLWSR
from .onnx_export import UnitRange

#: The interpreter's signature and its input's name, as litert-torch writes them.
SIGNATURE, ARG = "serving_default", "args_0"


def litert_or_error(module: str = "litert_torch"):
    """``module`` (litert_torch, ai_edge_quantizer or ai_edge_litert); ``ValueError`` saying how to
    install the extra when it is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"LiteRT needs {module.replace('_', '-')}: pip install torch==2.13.0 -e '.[litert]' "
                         "(docs/deployment.md#litert)") from None


def export_tflite(model: SLWSR, path: str | Path, lr_size: tuple[int, int]) -> Path:
    """Convert ``model`` to a float32 ``.tflite`` at ``path`` for (1, h, w, 3) NHWC inputs of
    ``lr_size`` = (h, w). Returns ``path``."""
    lt = litert_or_error()
    net = UnitRange(copy.deepcopy(model).to("cpu").float().eval()).eval()
    nhwc = lt.to_channel_last_io(net, args=[0], outputs=[0]).eval()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        lt.convert(nhwc, (torch.rand(1, *lr_size, 3),)).export(str(out))
    return out


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


def quantize_tflite(fp32: str | Path, out: str | Path, inputs: np.ndarray) -> Path:
    """The static int8 ``.tflite`` of the float one at ``fp32`` (ai-edge-quantizer's
    ``static_wi8_ai8`` recipe: int8 weights and activations), calibrated on ``inputs``
    (:func:`mosaic_inputs`). Returns ``out``."""
    aq = litert_or_error("ai_edge_quantizer")
    qt = aq.quantizer.Quantizer(str(fp32))
    qt.load_quantization_recipe(aq.recipe.static_wi8_ai8())
    result = qt.calibrate({SIGNATURE: [{ARG: x} for x in inputs]})
    dst = Path(out)
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        qt.quantize(result).export_model(str(Path(tmp) / dst.name), overwrite=True)
        (Path(tmp) / dst.name).replace(dst)
    return dst


def litert_runner(path: str | Path, threads: int = 1, xnnpack: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """A runner of the ``.tflite`` at ``path`` on 0..1 NCHW float32 batches of one image of its
    size (as :mod:`.runners`' runners take), returning (1, 3, s*h, s*w) on 0..1; int8 input and
    output converted with the tensors' scales and zero points. ``xnnpack``: the XNNPACK delegate
    (LiteRT's default CPU path) or the built-in kernels."""
    litert = litert_or_error("ai_edge_litert.interpreter")
    kind = litert.OpResolverType.AUTO if xnnpack else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = litert.Interpreter(model_path=str(path), num_threads=threads, experimental_op_resolver_type=kind)
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
