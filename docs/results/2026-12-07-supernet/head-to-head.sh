#!/bin/sh
# Issue 35, item 7: each design of head-to-head-designs.txt (picks.py) trained from scratch with the
# long protocol (slwsr finalize: 5,000 steps of 16 x 48 px, lr 1e-3 cosine, T91 + BSD200), seeds 0
# and 1, scored on Set5 and Set14 with and without the x8 self-ensemble; two trainings at a time,
# one thread each (2 cores). Resumable on one machine: finalize continues its checkpoint in
# reports/h2h/ (over 1 MB, not committed); a finished one (its table.csv written) is skipped.
# head_to_head.py gathers the finished ones into head-to-head.csv.
#   sh docs/results/2026-12-07-supernet/head-to-head.sh            every design, its two seeds side by side
#   sh docs/results/2026-12-07-supernet/head-to-head.sh QUEUE...   QUEUE = LABEL:SEED[,LABEL:SEED...], each
#       queue run in order, the queues side by side (e.g. sn-pick-150k:0 s-lwsr16:0,s-lwsr16:1)
D=docs/results/2026-12-07-supernet
DATA=../shared/data
one() {  # LABEL SEED
  arch=$(awk -v l="$1" '$1 == l {print $2}' $D/head-to-head-designs.txt)
  [ -n "$arch" ] || { echo "no design '$1' in $D/head-to-head-designs.txt" >&2; return 1; }
  out=reports/h2h/$1-s$2
  [ -f $out/table.csv ] && return 0
  python -m slwsr_search.finalize --arch "$arch" --protocol long --seed $2 --threads 1 --quiet \
    --train-dir $DATA/train/T91 --train-dir $DATA/train/BSD200 --val-dir $DATA/Set5 \
    --bench $DATA/Set5 --bench $DATA/Set14 --out $out > reports/h2h/$1-s$2.log 2>&1
}
queue() {  # LABEL:SEED[,LABEL:SEED...]
  for job in $(echo "$1" | tr ',' ' '); do one "${job%%:*}" "${job##*:}"; done
}
mkdir -p reports/h2h
if [ $# -eq 0 ]; then
  for l in $(cut -d' ' -f1 $D/head-to-head-designs.txt); do one "$l" 0 & one "$l" 1 & wait; done
else
  for q in "$@"; do queue "$q" & done
  wait
fi
