"""Core ML: the network as an ``.mlpackage`` (ML program) for iOS and macOS apps, with Apple's
converter, coremltools (the ``[coreml]`` extra).

The package keeps the ONNX graphs' interface: input ``input``, output ``output``, RGB on 0..1,
NCHW float32, the height and width flexible (:data:`SIZE_RANGE`), the 0..255 scaling and the clamp
inside. Compute precision fp16 (what the Neural Engine runs; coremltools' default for an ML
program). A Core ML model runs only on Apple systems: elsewhere :func:`coreml_summary` reads its
spec (inputs, outputs, shape ranges, precision, metadata) without loading it, and that is all that
can be checked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from ..model.network import SLWSR
from .onnx_export import INPUT, OUTPUT, UnitRange, export_copy, onnx_metadata

#: The flexible LR height and width (pixels) the package accepts, and the size it is traced at.
SIZE_RANGE: tuple[int, int] = (8, 2048)
TRACE_SIZE: tuple[int, int] = (64, 64)
#: Oldest OS the package runs on (ML programs need iOS 15 / macOS 12; 16 for the fp16 I/O we avoid).
TARGET = "iOS16"


def coremltools_or_error():
    """The coremltools module; ``ValueError`` saying how to install it when it is missing."""
    try:
        import coremltools
    except ImportError:
        raise ValueError("Core ML export needs coremltools: pip install -e '.[coreml]' (or pip install coremltools)") from None
    return coremltools


def export_coreml(model: SLWSR, path: str | Path, precision: str = "fp16") -> Path:
    """Convert ``model`` (traced on CPU in eval mode) to an ML program at ``path`` (an
    ``.mlpackage`` folder, written beside and renamed into place); ``precision`` ``fp16`` or
    ``fp32``. Returns ``path``."""
    ct = coremltools_or_error()
    if precision not in ("fp16", "fp32"):
        raise ValueError(f"precision: expected fp16 or fp32, got {precision!r}")
    out = Path(path)
    net = UnitRange(export_copy(model, "coreml")).eval()
    lo, hi = SIZE_RANGE
    shape = (1, 3, ct.RangeDim(lo, hi, default=TRACE_SIZE[0]), ct.RangeDim(lo, hi, default=TRACE_SIZE[1]))
    # coremltools warns that it was tested with older torch releases and draws progress bars on
    # stderr: library code stays quiet
    with warnings.catch_warnings(), torch.no_grad(), open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(net, torch.rand(1, 3, *TRACE_SIZE))
        ml = ct.convert(traced, convert_to="mlprogram", minimum_deployment_target=getattr(ct.target, TARGET),
                        compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
                        inputs=[ct.TensorType(name=INPUT, shape=shape, dtype=np.float32)],
                        outputs=[ct.TensorType(name=OUTPUT, dtype=np.float32)])
    meta = {**onnx_metadata(model), "format": "slwsr-search/coreml-1", "precision": precision}
    ml.author = "slwsr-search"
    ml.short_description = f"s-LWSR x{model.spec.scale} super-resolution: {model.spec.arch}"
    ml.user_defined_metadata.update(meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        ml.save(str(tmp / out.name))
        if out.exists():
            shutil.rmtree(out)
        (tmp / out.name).rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def coreml_summary(path: str | Path) -> dict:
    """What a package's spec says, read without loading it (possible on any system): ``input`` and
    ``output`` names, the input's shape ranges, the ML program's compute precision (fp16 or fp32,
    from its ops' types), ``metadata`` (the user-defined strings)."""
    ct = coremltools_or_error()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    (i,), (o,) = spec.description.input, spec.description.output
    ranges = [(r.lowerBound, r.upperBound) for r in i.type.multiArrayType.shapeRange.sizeRanges]
    text = str(spec.mlProgram)
    return {"input": i.name, "output": o.name, "input_ranges": ranges, "spec_version": spec.specificationVersion,
            "precision": "fp16" if "FLOAT16" in text else "fp32", "metadata": dict(spec.description.metadata.userDefined),
            "author": spec.description.metadata.author}
