#!/bin/sh
# Issue 35: one supernet per width, audited together: each of the 14 long-reference designs scored
# by the supernet of its width (run.sh trains them: SAMPLING-EXP-w16-STEPS and SAMPLING-EXP-w20-STEPS).
#   sh docs/results/2026-12-07-supernet/audit-widths.sh SAMPLING-EXP STEPS
# e.g. uniform-separate 1500 -> audit-uniform-separate-w16+w20-1500[.stepN].json, the finished
# supernets and their snapshots at a quarter and half of STEPS.
set -e
D=docs/results/2026-12-07-supernet
S=reports/supernet
R=docs/results/2026-12-01-samplers/fronts-14-designs.csv
DATA=../shared/data
v=$1; steps=$2
for tail in .step$((steps / 4)) .step$((steps / 2)) ""; do
  name=$v-w16+w20-$steps$tail
  [ -f $D/audit-$name.json ] || python -m slwsr_search.supernet audit --study budget150k \
    --supernet $S/$v-w16-$steps$tail.pt --supernet $S/$v-w20-$steps$tail.pt \
    --reference $R --horizon 5000 --val-dir $DATA/Set5 --val-dir $DATA/Set14 --out $D/audit-$name.json \
    > $D/audit-$name.txt
done
