"""Running a trained network on pictures, with PyTorch or with onnxruntime, behind one signature:
a float32 batch (N, 3, h, w) of RGB on 0..1 in, its (N, 3, s*h, s*w) on 0..1 out (numpy arrays)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..model.network import SLWSR
from .bundle import ONNX, ONNX_FP16, ONNX_INT8
from .onnx_export import INPUT, UnitRange

#: The backends :func:`bundle_runner` knows: PyTorch on the bundle's weights, or onnxruntime on one
#: of its ONNX graphs (the file each needs, in :data:`BACKEND_FILES`).
BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "onnxruntime-int8", "onnxruntime-fp16")
BACKEND_FILES: dict[str, str] = {"onnxruntime": ONNX, "onnxruntime-int8": ONNX_INT8, "onnxruntime-fp16": ONNX_FP16}
Runner = Callable[[np.ndarray], np.ndarray]


def torch_runner(model: SLWSR, device: str = "cpu") -> Runner:
    """``model`` in eval mode on ``device``, seen from 0..1 (:class:`.onnx_export.UnitRange`)."""
    net = UnitRange(model).to(device).eval()

    @torch.inference_mode()
    def run(x: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(x).to(device)).cpu().numpy()

    return run


def onnx_session(path: str | Path | bytes, threads: int | None = None, arena: bool = True, spinning: bool = True,
                 inter_op: int | None = None):
    """An onnxruntime CPU session on ``path`` (or a graph's bytes): ``threads`` intra-op threads (default onnxruntime's),
    ``inter_op`` inter-op threads, its memory ``arena`` and the thread pool's ``spinning`` on or off.
    ``ValueError`` naming the file when onnxruntime cannot load it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.enable_cpu_mem_arena = arena
    if threads:
        opts.intra_op_num_threads = threads
    if inter_op:
        opts.inter_op_num_threads = inter_op
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(path if isinstance(path, bytes) else str(path), opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable models
        where = "ONNX graph" if isinstance(path, bytes) else path
        raise ValueError(f"{where}: onnxruntime cannot load it ({str(e).splitlines()[0]})") from None


def onnx_runner(path: str | Path, threads: int | None = None) -> Runner:
    """:func:`onnx_session` on ``path`` as a :data:`Runner`. The memory arena is off: tiles at the
    picture's edges have other shapes, and an arena keeps every shape's buffers, where we want
    memory bounded by one tile."""
    session = onnx_session(path, threads, arena=False)

    def run(x: np.ndarray) -> np.ndarray:
        return session.run(None, {INPUT: x})[0]

    return run


def bundle_runner(folder: str | Path, backend: str, model: SLWSR, device: str = "cpu", threads: int | None = None) -> Runner:
    """The :data:`Runner` ``backend`` names for the bundle in ``folder`` (``model``: its network,
    for ``torch``). ``ValueError`` naming the file a backend needs when the bundle lacks it."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return torch_runner(model, device)
    path = Path(folder) / BACKEND_FILES[backend]
    if not path.is_file():
        raise ValueError(f"{path}: missing from the bundle (needed by backend {backend}; "
                         f"`slwsr quantize {folder}` writes the int8 and fp16 graphs)")
    return onnx_runner(path, threads)


def runner_upscaler(run: Runner):
    """``run`` as a :data:`..sr.evaluate.Upscaler` (one uint8 (h, w, 3) LR image in, (s*h, s*w, 3)
    on 0..255 out), for scoring a runtime with :func:`..sr.evaluate.evaluate_pairs`."""

    def upscale(lr: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(lr.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
        return run(x)[0].transpose(1, 2, 0) * np.float32(255.0)

    return upscale
