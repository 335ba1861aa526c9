#!/bin/sh
# Issue 22's long reference: resumable; run from the repository root, in any sitting, on any machine
# (the same thread count per worker keeps it bit-exact: --workers 2 on 2 cores gives 1 thread each).
# In the background, stop it with SIGTERM to the parent (kill PID): background jobs ignore SIGINT.
exec python -m slwsr_search.fidelity --study budget150k --designs 0 --seeds 2 \
  --design-file docs/results/2026-12-01-long-reference/designs.txt \
  --reference-steps 5000 --ladder 250,500,1000,2000,3000,4000 --checkpoint-every 250 \
  --reference-repeat s-lwsr16,t3-d1 \
  --reference-train-dir ../shared/data/train/T91 --reference-train-dir ../shared/data/train/BSD200 \
  --reference-val-dir ../shared/data/Set5 --reference-val-dir ../shared/data/Set14 \
  --store docs/results/2026-12-01-long-reference/audit.jsonl --out reports/budget150k/fidelity-long \
  --device cpu --workers 2 "$@"
