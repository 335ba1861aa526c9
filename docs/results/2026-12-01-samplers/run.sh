#!/bin/sh
# Issue 22 item 7: each encoding x sampler on budget150k, 32 trials each (about 40-60 minutes each
# on 2 idle cores); resumable (run again: each study continues), then the hypervolume per trial.
set -e
D=docs/results/2026-12-01-samplers
for f in $D/budget150k-*.toml; do
  python -m slwsr_search.run --study "$f" --device cpu --quiet --report-dir "reports/samplers/$(basename "$f" .toml)"
done
python -m slwsr_search.bench samplers $(for f in $D/budget150k-*.toml; do printf -- '--study %s ' "$f"; done) --out $D/hypervolume
