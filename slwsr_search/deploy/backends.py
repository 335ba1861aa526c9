"""A bundle's files as runners (:mod:`.runners`), by backend name, for ``upscale``: PyTorch on the
bundle's weights, onnxruntime on one of its ONNX graphs, or LiteRT's interpreter on one of its
``.tflite`` files; each file checked against the bundle's network first (:mod:`.parity`), so a
stale or mistranslated file is never run in the network's name."""

from __future__ import annotations

from pathlib import Path

from ..model.network import SLWSR
from .bundle import LITERT, LITERT_INT8, ONNX, ONNX_FP16, ONNX_INT8
from .runners import Runner, runner_for, torch_runner

#: The backends :func:`bundle_runner` knows: PyTorch on the bundle's weights, onnxruntime on one of
#: its ONNX graphs, or LiteRT's interpreter (XNNPACK) on one of its ``.tflite`` files (the file each
#: needs, in :data:`BACKEND_FILES`).
BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "onnxruntime-int8", "onnxruntime-fp16", "litert", "litert-int8")
BACKEND_FILES: dict[str, str] = {"onnxruntime": ONNX, "onnxruntime-int8": ONNX_INT8, "onnxruntime-fp16": ONNX_FP16,
                                 "litert": LITERT, "litert-int8": LITERT_INT8}


def bundle_runner(folder: str | Path, backend: str, model: SLWSR, device: str = "cpu",
                  threads: int | None = None) -> tuple[Runner, tuple[int, int] | None]:
    """The :data:`Runner` ``backend`` names for the bundle in ``folder`` (``model``: its network,
    for ``torch``) and its fixed input size (None: any). ``ValueError`` naming the file a backend
    needs when the bundle lacks it, or when that file is not the network (:func:`check_file`)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return torch_runner(model, device), None
    path = Path(folder) / BACKEND_FILES[backend]
    if not path.is_file():
        makes = ("`slwsr quantize --litert` writes the .tflite files (the [litert] extra)" if backend.startswith("litert")
                 else "`slwsr quantize` writes the int8 and fp16 graphs")
        raise ValueError(f"{path}: missing from the bundle (needed by backend {backend}; {makes} {folder})")
    check_file(path, model)
    return runner_for(path, threads)


def check_file(path: Path, model: SLWSR) -> None:
    """``ValueError`` naming ``path`` when the bundle's file is not ``model``, the network the
    bundle holds (the parity gate on a built-in photograph: :func:`.parity.file_parity`), so that a
    stale or mistranslated file is never run in the network's name."""
    from ..sr.data import load_pairs
    from .parity import BUNDLE_FILES, file_parity

    lr = load_pairs("builtin:val", model.spec.scale, progress=False)[0].lr
    r = file_parity(path, BUNDLE_FILES[path.name], model, lr)
    if not r.ok:
        raise ValueError(f"{path}: not the network the bundle holds ({r.describe()}); `slwsr verify` checks a "
                         f"bundle, `slwsr quantize {path.parent}{' --litert' if path.suffix == '.tflite' else ''}` "
                         "writes its files anew")
