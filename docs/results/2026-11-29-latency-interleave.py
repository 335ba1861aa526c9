import json, statistics, sys, time, os
import torch
torch.set_num_threads(1)
from slwsr_search.model.latency import spec_runner
from slwsr_search.model.presets import get_preset
from slwsr_search.model.spec import ArchSpec
a = get_preset("s-lwsr16")
b = ArchSpec.from_dict(json.load(open("docs/results/2026-11-29-finalize/trial3/finalize.json"))["spec"])
ra, rb = spec_runner(a, "onnxruntime", (180, 320)), spec_runner(b, "onnxruntime", (180, 320))
for _ in range(3): ra(); rb()
ta, tb = [], []
for _ in range(20):
    c = time.thread_time(); ra(); ta.append(time.thread_time() - c)
    c = time.thread_time(); rb(); tb.append(time.thread_time() - c)
ratios = [y / x for x, y in zip(ta, tb)]
print(json.dumps({"a_ms": statistics.median(ta) * 1e3, "b_ms": statistics.median(tb) * 1e3,
                  "ratio_of_medians": statistics.median(tb) / statistics.median(ta), "median_pair_ratio": statistics.median(ratios)}))
