#!/bin/sh
# Issue 35 on a lent GPU, through the device tool: supernet step times on CUDA (fp32 against
# channels_last + bf16), then a uniform, separate-expansion supernet trained there and audited
# against the long reference. PREPARED, NOT YET RUN: no GPU has been lent to this task so far.
#
# Stage it here first, from the repository root (the device machine reaches nothing, ../shared
# does not travel, and its image has PyTorch but not the package's other dependencies):
#   sh docs/results/2026-12-07-supernet/gpu-stage.sh
# then call the device tool:
#   run(command="sh docs/results/2026-12-07-supernet/gpu.sh", carry=[".whl"], timeout_s=540)
# Figures come back under $OUT: time-steps-gpu.txt, train-gpu.txt, audit-gpu.json/.txt.
set -e
O=${OUT:-/tmp/gpu-out}
mkdir -p "$O"
python3 -m pip install -q --no-deps --no-index .whl/*.whl
export PYTHONPATH=$PWD
D=shared/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$O/gpu.txt"
python3 docs/results/2026-12-07-supernet/time_steps.py --device cuda --steps 30 --data $D/train/BSD200 \
  2>&1 | grep -v -i warn | tee "$O/time-steps-gpu.txt"
# 150 of BSD200's pictures (all of T91 + BSD200 do not fit the 64 MiB that travels), so not the CPU
# supernets' data (T91 + BSD200): the audit is of a GPU-trained variant, its step times the figure to compare
python3 -m slwsr_search.supernet train --study budget150k --widths 16,20 --sampling uniform --expansions separate \
  --steps 3000 --train-dir $D/train/BSD200 --device cuda --out "$O/sn.pt" --quiet 2>&1 | tee "$O/train-gpu.txt"
python3 -m slwsr_search.supernet audit --study budget150k --supernet "$O/sn.pt" --device cuda --no-record \
  --reference docs/results/2026-12-01-samplers/fronts-14-designs.csv --horizon 5000 \
  --val-dir $D/Set5 --val-dir $D/Set14 --out "$O/audit-gpu.json" 2>&1 | tee "$O/audit-gpu.txt"
rm -f "$O/sn.pt"  # 7.8 MB of weights and moments: not needed back
