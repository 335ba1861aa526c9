"""int8 and fp16 ONNX graphs of an exported network (what phone NPUs, DSPs and GPU delegates run).

int8: onnxruntime's post-training static quantization of the fp32 graph
(:func:`.onnx_export.export_onnx`) in the QDQ format (QuantizeLinear/DequantizeLinear pairs around
each op, which onnxruntime, TensorRT, QNN and the LiteRT converters read), weights int8 symmetric
per output channel, activations uint8 asymmetric per tensor, their ranges calibrated on LR patches
of the training data (:func:`calibration_patches`) with one of :data:`METHODS`. The graph keeps
the fp32 graph's interface: RGB on 0..1, NCHW, float32 in and out (the quantization is inside).

fp16: every weight and activation in half precision, input and output kept float32 (so a caller
feeds the same arrays), with onnxruntime's own converter.

Both carry the fp32 graph's ``metadata_props`` plus ``precision`` and, for int8, how it was
calibrated. Measured quality and the choice of the default method: docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import write_atomic
from ..sr.data import ImagePair
from .int8_settings import METHODS, Int8Settings
from .onnx_export import INPUT

def calibration_patches(pairs: Sequence[ImagePair], count: int, size: int, seed: int = 0) -> np.ndarray:
    """``count`` LR patches of ``size`` x ``size`` px, float32 (count, 3, size, size) RGB on 0..1
    (the exported graph's input), at random places in random images of ``pairs`` (those whose LR is
    at least ``size`` on each side), deterministic for ``seed``. ``ValueError`` when none is large
    enough."""
    usable = [p for p in pairs if min(p.lr.shape[:2]) >= size]
    if not usable:
        raise ValueError(f"calibration images: none of {len(pairs)} has an LR image of at least {size}x{size} px")
    rng = random.Random(seed)
    out = np.empty((count, 3, size, size), dtype=np.float32)
    for i in range(count):
        lr = usable[rng.randrange(len(usable))].lr
        y, x = rng.randrange(lr.shape[0] - size + 1), rng.randrange(lr.shape[1] - size + 1)
        out[i] = lr[y:y + size, x:x + size].transpose(2, 0, 1) / np.float32(255.0)
    return out


def patches_for(pairs: Sequence[ImagePair], settings: Int8Settings) -> np.ndarray:
    """:func:`calibration_patches` as ``settings`` asks (its count, size and seed)."""
    return calibration_patches(pairs, settings.patches, settings.patch, settings.seed)


def patches_from(sources: Sequence[str], scale: int, settings: Int8Settings) -> np.ndarray:
    """:func:`patches_for` the images of ``sources`` (folders, or ``builtin:train`` / ``builtin:val``)."""
    from ..sr.data import load_pairs

    return patches_for([p for d in sources for p in load_pairs(d, scale, progress=False)], settings)


class _Patches:
    """onnxruntime's ``CalibrationDataReader`` protocol over a patch array, one patch per call."""

    def __init__(self, patches: np.ndarray) -> None:
        self._it = iter(patches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self._it, None)
        return None if x is None else {INPUT: x[None]}


def quantize_int8(fp32: str | Path, out: str | Path, patches: np.ndarray, settings: Int8Settings = Int8Settings()) -> Path:
    """Write the int8 QDQ graph of the fp32 ONNX file ``fp32`` to ``out``, calibrated on
    ``patches`` (:func:`calibration_patches`) with ``settings.method``. Written beside ``out`` and
    renamed into place. Returns ``out``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(patches) == 0:
        raise ValueError("patches: no calibration patches")
    src, dst = Path(fp32), Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        # onnxruntime's recommended first pass: shapes inferred, constants folded, so every tensor
        # the calibrator watches has a known type.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # the histogram calibrators print their progress; library code stays quiet
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            quantize_static(str(pre), str(q), _Patches(patches), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=getattr(CalibrationMethod, METHODS[settings.method]))
        proto = onnx.load(str(q))
    props = {**graph_metadata(src), "precision": "int8",
             "quantization": f"onnxruntime static QDQ: weights int8 per channel, activations uint8 per tensor, "
                             f"{settings.method} calibration on {len(patches)} LR patches of {settings.patch} px",
             "int8_settings": _json(settings.to_dict())}
    return _save(proto, props, dst)


def quantize_graph(graph: bytes, samples: np.ndarray, method: str = "minmax") -> bytes:
    """The int8 QDQ graph (bytes) of an fp32 graph's bytes, calibrated on ``samples`` (its inputs,
    one per row) with ``method``: for timing int8 kernels (latency tables), where the ranges do not
    change the time and min-max is the quickest to calibrate."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "fp32.onnx"
        src.write_bytes(graph)
        settings = Int8Settings(method, len(samples), int(samples.shape[-1]))
        return quantize_int8(src, Path(tmp) / "int8.onnx", samples, settings).read_bytes()


def convert_fp16(fp32: str | Path, out: str | Path) -> Path:
    """Write the fp16 graph of the fp32 ONNX file ``fp32`` to ``out`` (float32 input and output
    kept; casts at both ends). Returns ``out``."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    src = onnx.load(str(fp32))
    props = {**_props(src), "precision": "fp16"}
    half = convert_float_to_float16(src, keep_io_types=True)
    _toposort(half.graph)  # the converter appends its input casts last, which the checker refuses
    return _save(half, props, Path(out))


def _toposort(graph) -> None:
    """Reorder ``graph``'s nodes so each comes after the nodes whose outputs it reads."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(i in known for i in n.input)]
        if not ready:
            raise ValueError("fp16 graph: a cycle, or a node reading a tensor nothing writes")
        for n in ready:
            known.update(n.output)
        ordered += ready
        pending = [n for n in pending if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)


def graph_metadata(path: str | Path) -> dict[str, str]:
    """An ONNX file's ``metadata_props`` (read without its weights)."""
    import onnx

    return _props(onnx.load(str(path), load_external_data=False))


def graph_precision(path: str | Path) -> str:
    """The ``precision`` an ONNX file of ours declares (fp32 for graphs written before it was recorded)."""
    return graph_metadata(path).get("precision", "fp32")


def _props(proto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}


def _json(d: dict) -> str:
    import json

    return json.dumps(d, sort_keys=True)


def _save(proto, props: dict[str, str], out: Path) -> Path:
    import onnx

    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.checker.check_model(proto)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, lambda tmp: onnx.save_model(proto, str(tmp)))
    return out
