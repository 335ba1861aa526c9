#!/bin/sh
# Issue 22 item 7: each encoding x sampler on budget150k, up to 32 trials each; resumable (run again:
# each study continues). The six studies advance together, 8 trials at a time (8, 16, 24, 32 in
# total), so a run cut off at the end of a sitting leaves them all at a comparable depth. Then the
# hypervolume per trial. Usage (repository root): sh docs/results/2026-12-01-samplers/run.sh [DEPTHS [DIR]]
# e.g. `... run.sh "8 16"` to stop at 16 trials each; DIR: another folder of budget150k-*.toml studies
# (default this one), e.g. `... run.sh "8 16" docs/results/2026-12-04-samplers-seed1` for the second seed.
# The finished studies' stores (budget150k-*.db) are no longer in the repository (issue 34); to continue
# them rather than start afresh, restore them first: sh docs/results/restore-dropped.sh budget150k-
set -e
D=${2:-docs/results/2026-12-01-samplers}
for n in ${1:-8 16 24 32}; do
  for f in $D/budget150k-*.toml; do
    python -m slwsr_search.run --study "$f" --device cpu --quiet --n-trials "$n" \
      --report-dir "reports/samplers/$(basename "$f" .toml)"
  done
done
python -m slwsr_search.bench samplers $(for f in $D/budget150k-*.toml; do printf -- '--study %s ' "$f"; done) --out $D/hypervolume
