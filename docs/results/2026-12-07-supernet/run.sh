#!/bin/sh
# Issue 35: supernets of budget150k's n16/n20 paths, trained on T91 + BSD200 with the long
# reference's patches (16 x 48 px), each audited against the 14 designs of the long reference at
# 5,000 steps (scored on Set5 + Set14). Resumable: every training continues its state file; run
# it again (from the repository root, in any sitting). The state files (1.5 MB of weights, 4.7 MB
# with Adam's moments) stay in reports/supernet/, out of git; the audits' JSON come here.
#   sh docs/results/2026-12-07-supernet/run.sh VARIANT...
# VARIANT: SAMPLING[-separate|-shared][-wN]-STEPS, e.g. uniform-3000 (expansions sharing one
# weight), uniform-separate-3000, fair-separate-550 (one weight per expansion), uniform-separate-w16-1500
# (a supernet of width 16 alone, audited with its other widths by audit-widths.sh; without -wN,
# widths 16 and 20).
set -e
D=docs/results/2026-12-07-supernet
S=reports/supernet
R=docs/results/2026-12-01-samplers/fronts-14-designs.csv
DATA=../shared/data
mkdir -p $S
for v in "$@"; do
  sampling=${v%%-*}; steps=${v##*-}
  case $v in *-separate-*) exp=separate ;; *) exp=shared ;; esac
  widths=$(echo "$v" | sed -n 's/.*-w\([0-9]*\)-.*/\1/p'); widths=${widths:-16,20}
  python -m slwsr_search.supernet train --study budget150k --widths "$widths" --sampling "$sampling" --steps "$steps" \
    --expansions $exp \
    --train-dir $DATA/train/T91 --train-dir $DATA/train/BSD200 --checkpoint-every 100 \
    --snapshots "$((steps / 4)),$((steps / 2))" --out $S/$v.pt --quiet
  # a supernet of one width holds that width's designs alone: audit-widths.sh audits the widths together
  case $v in *-w[0-9]*) continue ;; esac
  for f in $S/$v.step$((steps / 4)).pt $S/$v.step$((steps / 2)).pt $S/$v.pt; do
    name=$(basename "$f" .pt)
    [ -f $D/audit-$name.json ] || python -m slwsr_search.supernet audit --study budget150k --supernet "$f" \
      --reference $R --horizon 5000 --val-dir $DATA/Set5 --val-dir $DATA/Set14 --out $D/audit-$name.json \
      > $D/audit-$name.txt
  done
done
