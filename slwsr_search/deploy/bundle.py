"""Bundles: one folder per trained model that runs outside this package.

A bundle holds ``model.safetensors`` (the state dict; the spec JSON and its hash also in the file's
metadata) and ``spec.json``. The spec must travel with the weights: designs that differ only in
which activations they keep (s-lwsr16 and s-lwsr16-half) have identical tensors.
:func:`load_bundle` rebuilds the module from the bundle alone.
"""

from __future__ import annotations

from pathlib import Path

from ..config import write_atomic
from ..model.network import SLWSR, build_model
from ..model.spec import ArchSpec

#: Tag in every bundle's safetensors metadata, so a foreign file is told apart from ours.
BUNDLE_FORMAT = "slwsr-search/bundle-1"
#: The files of a bundle folder: what :func:`load_bundle` needs, and what a release adds (the ONNX
#: graphs in fp32, int8 and fp16, the LiteRT files in fp32 and int8, the Core ML package, the model
#: card and its picture of crops).
WEIGHTS, SPEC = "model.safetensors", "spec.json"
ONNX, ONNX_INT8, ONNX_FP16 = "model.onnx", "model.int8.onnx", "model.fp16.onnx"
LITERT, LITERT_INT8 = "model.tflite", "model.int8.tflite"
CARD, CROPS, COREML = "MODEL_CARD.md", "crops.png", "model.mlpackage"


def save_bundle(model: SLWSR, folder: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``model``'s weights and spec into ``folder`` (created); ``metadata``: more strings for
    the safetensors header (say, the training protocol as JSON). Each file is written beside its
    final name and renamed into place, so a crash leaves no half-written file. Returns ``folder``."""
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    spec = model.spec
    meta = {**(metadata or {}), "format": BUNDLE_FORMAT, "spec": spec.to_json(compact=True), "spec_hash": spec.hash}
    bad = [k for k, v in meta.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"metadata: values must be strings, got {', '.join(f'{k}={meta[k]!r}' for k in bad)}")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    write_atomic(out / WEIGHTS, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
    write_atomic(out / SPEC, lambda tmp: tmp.write_text(spec.to_json() + "\n"))
    return out


def load_bundle(path: str | Path) -> SLWSR:
    """The module a bundle folder holds (on CPU, eval mode). ``ValueError`` naming the file at
    fault: a missing file, a spec.json that does not parse, a weights file that is not ours or whose
    spec differs from spec.json, weights that do not fit the spec."""
    from safetensors import SafetensorError, safe_open

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a bundle folder (expected {WEIGHTS} and {SPEC} inside)")
    for name in (WEIGHTS, SPEC):
        if not (folder / name).is_file():
            raise ValueError(f"{folder / name}: missing from the bundle")
    try:
        spec = ArchSpec.load(folder / SPEC)
    except (ValueError, OSError) as e:
        raise ValueError(f"{folder / SPEC}: {e}") from None
    try:
        with safe_open(str(folder / WEIGHTS), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{folder / WEIGHTS}: cannot read it as safetensors ({e})") from None
    if meta.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"{folder / WEIGHTS}: not an slwsr-search bundle (no format tag {BUNDLE_FORMAT!r})")
    if meta.get("spec_hash") != spec.hash:
        raise ValueError(f"{folder / WEIGHTS}: its weights were saved for spec {meta.get('spec_hash')}, "
                         f"but {SPEC} holds spec {spec.hash} ({spec.arch})")
    model = build_model(spec)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise ValueError(f"{folder / WEIGHTS}: weights do not fit the spec ({str(e).splitlines()[0]})") from None
    return model.eval()


def bundle_metadata(path: str | Path) -> dict[str, str]:
    """The strings in a bundle's safetensors header (``train``, ``val``, ``protocol``, ... as
    :func:`save_bundle` wrote them); ``ValueError`` naming the file when it cannot be read."""
    from safetensors import SafetensorError, safe_open

    f = Path(path) / WEIGHTS
    try:
        with safe_open(str(f), framework="pt", device="cpu") as h:
            return dict(h.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{f}: cannot read it as safetensors ({e})") from None


def weights_hash(weights) -> str:
    """A 16-hex-digit content hash of a network's weights (``weights``: a module, or its state
    dict): SHA-256 over each tensor's name, dtype, shape and bytes, names in sorted order, tensors
    taken contiguous on the CPU (so the device and memory format training used do not change it).
    Files made from a network (ONNX graphs, Core ML packages) carry it, so that one made from other
    weights of the same spec (a longer training, another seed) is told apart."""
    import hashlib

    import torch

    state = weights.state_dict() if hasattr(weights, "state_dict") else weights
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def trained_network(folder: Path) -> tuple[SLWSR, list[str], Path | None]:
    """``(network, training data it records, the bundle folder or None)`` of a bundle or a
    finalize run folder (its ``state.pt``; an audit's reference run too): what ``quantize`` and
    ``bench litert`` take. ``ValueError`` naming the folder when it is neither."""
    import json

    from ..training.finalize import CONFIG, STATE
    from ..training.state import load_state

    if (folder / WEIGHTS).is_file() or (folder / SPEC).is_file():
        meta = bundle_metadata(folder) if (folder / WEIGHTS).is_file() else {}
        return load_bundle(folder), [t for t in meta.get("train", "").split(" + ") if t], folder
    if (folder / "bundle" / WEIGHTS).is_file():
        return trained_network(folder / "bundle")
    if (folder / STATE).is_file():
        state = load_state(folder / STATE)
        if state.weights is None:
            raise ValueError(f"{folder / STATE}: holds no weights")
        model = build_model(state.spec)
        model.load_state_dict(state.weights)
        train = json.loads((folder / CONFIG).read_text()).get("train", []) if (folder / CONFIG).is_file() else []
        # an audit's reference records its sources joined in one entry ("A + B"), finalize one per entry
        return model.eval(), [t for entry in train for t in entry.split(" + ") if t], None
    raise ValueError(f"{folder}: neither a bundle ({WEIGHTS} + {SPEC}) nor a finalize run folder ({STATE})")
