"""Seconds per supernet training step of each variant, one after another in one process (issue 35):
the ratios set the step counts of an equal-time comparison. On CUDA each variant runs twice, plain
fp32 and with the GPU's switches (channels_last + bf16 autocast), to see where they pay. From the
repository root:
    python docs/results/2026-12-07-supernet/time_steps.py [--steps N] [--device cuda] [--data DIR ...]"""
import argparse
import os
import time

import torch

from slwsr_search.jobs.supernet import budget, extremes, path_draw, setup_for
from slwsr_search.machine import cpu_label
from slwsr_search.search.space import parse_block_choice
from slwsr_search.search.study import StudyConfig
from slwsr_search.sr.data import load_pairs
from slwsr_search.training.device import Speedups, configure_device
from slwsr_search.training.supernet import SupernetPlan, SupernetTraining

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=20)
p.add_argument("--device", default="cpu")
p.add_argument("--data", action="append", help="training folders (default ../shared/data/train/T91 and BSD200)")
args = p.parse_args()
dev = torch.device(args.device)
configure_device(dev)
data = args.data or ["../shared/data/train/T91", "../shared/data/train/BSD200"]
cfg = StudyConfig.load("budget150k")
train = [q for d in data for q in load_pairs(d, 4, min_lr_size=48, progress=False)]
where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{cpu_label()}, {torch.get_num_threads()} threads"
print(f"{where}; {len(train)} training pictures; load {os.getloadavg()[0]:.2f}")
switches = {"fp32": Speedups(channels_last=False, bf16=False)}
if dev.type == "cuda":
    switches["channels_last+bf16"] = Speedups(channels_last=True, bf16=True)
for sampling, exp in [("uniform", "shared"), ("uniform", "separate"), ("fair", "separate"), ("sandwich", "separate"),
                      ("fair", "shared")]:
    for name, sp in switches.items():
        setup = setup_for(cfg, (16, 20), train=tuple(data), expansions=exp)
        torch.manual_seed(0)
        t = SupernetTraining(setup.build(), train, SupernetPlan(10_000, sampling=sampling), path_draw(cfg, setup),
                             [parse_block_choice(c) for c in setup.choices], extremes(cfg, setup), budget(cfg, setup),
                             setup.slot_indices, dev, sp)
        t.run(until=3)  # warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        t.run(until=3 + args.steps)  # each step reads its loss, so the GPU has finished it
        print(f"{sampling:9s} {exp:9s} {name:18s} {(time.perf_counter() - t0) / args.steps:.3f} s/step over {args.steps} steps")
print(f"load {os.getloadavg()[0]:.2f}")
