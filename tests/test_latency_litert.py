"""LiteRT latency on the host (runtimes ``litert`` and ``litert-int8``): the runtime names, the
identity naming ai-edge-litert's version, the workload (a stand-in interpreter everywhere, the real
one where the [litert] extra is installed), the one-line refusal without the extra, and a table
calibrated, shown and used for a prediction on tiny parts."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from helpers import run_command
from slwsr_search.deploy.calibrate import calibrate, plan
from slwsr_search.deploy.latency import model_workload
from slwsr_search.model.latency_table import RUNTIMES, MachineIdentity, split_runtime, table_path
from slwsr_search.model.spec import ArchSpec, BlockSpec


def test_runtime_names_split_into_base_and_precision():
    assert {"litert", "litert-int8"} <= set(RUNTIMES)
    assert split_runtime("litert-int8") == ("litert", True) and split_runtime("litert") == ("litert", False)
    assert split_runtime("onnxruntime-int8") == ("onnxruntime", True) and split_runtime("torch") == ("torch", False)
    with pytest.raises(ValueError, match="runtime: expected one of onnxruntime, onnxruntime-int8, torch, litert, "
                                         "litert-int8, got 'tflite'"):
        split_runtime("tflite")


def test_the_identity_names_ai_edge_literts_version(monkeypatch):
    import importlib.metadata as md

    monkeypatch.setattr(md, "version", lambda name: {"ai-edge-litert": "9.8.7"}[name])
    ident = MachineIdentity.here("litert-int8", 2)
    assert ident.runtime == "litert-int8" and ident.version == "9.8.7" and ident.threads == 2

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "version", missing)
    with pytest.raises(ValueError, match=r"^runtime litert: needs ai-edge-litert: pip install torch==2.13.0 -e "
                                         r"'.\[litert\]' \(docs/deployment.md#litert-tensorflow-lite\)$"):
        MachineIdentity.here("litert", 1)


class StandInInterpreter:
    """What :func:`.latency.tflite_workload` uses of ai-edge-litert's interpreter, recording calls."""

    made: list = []

    def __init__(self, model, threads, dtype):
        self.model, self.threads, self.dtype, self.log = model, threads, dtype, []
        StandInInterpreter.made.append(self)

    def allocate_tensors(self):
        self.log.append("allocate")

    def get_input_details(self):
        return [{"index": 7, "dtype": self.dtype, "quantization": (1 / 255, -128)}]

    def set_tensor(self, index, value):
        self.log.append(("set", index, value))

    def invoke(self):
        self.log.append("invoke")


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_a_tflite_workload_feeds_nhwc_once_and_times_invoke(monkeypatch, dtype):
    import slwsr_search.deploy.litert as litert

    StandInInterpreter.made = []
    monkeypatch.setattr(litert, "interpreter", lambda model, threads: StandInInterpreter(model, threads, dtype))
    x = np.random.default_rng(0).random((1, 3, 4, 5), dtype=np.float32)
    open_ = model_workload(b"TFL3", "litert-int8" if dtype == np.int8 else "litert", x, threads=3)
    run = open_()
    run()
    run()
    (it,) = StandInInterpreter.made
    assert it.model == b"TFL3" and it.threads == 3
    assert it.log[0] == "allocate" and it.log[2:] == ["invoke", "invoke"]  # a run is one invoke
    _, index, fed = it.log[1]
    assert index == 7 and fed.shape == (1, 4, 5, 3) and fed.dtype == dtype  # NHWC, int8 where the file takes it
    expected = x.transpose(0, 2, 3, 1)
    assert np.allclose(fed, expected) if dtype == np.float32 else np.array_equal(fed, np.round(expected * 255 - 128))
    with pytest.raises(ValueError, match="runtime torch: runs modules, not model files"):
        model_workload(b"", "torch", x)


def test_calibrating_litert_without_the_extra_is_one_line_before_any_part(monkeypatch, capsys, tmp_path):
    import importlib.metadata as md

    from slwsr_search.cli.latency import main

    monkeypatch.setattr(md, "version", lambda name: "2.3.0")  # the interpreter's distribution, its converter missing
    for name in ("litert_torch", "ai_edge_quantizer"):
        monkeypatch.setitem(sys.modules, name, None)
    built = []
    with pytest.raises(ValueError, match="LiteRT needs litert-torch: pip install"):
        calibrate(plan([4], [BlockSpec("res")]), "litert-int8", lr_size=(8, 8), on_prepare=lambda i, p: built.append(p))
    assert built == []
    monkeypatch.setenv("SLWSR_CACHE_DIR", str(tmp_path))
    code, _, err = run_command(main, capsys, "calibrate", "--runtime", "litert", "--n-feats", "4", "--blocks", "res",
                               "--lr-size", "8x8", prog="latency")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "LiteRT needs litert-torch: pip install" in err, err


@pytest.mark.slow
def test_a_litert_table_on_tiny_parts(capsys, tmp_path, monkeypatch):
    """The real converter and interpreter: `latency calibrate --runtime litert` on a width's four
    parts, then `predict`; a litert-int8 part and a whole network timed on the interpreter."""
    pytest.importorskip("litert_torch")  # the [litert] extra (1.1 GB): not in the test install
    pytest.importorskip("ai_edge_quantizer")
    from importlib.metadata import version

    from slwsr_search.cli.latency import main
    from slwsr_search.deploy.latency import spec_runner

    monkeypatch.setenv("SLWSR_CACHE_DIR", str(tmp_path))
    tiny = ["--runtime", "litert", "--lr-size", "12x8"]
    code, out, err = run_command(main, capsys, "calibrate", *tiny, "--n-feats", "4", "--blocks", "res", "--passes", "1",
                                 "--repeats", "1", "--warmup", "0", prog="latency")
    assert code == 0, err
    ident = MachineIdentity.here("litert", 1)
    assert ident.version == version("ai-edge-litert") and f"litert {ident.version}" in out
    assert "measured 4 part(s)" in out and str(table_path(ident, 4, (8, 12))) in out
    assert "[START]" not in out and "Model name" not in out  # the converter's chatter kept off stdout
    spec = ArchSpec.from_arch("x4-n4-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h")
    code, out, err = run_command(main, capsys, "predict", *tiny, "--arch", spec.arch, "--json", prog="latency")
    assert code == 0 and json.loads(out)["latency_ms"] > 0, err
    table = calibrate(plan([4], [BlockSpec("res")])[2:3], "litert-int8", lr_size=(8, 12), passes=1, repeats=1, warmup=0)
    assert table.identity.runtime == "litert-int8" and list(table.entries.values())[0] > 0
    spec_runner(spec, "litert", (8, 12))()
