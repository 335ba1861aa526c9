"""The latency kit's round trip: export, the phone script (run against a stand-in adb and tool),
results in the benchmark tools' formats, import, prediction; and its refusals."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import onnx
import pytest

from helpers import run_command
from slwsr_search.deploy.calibrate import plan
from slwsr_search.deploy.kit import MANIFEST, RESULTS, SCRIPT, TOOLS, read_kit, write_kit
from slwsr_search.model.latency_table import LatencyTable, predict_latency
from slwsr_search.model.spec import ArchSpec, BlockSpec

PARTS = plan([4], [BlockSpec("res"), BlockSpec("ir", 2)])
SPEC = ArchSpec.from_arch("x4-n4-RI2R.RRI1.RRR.I2RR.RR-RRR.RI1R.RRR.RRI2-pool:h,2.1".replace("I1", "I2"))


def perf_test_output(ms: float) -> str:
    """What onnxruntime_perf_test prints (the lines its docs name), for a run averaging ``ms``."""
    return (f"Session creation time cost: 0.0123 s\nFirst inference time cost: {ms * 1.5:.0f} ms\n"
            f"Total inference time cost: {ms * 50 / 1000:.4f} s\nTotal inference requests: 50\n"
            f"Average inference time cost: {ms} ms\nTotal inference run time: {ms * 50 / 1000:.4f} s\n"
            f"Number of inferences per second: {1000 / ms:.2f}\nAvg CPU usage: 98 %\nPeak working set size: 41123840 bytes\n"
            f"Min Latency: {ms * 0.9 / 1000:.6f} s\nMax Latency: {ms * 1.3 / 1000:.6f} s\nP50 Latency: {ms / 1000:.6f} s\n")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return write_kit(tmp_path_factory.mktemp("kit"), PARTS, "onnxruntime", True, 2, 4, (12, 16), runs=7)


def _fill(kit_dir, ms_of=lambda i: 1.0 + i, device="Pixel 8\n8\n"):
    (kit_dir / RESULTS).mkdir(exist_ok=True)
    (kit_dir / RESULTS / "device.txt").write_text(device)
    for i, part in enumerate(json.loads((kit_dir / MANIFEST).read_text())["parts"]):
        (kit_dir / RESULTS / (part["file"][:-5] + ".txt")).write_text(perf_test_output(ms_of(i)))


def test_the_kit_holds_every_part_as_an_int8_model_and_a_manifest(kit):
    m = json.loads((kit / MANIFEST).read_text())
    assert m["runtime"] == "onnxruntime-int8" and m["threads"] == 2 and m["lr_size"] == [12, 16] and m["runs"] == 7
    assert [p["key"] for p in m["parts"]] == [p.key for p in PARTS]
    for p in m["parts"]:
        proto = onnx.load(str(kit / "parts" / p["file"]))
        assert "QuantizeLinear" in {n.op_type for n in proto.graph.node}
        dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
        assert dims[2:] == [12, 16]  # static shape: what a phone's tool times
    script = (kit / SCRIPT).read_text()
    assert os.access(kit / SCRIPT, os.X_OK) and "-m times -r 7 -e cpu -x 2 -I" in script and "adb push" in script


def test_import_reads_the_tools_outputs_per_copy_and_predicts(kit, tmp_path, capsys):
    from slwsr_search.cli.latency import main

    _fill(kit)
    table = read_kit(kit)
    assert table.identity.cpu == "Pixel 8" and table.identity.cores == 8
    assert table.identity.runtime == "onnxruntime-int8" and table.identity.threads == 2
    for i, p in enumerate(PARTS):
        assert table.entries[p.key] == pytest.approx((1.0 + i) / p.copies)
    assert predict_latency(SPEC, table).ms > 0
    code, out, err = run_command(lambda a: main(a, "latency"), capsys, "import", str(kit), "--out", str(tmp_path / "t.json"),
                                 prog="latency")
    assert code == 0 and "Pixel 8" in out, err
    assert LatencyTable.load(tmp_path / "t.json").entries == table.entries
    assert 'runtime = "onnxruntime-int8", threads = 2' in out


def test_the_phone_script_runs_each_part_and_saves_its_output(tmp_path):
    """run_on_phone.sh against a stand-in adb (runs 'shell' here, copies on 'push') and a stand-in
    tool printing onnxruntime_perf_test's lines: every part's output lands in results/."""
    kit = write_kit(tmp_path / "kit", PARTS[:3], "onnxruntime", False, 1, 4, (8, 8), runs=3)
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    scripts = {
        "adb": '#!/bin/sh\ncase "$1" in\n shell) shift; sh -c "$*";;\n push) mkdir -p "$3"; cp -r "$2"/. "$3";;\nesac\n',
        "getprop": "#!/bin/sh\necho 'Stand-in Phone'\n",
        "perf_test": f"#!/bin/sh\necho \"args: $*\"\ncat <<'EOF'\n{perf_test_output(2.5)}EOF\n",
    }
    for name, text in scripts.items():
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(stat.S_IRWXU)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "TOOL": str(bin_ / "perf_test"),
           "KIT_DIR": str(tmp_path / "phone")}
    p = subprocess.run(["sh", str(kit / SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(tmp_path / "phone" / "parts")) == sorted(os.listdir(kit / "parts"))
    table = read_kit(kit)
    assert table.identity.cpu == "Stand-in Phone" and set(table.entries) == {q.key for q in PARTS[:3]}
    out = (kit / RESULTS / (PARTS[0].key.replace(":", "_") + ".txt")).read_text()
    assert f"-I {tmp_path / 'phone'}/parts/" in out and "-x 1" in out


def test_refusals_name_the_file(kit, tmp_path):
    _fill(kit)
    missing = kit / RESULTS / "block_res_n4_act.txt"
    missing.unlink()
    with pytest.raises(ValueError, match=f"{missing}: missing"):
        read_kit(kit)
    # another tool's output where onnxruntime_perf_test's was expected
    missing.write_text("count=50 first=1 curr=1 min=1 max=2 avg=1.2 std=0\n"
                       "Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473\n")
    with pytest.raises(ValueError, match=f"{missing}: holds benchmark_model output, but this kit measures onnxruntime"):
        read_kit(kit)
    missing.write_text("Segmentation fault\n")
    with pytest.raises(ValueError, match=f"{missing}: no time in it"):
        read_kit(kit)
    with pytest.raises(ValueError, match=f"{tmp_path / MANIFEST}: missing: not a latency kit folder"):
        read_kit(tmp_path)
    with pytest.raises(ValueError, match="litert: its model files need the \\[litert\\] converter"):
        write_kit(tmp_path / "k", PARTS[:1], "litert", False, 1, 4, (8, 8))
    with pytest.raises(ValueError, match="runtime: expected one of onnxruntime, litert, got 'tvm'"):
        write_kit(tmp_path / "k", PARTS[:1], "tvm", False, 1, 4, (8, 8))


def test_benchmark_models_output_is_read_in_microseconds():
    import re

    tool = TOOLS["litert"]
    line = "Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473"
    assert float(re.search(tool.pattern, line).group(1)) * tool.per_ms == pytest.approx(266.473)


def test_the_command_exports_a_kit(tmp_path, capsys):
    from slwsr_search.cli.latency import main

    code, out, err = run_command(lambda a: main(a, "latency"), capsys, "kit", "--n-feats", "4", "--blocks", "res",
                                 "--lr-size", "16x12", "--out", str(tmp_path / "k"), prog="latency")
    assert code == 0, err
    assert "4 part(s) for onnxruntime_perf_test" in out and (tmp_path / "k" / MANIFEST).is_file()
    code, _, err = run_command(lambda a: main(a, "latency"), capsys, "import", str(tmp_path / "k"), prog="latency")
    assert code == 2 and "missing" in err and len(err.strip().splitlines()) == 1


def test_a_device_file_without_its_core_count_is_refused(kit):
    _fill(kit, device="Pixel 8\n")
    with pytest.raises(ValueError, match="device.txt: line 2: expected the core count"):
        read_kit(kit)
    _fill(kit, device="\n8\n")
    with pytest.raises(ValueError, match="device.txt: line 1: expected the device's model name"):
        read_kit(kit)
    assert read_kit(kit, device="Pixel 9").identity.cpu == "Pixel 9"
