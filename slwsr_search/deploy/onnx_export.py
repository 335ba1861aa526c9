"""ONNX export: a trained network as a graph that onnxruntime, chaiNNer and phone runtimes run.

The exported graph takes and returns RGB on 0..1, NCHW, float32 (the convention those tools
expect): the 0..255 scaling the network is trained on and the clamp of its output live inside the
graph (:class:`UnitRange`). Batch, height and width are dynamic. The scale, the value range, the
spec JSON and its hash, and the hash of the weights are in the model's ``metadata_props``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from ..config import write_atomic
from ..model.block_types import block_type
from ..model.network import SLWSR
from ..model.spec import SLOTS

#: The opset the exporter targets (ONNX 1.13+; onnxruntime 1.14+).
OPSET = 18
#: The graph's input and output names.
INPUT, OUTPUT = "input", "output"


class UnitRange(nn.Module):
    """``net`` seen from 0..1 RGB: scales the input to 0..255, runs the network, scales back and
    clamps to [0, 1]."""

    def __init__(self, net: SLWSR) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x * 255.0) / 255.0).clamp(0.0, 1.0)


def onnx_metadata(model: SLWSR) -> dict[str, str]:
    """The ``metadata_props`` an exported model carries; ``weights_hash``
    (:func:`.bundle.weights_hash`) names the weights it was made from, which ``spec_hash`` alone
    does not (a longer training of one design has its spec)."""
    from .bundle import weights_hash

    spec = model.spec
    return {"format": "slwsr-search/onnx-1", "scale": str(spec.scale), "value_range": "0..1",
            "layout": "NCHW RGB float32", "precision": "fp32", "spec": spec.to_json(compact=True), "spec_hash": spec.hash,
            "weights_hash": weights_hash(model)}


def export_onnx(model: SLWSR, path: str | Path, example_size: tuple[int, int] = (24, 20)) -> Path:
    """Export ``model`` (any device; exported from a CPU copy in eval mode) to ``path`` with
    PyTorch's current (dynamo) exporter at :data:`OPSET`, check it with ``onnx.checker`` and add
    :func:`onnx_metadata`. Written beside ``path`` and renamed into place. Returns ``path``."""
    import onnx

    out = Path(path)
    net = UnitRange(export_copy(model, "onnx")).eval()
    x = torch.rand(1, 3, *example_size)
    dims = {0: torch.export.Dim("batch", min=1, max=1024), 2: torch.export.Dim("height", min=4, max=16384),
            3: torch.export.Dim("width", min=4, max=16384)}
    # The exporter logs that torchvision (which we do not use) is missing: silence it for the call.
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and decomposition chatter
        try:
            program = torch.onnx.export(net, (x,), dynamo=True, opset_version=OPSET, input_names=[INPUT],
                                        output_names=[OUTPUT], dynamic_shapes={"x": dims}, verbose=False)
        finally:
            registry_log.setLevel(level)
    proto = program.model_proto
    onnx.helper.set_model_props(proto, onnx_metadata(model))
    onnx.checker.check_model(proto, full_check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, lambda tmp: onnx.save_model(proto, str(tmp)))
    return out


def export_copy(model: SLWSR, fmt: str | None = None) -> SLWSR:
    """What every converter (ONNX, LiteRT, Core ML) is handed: a CPU float32 copy of ``model`` in
    eval mode with contiguous (NCHW) weights, whatever memory format training used. litert-torch
    converts a ``channels_last`` module into a file that computes something else (0.79 max
    difference on 0..1, measured); the ONNX exporter guards on its strides and fails the dynamic
    batch. ``model`` itself is not changed. ``fmt`` (``onnx``, ``coreml``, ``litert``): the format it
    is converted to; a block type that does not export to it (its declaration's ``exports``,
    :mod:`~slwsr_search.model.block_types`) is a ``ValueError`` naming the slot, before any work."""
    import copy

    if fmt is not None:
        for slot, block in zip(SLOTS, model.spec.blocks):
            block_type(block.type).check_export(fmt, f"blocks[{slot}]")
    return copy.deepcopy(model).to("cpu").float().to(memory_format=torch.contiguous_format).eval()
