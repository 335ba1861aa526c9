"""The latency kit's round trip: export, the phone script (run against a stand-in adb and tool),
results in the benchmark tools' formats, import, prediction; and its refusals. For onnxruntime
(onnxruntime_perf_test) and LiteRT (benchmark_model: a stand-in converter everywhere, the real one
where the [litert] extra is installed)."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import numpy as np
import onnx
import pytest

from helpers import run_command
from slwsr_search.deploy.calibrate import plan
from slwsr_search.deploy.kit import ID_LINE, MANIFEST, RESULTS, SCRIPT, TOOLS, read_kit, write_kit
from slwsr_search.model.latency_table import LatencyTable, predict_latency
from slwsr_search.model.spec import ArchSpec, BlockSpec

PARTS = plan([4], [BlockSpec("res"), BlockSpec("ir", 2)])
SPEC = ArchSpec.from_arch("x4-n4-RI2R.RRI1.RRR.I2RR.RR-RRR.RI1R.RRR.RRI2-pool:h,2.1".replace("I1", "I2"))


def perf_test_output(ms: float) -> str:
    """What a current onnxruntime_perf_test prints (the lines of the published runs in
    ORT_PERF_TEST_OUTPUTS), for a run averaging ``ms``."""
    return (f"Session creation time cost: 0.0123 s\nFirst inference time cost: {ms * 1.5:.0f} ms\n"
            f"Total inference time cost: {ms * 50 / 1000:.4f} s\nTotal inference requests: 50\n"
            f"Average inference time cost total: {ms:.6f} ms\nTotal inference run time: {ms * 50 / 1000:.4f} s\n"
            f"Number of inferences per second: {1000 / ms:.2f}\nAvg CPU usage: 98 %\nPeak working set size: 41123840 bytes\n"
            f"Min Latency: {ms * 0.9 / 1000:.6f} s\nMax Latency: {ms * 1.3 / 1000:.6f} s\nP50 Latency: {ms / 1000:.6f} s\n")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return write_kit(tmp_path_factory.mktemp("kit"), PARTS, "onnxruntime", True, 2, 4, (12, 16), runs=7)


def _stamped(kit_dir, text: str) -> str:
    """``text`` as the kit's script saves a part's output: after the line naming the kit."""
    return f"{ID_LINE} {json.loads((kit_dir / MANIFEST).read_text())['kit_id']}\n{text}"


def _fill(kit_dir, ms_of=lambda i: 1.0 + i, device="Pixel 8\n8\n"):
    (kit_dir / RESULTS).mkdir(exist_ok=True)
    (kit_dir / RESULTS / "device.txt").write_text(device)
    for i, part in enumerate(json.loads((kit_dir / MANIFEST).read_text())["parts"]):
        (kit_dir / RESULTS / (part["file"][:-5] + ".txt")).write_text(_stamped(kit_dir, perf_test_output(ms_of(i))))


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
    env = _stand_in_phone(tmp_path, perf_test_output(2.5))
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
    missing.write_text(_stamped(kit, "count=50 first=1 curr=1 min=1 max=2 avg=1.2 std=0\n"
                       "Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473\n"))
    with pytest.raises(ValueError, match=f"{missing}: holds benchmark_model output, but this kit measures onnxruntime"):
        read_kit(kit)
    missing.write_text(_stamped(kit, "Segmentation fault\n"))
    with pytest.raises(ValueError, match=f"{missing}: no time in it"):
        read_kit(kit)
    with pytest.raises(ValueError, match=f"{tmp_path / MANIFEST}: missing: not a latency kit folder"):
        read_kit(tmp_path)
    with pytest.raises(ValueError, match="runtime: expected one of onnxruntime, litert, got 'tvm'"):
        write_kit(tmp_path / "k", PARTS[:1], "tvm", False, 1, 4, (8, 8))


def benchmark_model_output(us: float) -> str:
    """What LiteRT's benchmark_model prints (its README's example run), averaging ``us`` microseconds."""
    return ("STARTING!\nLog parameter values verbosely: [0]\nNum threads: [2]\nGraph: [/data/local/tmp/part.tflite]\n"
            "#threads used for CPU inference: [2]\nUse xnnpack: [1]\nLoaded model /data/local/tmp/part.tflite\n"
            "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nThe input model file size (MB): 0.08\n"
            "Initialized session in 3.83ms.\nRunning benchmark for at least 1 iterations and at least 0.5 seconds but "
            "terminate if exceeding 150 seconds.\ncount=133 first=5681 curr=4019 min=3955 max=5681 avg=4090.71 std=254\n\n"
            "Running benchmark for at least 5 iterations and at least 1 seconds but terminate if exceeding 150 seconds.\n"
            f"count=255 first=4067 curr=4010 min=3998 max=4279 avg={us} std=41\n\n"
            f"Inference timings in us: Init: 3830, First inference: 5681, Warmup (avg): 4090.71, Inference (avg): {us}\n"
            "Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the "
            "actual memory footprint of the model at runtime. Take the information at your discretion.\n"
            "Memory footprint delta from the start of the tool (MB): init=1.57812 overall=1.98438\n")


def _stand_in_phone(tmp_path, tool_output: str) -> dict:
    """A stand-in adb (runs 'shell' here, copies on 'push'), getprop and benchmark tool (printing
    ``tool_output`` after its arguments) on PATH: the environment that runs a kit's script."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    scripts = {
        "adb": '#!/bin/sh\ncase "$1" in\n shell) shift; sh -c "$*";;\n push) mkdir -p "$3"; cp -r "$2"/. "$3";;\nesac\n',
        "getprop": "#!/bin/sh\necho 'Stand-in Phone'\n",
        "tool": f"#!/bin/sh\necho \"args: $*\"\ncat <<'EOF'\n{tool_output}EOF\n",
    }
    for name, text in scripts.items():
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(stat.S_IRWXU)
    return {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "TOOL": str(bin_ / "tool"),
            "KIT_DIR": str(tmp_path / "phone")}


