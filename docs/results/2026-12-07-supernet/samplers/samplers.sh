#!/bin/sh
# Issue 35 item 5: NSGA-II, TPE and random search on budget150k's budget, every design scored by a
# supernet's inherited weights (on the built-in photos), each sampler and seed given the same time.
#   sh docs/results/2026-12-07-supernet/samplers/samplers.sh SUPERNET.pt SECONDS
# One study at a time (2 cores), each resumable (run again: a finished one starts nothing new). The
# trials go to reports/supernet/samplers.db (not committed); the hypervolumes to hypervolume.txt/.csv here.
set -e
D=docs/results/2026-12-07-supernet/samplers
SN=$1; T=$2
for s in nsgaii tpe random; do
  for seed in 0 1; do
    python -m slwsr_search.run --study $D/sn-$s-s$seed.toml --supernet "$SN" --timeout "$T" --no-report --quiet \
      > $D/run-sn-$s-s$seed.log 2>&1 || { tail -5 $D/run-sn-$s-s$seed.log; exit 1; }
    tail -2 $D/run-sn-$s-s$seed.log
  done
done
python -m slwsr_search.bench samplers $(for s in nsgaii tpe random; do for seed in 0 1; do printf -- '--study %s ' $D/sn-$s-s$seed.toml; done; done) \
  --at 50 100 200 400 800 --out $D/hypervolume | tee $D/hypervolume.txt
