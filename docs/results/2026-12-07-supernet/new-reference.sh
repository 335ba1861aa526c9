#!/bin/sh
# Issue 35's confirmation designs (new-designs.txt, fixed before any supernet scored them) trained
# with the long reference's own protocol and into its own store (5,000 steps on T91 + BSD200, scored
# on Set5 + Set14 along the ladder; the 14 designs already there are not trained again). Resumable
# like the long reference (docs/fidelity.md): commit the store and its run folders to continue on
# another machine. Each new design costs about 20-40 minutes of one AMD EPYC core (1-2 h of a Xeon's).
#   sh docs/results/2026-12-07-supernet/new-reference.sh [--max-jobs N]
set -e
D=docs/results/2026-12-07-supernet
cat docs/results/2026-12-01-samplers/fronts-all-designs.txt $D/new-designs.txt > $D/reference-all-designs.txt
exec sh docs/results/2026-12-01-long-reference/run.sh --design-file $D/reference-all-designs.txt \
  --out reports/budget150k/fidelity-new "$@"