def test_a_litert_kit_round_trip_with_a_stand_in_converter(tmp_path, capsys):
    """The litert kit's logic without the [litert] extra: .tflite files (a stand-in converter's
    bytes), benchmark_model's flags in the script, its output (microseconds) read per copy, the
    litert-int8 table predicting and named in a study's [latency] as RUNTIMES spells it."""
    from slwsr_search.cli.latency import main
    from slwsr_search.model.latency_table import RUNTIMES
    from slwsr_search.search.study_tables import LatencySettings

    converted = []
    kit = write_kit(tmp_path / "kit", PARTS, "litert", True, 2, 4, (8, 8), runs=5,
                    convert=lambda part: converted.append(part.key) or b"TFL3" + part.key.encode())
    assert converted == [p.key for p in PARTS]
    m = json.loads((kit / MANIFEST).read_text())
    assert m["runtime"] == "litert-int8" and m["tool"] == "benchmark_model" and m["kit_runtime"] == "litert"
    assert [p["file"] for p in m["parts"]] == [p.key.replace(":", "_") + ".tflite" for p in PARTS]
    assert (kit / "parts" / m["parts"][0]["file"]).read_bytes() == b"TFL3" + PARTS[0].key.encode()
    assert "--num_threads=2 --num_runs=5 --use_xnnpack=true" in (kit / SCRIPT).read_text()
    env = _stand_in_phone(tmp_path, benchmark_model_output(4047.52))
    p = subprocess.run(["sh", str(kit / SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = (kit / RESULTS / (PARTS[0].key.replace(":", "_") + ".txt")).read_text()
    assert f"--graph={tmp_path / 'phone'}/parts/{m['parts'][0]['file']}" in out
    table = read_kit(kit)
    assert table.identity.runtime == "litert-int8" and table.identity.runtime in RUNTIMES
    assert table.identity.version == "benchmark_model" and table.identity.cpu == "Stand-in Phone"
    for q in PARTS:
        assert table.entries[q.key] == pytest.approx(4.04752 / q.copies)
    assert predict_latency(SPEC, table).ms > 0
    code, out, err = run_command(lambda a: main(a, "latency"), capsys, "import", str(kit), prog="latency")
    assert code == 0 and 'runtime = "litert-int8", threads = 2' in out, err
    assert LatencySettings.from_dict({"runtime": "litert-int8", "threads": 2}, "[latency]", tmp_path).runtime == "litert-int8"
    # an onnxruntime_perf_test output where benchmark_model's was expected
    (kit / RESULTS / (PARTS[1].key.replace(":", "_") + ".txt")).write_text(_stamped(kit, perf_test_output(2.0)))
    with pytest.raises(ValueError, match="holds onnxruntime_perf_test output, but this kit measures litert"):
        read_kit(kit)


def _without_litert(monkeypatch):
    """As where the [litert] extra is not installed: importing its modules fails."""
    import sys

    for name in ("litert_torch", "ai_edge_quantizer", "ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)


def test_a_litert_kit_without_the_extra_is_one_line_before_any_file(tmp_path, capsys, monkeypatch):
    from slwsr_search.cli.latency import main

    _without_litert(monkeypatch)
    with pytest.raises(ValueError, match=r"LiteRT needs litert-torch: pip install torch==2.13.0 -e '.\[litert\]'"):
        write_kit(tmp_path / "k", PARTS[:1], "litert", False, 1, 4, (8, 8))
    assert not (tmp_path / "k").exists()
    code, out, err = run_command(lambda a: main(a, "latency"), capsys, "kit", "--runtime", "litert", "--int8",
                                 "--n-feats", "4", "--blocks", "res", "--out", str(tmp_path / "k"), prog="latency")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "LiteRT needs litert-torch" in err, err


@pytest.mark.slow
def test_a_litert_kit_with_the_real_converter(tmp_path):
    """Parts as the real converter writes them: NHWC in and out (as the whole network's file), no
    transpose inside a block chain; the int8 kit's files take int8 inputs."""
    pytest.importorskip("litert_torch")  # the [litert] extra (1.1 GB): not in the test install
    pytest.importorskip("ai_edge_quantizer")
    from slwsr_search.deploy.litert import interpreter

    skeleton, chain = PARTS[0], PARTS[-1]  # the skeleton with one pool source, an ir2 chain without activation
    for int8, parts in ((False, [skeleton, chain]), (True, [chain])):
        kit = write_kit(tmp_path / f"kit{int8}", parts, "litert", int8, 1, 4, (8, 12), runs=3)
        files = [p["file"] for p in json.loads((kit / MANIFEST).read_text())["parts"]]
        for part, name in zip(parts, files):
            it = interpreter(kit / "parts" / name)
            (i,), (o,) = it.get_input_details(), it.get_output_details()
            channels = 3 if part.block is None else part.n_feats
            assert list(i["shape"]) == [1, 8, 12, channels], part.key
            assert list(o["shape"]) == ([1, 32, 48, 3] if part.block is None else [1, 8, 12, channels])
            assert (i["dtype"] == np.int8) == int8
            if part.block is not None:
                assert "TRANSPOSE" not in {d["op_name"] for d in it._get_ops_details()}


def test_benchmark_models_output_is_read_in_microseconds():
    import re

    tool = TOOLS["litert"]
    line = "Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473"
    assert float(re.search(tool.pattern, line).group(1)) * tool.per_ms == pytest.approx(266.473)
    # past a second the C++ stream writes 6 significant digits with an exponent; Android builds log "INFO: "
    line = "INFO: Inference timings in us: Init: 17187, First inference: 3512391, Warmup (avg): 3.51239e+06, Inference (avg): 2.95034e+06"
    assert float(re.search(tool.pattern, line).group(1)) * tool.per_ms == pytest.approx(2950.34)


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


#: Outputs of onnxruntime_perf_test as published runs printed them, verbatim, with the mean (ms) the
#: kit must read from each.
ORT_PERF_TEST_OUTPUTS = {
    # current builds: "... cost total:". A Vivo X300 phone's C1-Pro core, from Arm's learning path
    # ArmDeveloperEcosystem/arm-learning-paths, content/learning-paths/mobile-graphics-and-gaming/
    # performance_onnxruntime_kleidiai_sme2/profiling_example.md (ORT with SME2)
    "total, arm-learning-paths": ("""\
Setting intra_op_num_threads to 1
Disabling intra-op thread spinning between runs
Session creation time cost: 0.217932 s
First inference time cost: 196 ms
Total inference time cost: 0.49481 s
Total inference requests: 5
Average inference time cost total: 98.961997 ms
Total inference run time: 0.494854 s
Number of inferences per second: 10.104
Avg CPU usage: 11 %
Peak working set size: 271122432 bytes
Avg CPU usage:11
Peak working set size:271122432
Runs:5
Min Latency: 0.0958204 s
Max Latency: 0.101519 s
P50 Latency: 0.0995086 s
P90 Latency: 0.101519 s
P95 Latency: 0.101519 s
P99 Latency: 0.101519 s
P999 Latency: 0.101519 s
""", 98.961997),
    # current builds again, another vendor's: spacemit-com/docs-ai,
    # zh/compute_stack/ai_compute_stack/modelzoo.md (spacemit-ort 2.0.3, an execution provider's lines first)
    "total, spacemit docs-ai": ("""\
using SpaceMITExecutionProvider
setting SPACEMIT_EP_INTRA_THREAD_NUM : 4
Setting intra_op_num_threads to 1
Session creation time cost: 0.169475 s
First inference time cost: 109 ms
Total inference time cost: 0.0727021 s
Total inference requests: 10
Average inference time cost total: 7.270205 ms
Total inference run time: 0.0727619 s
Number of inferences per second: 137.435
Avg CPU usage: 62 %
Peak working set size: 91336704 bytes
Avg CPU usage:62
Peak working set size:91336704
Runs:10
Min Latency: 0.00720383 s
Max Latency: 0.00730163 s
P50 Latency: 0.00727787 s
P90 Latency: 0.00730163 s
P95 Latency: 0.00730163 s
P99 Latency: 0.00730163 s
P999 Latency: 0.00730163 s
""", 7.270205),
    # older builds: "... cost: X ms". onnxruntime 1.3.1 on an Android board, from
    # https://github.com/ARM-software/ComputeLibrary/issues/850 (its first run, the ACL provider)
    "older, ComputeLibrary#850": ("""\
# onnxruntime_perf_test -m times -r 10 -e acl /sdcard/testdata/squeezenet1.0-9/model.onnx result.csv
Session creation time cost: 0.127918 s
Total inference time cost: 1.44871 s
Total inference requests: 10
Average inference time cost: 144.871 ms
Total inference run time: 1.44916 s
Avg CPU usage: 68 %
Peak working set size: 158171136 bytes
""", 144.871),
    # older still, no space after the colons: https://github.com/microsoft/onnxruntime/pull/2798
    # (the pull request that named these lines "inference time cost")
    "older, onnxruntime#2798": ("""\
Setting intra_op_num_threads to 0
Session creation time cost:1.84149 s
Total inference time cost:0.734606 s
Total inference requests:1
Average inference time cost:734.606 ms
Total inference run time:0.734761 s
""", 734.606),
}

#: Outputs of LiteRT's (TensorFlow Lite's) benchmark_model as published runs printed them,
#: verbatim, with the mean (us) the kit must read from each.
BENCHMARK_MODEL_OUTPUTS = {
    # the XNNPACK delegate, as the litert kit runs it: https://github.com/google/XNNPACK/issues/999
    # (a Raspberry Pi, an int8 model)
    "xnnpack, XNNPACK#999": ("""\
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [yolo_best_recall_int8_static.tflite]
Enable op profiling: [1]
#threads used for CPU inference: [4]
Loaded model yolo_best_recall_int8_static.tflite
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
The input model file size (MB): 3.67827
Initialized session in 18.777ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=9 first=64791 curr=56295 min=54873 max=65831 avg=57758.2 std=4065

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=58154 curr=53809 min=53077 max=60727 avg=55043.2 std=1562

Inference timings in us: Init: 18777, First inference: 64791, Warmup (avg): 57758.2, Inference (avg): 55043.2
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=8.97656 overall=18.7227
Profiling Info for Benchmark Initialization:
""", 55043.2),
    # a super-resolution network (ESPCN) on a phone: https://github.com/tensorflow/tensorflow/issues/42507
    "espcn, tensorflow#42507": ("""\
STARTING!
Duplicate flags: num_threads
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [/data/local/tmp/espcn_harmonic_2x_slim_w_cl.tflite]
Enable op profiling: [1]
#threads used for CPU inference: [4]
Loaded model /data/local/tmp/espcn_harmonic_2x_slim_w_cl.tflite
The input model file size (MB): 0.004448
Initialized session in 0.855ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=15 first=49060 curr=33682 min=32825 max=49060 avg=34825.1 std=3930

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450

Inference timings in us: Init: 855, First inference: 49060, Warmup (avg): 34825.1, Inference (avg): 33209.4
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=0 overall=12.8672
""", 33209.4),
}


@pytest.mark.parametrize("name", list(ORT_PERF_TEST_OUTPUTS))
def test_published_onnxruntime_perf_test_outputs_are_read(name, tmp_path):
    """Each published output, old lines and current ones, gives its mean and nothing else (not
    the first inference's ms, not a latency percentile); and is refused by a litert kit."""
    from slwsr_search.deploy.kit import parse_output

    text, ms = ORT_PERF_TEST_OUTPUTS[name]
    path = tmp_path / "part.txt"
    path.write_text(text)
    assert parse_output(path, TOOLS["onnxruntime"]) == pytest.approx(ms)
    path.write_text(text.replace("\n", "\r\n"))  # CRLF, as adb shell passes a phone's lines on some hosts
    assert parse_output(path, TOOLS["onnxruntime"]) == pytest.approx(ms)
    with pytest.raises(ValueError, match="holds onnxruntime_perf_test output, but this kit measures litert"):
        parse_output(path, TOOLS["litert"])


@pytest.mark.parametrize("name", list(BENCHMARK_MODEL_OUTPUTS))
def test_published_benchmark_model_outputs_are_read_in_microseconds(name, tmp_path):
    from slwsr_search.deploy.kit import parse_output

    text, us = BENCHMARK_MODEL_OUTPUTS[name]
    path = tmp_path / "part.txt"
    path.write_text(text)
    assert parse_output(path, TOOLS["litert"]) == pytest.approx(us / 1000)
    with pytest.raises(ValueError, match="holds benchmark_model output, but this kit measures onnxruntime"):
        parse_output(path, TOOLS["onnxruntime"])


def test_a_kit_of_current_onnxruntime_outputs_imports(kit):
    """The round trip with outputs as today's onnxruntime_perf_test writes them (the published run's
    text, its mean replaced per part)."""
    text, ms = ORT_PERF_TEST_OUTPUTS["total, arm-learning-paths"]
    _fill(kit)
    for i, part in enumerate(json.loads((kit / MANIFEST).read_text())["parts"]):
        (kit / RESULTS / (part["file"][:-5] + ".txt")).write_text(_stamped(kit, text.replace(f"{ms:.6f}", f"{2.0 + i:.6f}")))
    table = read_kit(kit)
    for i, p in enumerate(PARTS):
        assert table.entries[p.key] == pytest.approx((2.0 + i) / p.copies)


def test_no_other_line_and_no_second_run_is_taken_for_the_mean(tmp_path):
    """Lines that name a time but are not the mean are not read; two runs' outputs in one file are
    refused (which run the part's time is would be a guess)."""
    from slwsr_search.deploy.kit import parse_output

    path = tmp_path / "part.txt"
    path.write_text("First inference time cost: 196 ms\nP50 Latency: 0.0995086 s\n"
                    "Average inference time cost submission: 3.1 ms\nrun 3: Average inference time cost: 9 ms\n")
    with pytest.raises(ValueError, match="no time in it"):
        parse_output(path, TOOLS["onnxruntime"])
    one = ORT_PERF_TEST_OUTPUTS["total, spacemit docs-ai"][0]
    path.write_text(one + one.replace("7.270205", "7.5"))
    with pytest.raises(ValueError, match=r"part.txt: 2 times in it \(7.270205, 7.5\); expected one run"):
        parse_output(path, TOOLS["onnxruntime"])
    # benchmark_model's summary read on its own line only: a later line's "Inference (avg)" is not it
    path.write_text("Inference timings in us: Init: 855, First inference: 49060\nInference (avg): 12\n")
    with pytest.raises(ValueError, match="no time in it"):
        parse_output(path, TOOLS["litert"])


def test_outputs_left_by_another_kit_in_the_folder_are_refused(tmp_path):
    """An fp32 kit run on the phone, then an int8 kit written into the same folder and its script
    not (or not wholly) run: the fp32 outputs, under the same part file names, are not read as the
    int8 parts' times. A kit written again alike keeps its id, and its outputs stay valid."""
    kit = write_kit(tmp_path / "kit", PARTS[:3], "onnxruntime", False, 1, 4, (8, 8), runs=3)
    env = _stand_in_phone(tmp_path, perf_test_output(2.5))
    p = subprocess.run(["sh", str(kit / SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    fp32_id = json.loads((kit / MANIFEST).read_text())["kit_id"]
    out = (kit / RESULTS / (PARTS[0].key.replace(":", "_") + ".txt")).read_text()
    assert out.startswith(f"{ID_LINE} {fp32_id}\nargs: ")
    assert set(read_kit(kit).entries) == {q.key for q in PARTS[:3]}
    write_kit(kit, PARTS[:3], "onnxruntime", False, 1, 4, (8, 8), runs=3)  # the same kit again
    assert json.loads((kit / MANIFEST).read_text())["kit_id"] == fp32_id and read_kit(kit).entries
    write_kit(kit, PARTS[:3], "onnxruntime", True, 1, 4, (8, 8), runs=3)  # the int8 kit, same file names
    int8_id = json.loads((kit / MANIFEST).read_text())["kit_id"]
    assert int8_id != fp32_id
    with pytest.raises(ValueError, match=f"results/{PARTS[0].key.replace(':', '_')}.txt: an output of kit {fp32_id}, "
                                         f"not of this one \\({int8_id}, manifest.json\\): left from another kit"):
        read_kit(kit)
    (kit / RESULTS / (PARTS[0].key.replace(":", "_") + ".txt")).write_text(perf_test_output(2.5))  # by hand, no id
    with pytest.raises(ValueError, match=f"its first line is not '{ID_LINE} {int8_id}' \\(this kit"):
        read_kit(kit)
    p = subprocess.run(["sh", str(kit / SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert read_kit(kit).identity.runtime == "onnxruntime-int8"
