"""Running a trained network on pictures, with PyTorch, onnxruntime or LiteRT, behind one signature:
a float32 batch (N, 3, h, w) of RGB on 0..1 in, its (N, 3, s*h, s*w) on 0..1 out (numpy arrays).

A ``.tflite`` has one fixed input size: :func:`padded_runner` runs any smaller input in it, and
:func:`window_upscaler` runs a picture of any size in windows of exactly that size
(:func:`..sr.tiles.window_boxes`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..model.network import SLWSR
from .onnx_export import INPUT, UnitRange

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


def padded_runner(run: Runner, size: tuple[int, int], scale: int) -> Runner:
    """``run``, which takes (1, 3, *size) only, on any (1, 3, h, w) with h, w up to ``size``: the
    input padded at the bottom and right by repeating its edge pixels, the output cropped back. The
    pixels near a padded edge see repeated pixels where a whole-image run sees the network's zero
    padding, so they differ slightly from it (0.001-0.004 dB on Set5 and Set14 pictures, measured in
    docs/deployment.md#litert-tensorflow-lite)."""
    h0, w0 = size

    def run_padded(x: np.ndarray) -> np.ndarray:
        n, _, h, w = x.shape
        if n != 1 or h > h0 or w > w0:
            raise ValueError(f"expected one image of at most {w0}x{h0} (the model's fixed size), got {n} x {w}x{h}")
        if (h, w) == size:
            return run(x)
        padded = np.pad(x, ((0, 0), (0, 0), (0, h0 - h), (0, w0 - w)), mode="edge")
        return run(padded)[:, :, :h * scale, :w * scale]

    return run_padded


def runner_for(path: str | Path, threads: int | None = 1) -> tuple[Runner, tuple[int, int] | None]:
    """A :data:`Runner` of the model file at ``path`` by its kind (``.onnx``: onnxruntime;
    ``.tflite``: LiteRT with XNNPACK, padded to its size) and the fixed input size (rows, columns)
    it takes, None when any size goes."""
    if Path(path).suffix == ".tflite":
        from .litert import litert_runner, tflite_shape

        h, w, scale = tflite_shape(path)
        return padded_runner(litert_runner(path, threads or 1), (h, w), scale), (h, w)
    return onnx_runner(path, threads), None


def window_upscaler(run: Runner, window: tuple[int, int], scale: int, margin: int):
    """A runner of one fixed input size ``window`` (:func:`padded_runner`) as a
    :data:`..sr.evaluate.Upscaler` of pictures of any size: run in windows of that size, each kept
    centre ``margin`` LR pixels (the receptive radius) inside it (:func:`..sr.tiles.window_boxes`)."""
    from ..sr.tiles import upscale_into

    def upscale(lr: np.ndarray) -> np.ndarray:
        h, w, _ = lr.shape
        out = np.empty((h * scale, w * scale, 3), dtype=np.float32)
        x = lr.astype(np.float32) / np.float32(255.0)
        return upscale_into(run, x, scale, 0, margin, out, lambda a: a * np.float32(255.0), window=window)

    return upscale


def runner_upscaler(run: Runner):
    """``run`` as a :data:`..sr.evaluate.Upscaler` (one uint8 (h, w, 3) LR image in, (s*h, s*w, 3)
    on 0..255 out), for scoring a runtime with :func:`..sr.evaluate.evaluate_pairs`."""

    def upscale(lr: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(lr.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
        return run(x)[0].transpose(1, 2, 0) * np.float32(255.0)

    return upscale
