"""Shared test data: presets and seeded random specs (tests are generated from them)."""

from __future__ import annotations

import torch

from slwsr_search.spec import random_spec

# Keep tests quick and repeatable on 2 cores.
torch.set_num_threads(2)

N_RANDOM = 50
#: 50 seeded random valid specs: res/ir mixes, expansion ratios, activations, pools, scales.
RANDOM_SPECS = [random_spec(seed, n_feats=(4, 6, 8, 12)) for seed in range(N_RANDOM)]
