"""Latency measurement: the timing statistics, the machine identity, both runtimes on a tiny image,
and the `bench latency` command's JSON."""

from __future__ import annotations

import json

import pytest

from slwsr_search.deploy.latency import lr_size_for, measure, spec_runner
from slwsr_search.model.latency_table import MachineIdentity
from slwsr_search.model.presets import get_preset


def test_measure_counts_warmups_and_orders_its_statistics():
    calls = []
    t = measure(lambda: calls.append(sum(range(20000))), repeats=7, warmup=2)
    assert len(calls) == 9 and t.repeats == 7 and t.warmup == 2
    assert 0 < t.min_ms <= t.q1_ms <= t.median_ms <= t.q3_ms
    assert t.cpu_median_ms > 0
    with pytest.raises(ValueError, match="repeats: expected >= 1"):
        measure(lambda: None, repeats=0)


def test_identity_and_sizes():
    ident = MachineIdentity.here("onnxruntime", 1)
    assert ident.runtime == "onnxruntime" and ident.threads == 1 and ident.cores >= 1 and ident.cpu
    with pytest.raises(ValueError, match="runtime: expected one of onnxruntime, onnxruntime-int8, torch, litert, "
                                         "litert-int8, got 'tflite'"):
        MachineIdentity.here("tflite", 1)
    assert lr_size_for(4) == (180, 320)
    with pytest.raises(ValueError, match="not a multiple of the scale x3"):
        lr_size_for(3, (720, 1280))


@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_runners_upscale_one_image(runtime):
    out = spec_runner(get_preset("s-lwsr16-half"), runtime, (12, 16))()
    shape = out[0].shape if runtime == "onnxruntime" else tuple(out.shape)
    assert tuple(shape) == (1, 3, 48, 64)


def test_bench_latency_json(capsys):
    import torch

    from slwsr_search.cli.bench import main

    threads = torch.get_num_threads()  # the command sets the process's threads: restore them after
    try:
        code = main(["latency", "--preset", "s-lwsr16-half", "--lr-size", "16x12", "--repeats", "2", "--warmup", "1",
                     "--json"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lr_size"] == "16x12" and [r["runtime"] for r in out["results"]] == ["onnxruntime", "torch"]
    for r in out["results"]:
        assert r["repeats"] == 2 and r["identity"]["threads"] == 1 and r["median_ms"] > 0
