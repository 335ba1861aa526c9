"""Seconds per supernet training step of each variant, one after another in one process (issue 35):
the ratios set the step counts of an equal-time comparison. Run from the repository root:
    python docs/results/2026-12-07-supernet/time_steps.py [STEPS]"""
import os
import sys
import time

import torch

from slwsr_search.jobs.supernet import budget, extremes, path_draw, setup_for
from slwsr_search.machine import cpu_label
from slwsr_search.search.space import parse_block_choice
from slwsr_search.search.study import StudyConfig
from slwsr_search.sr.data import load_pairs
from slwsr_search.training.supernet import SupernetPlan, SupernetTraining

DATA = "../shared/data/train"
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
cfg = StudyConfig.load("budget150k")
train = [p for d in ("T91", "BSD200") for p in load_pairs(f"{DATA}/{d}", 4, min_lr_size=48, progress=False)]
print(f"{cpu_label()}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}")
for sampling, exp in [("uniform", "shared"), ("uniform", "separate"), ("fair", "separate"), ("sandwich", "separate"),
                      ("fair", "shared")]:
    setup = setup_for(cfg, (16, 20), train=("T91", "BSD200"), expansions=exp)
    plan = SupernetPlan(10_000, sampling=sampling)
    torch.manual_seed(0)
    t = SupernetTraining(setup.build(), train, plan, path_draw(cfg, setup), [parse_block_choice(c) for c in setup.choices],
                         extremes(cfg, setup), budget(cfg, setup), setup.slot_indices)
    t.run(until=3)  # warm-up
    t0 = time.perf_counter()
    t.run(until=3 + steps)
    print(f"{sampling:9s} {exp:9s} {(time.perf_counter() - t0) / steps:.3f} s/step over {steps} steps")
print(f"load {os.getloadavg()[0]:.2f}")
