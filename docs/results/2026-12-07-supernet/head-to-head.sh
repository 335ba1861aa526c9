#!/bin/sh
# Issue 35, item 7: each design of head-to-head-designs.txt (picks.py) trained from scratch with the
# long protocol (slwsr finalize: 5,000 steps of 16 x 48 px, lr 1e-3 cosine, T91 + BSD200), seeds 0
# and 1, scored on Set5 and Set14 with and without the x8 self-ensemble; two trainings at a time,
# one thread each (2 cores). Resumable on one machine: finalize continues its checkpoint in
# reports/h2h/ (over 1 MB, not committed); a finished one (its table.csv written) is skipped.
#   sh docs/results/2026-12-07-supernet/head-to-head.sh [LABEL...]   (default: every design)
D=docs/results/2026-12-07-supernet
DATA=../shared/data
labels=${*:-$(cut -d' ' -f1 $D/head-to-head-designs.txt)}
one() {  # LABEL SEED
  arch=$(awk -v l="$1" '$1 == l {print $2}' $D/head-to-head-designs.txt)
  out=reports/h2h/$1-s$2
  [ -f $out/table.csv ] && return 0
  python -m slwsr_search.finalize --arch "$arch" --protocol long --seed $2 --threads 1 --quiet \
    --train-dir $DATA/train/T91 --train-dir $DATA/train/BSD200 --val-dir $DATA/Set5 \
    --bench $DATA/Set5 --bench $DATA/Set14 --out $out > reports/h2h/$1-s$2.log 2>&1
}
mkdir -p reports/h2h
for l in $labels; do
  one "$l" 0 & one "$l" 1 & wait
done
