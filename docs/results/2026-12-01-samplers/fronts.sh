#!/bin/sh
# Issue 22 item 7, second half: the long-reference quality of the designs each sampler study found.
# After run.sh: fronts.py writes fronts-designs.txt (each study's best front designs by screening
# loss); this adds them to the long reference's designs and runs the same long reference on all
# (5,000 steps on T91 + BSD200, scored on Set5 + Set14, the same store: the 8 designs already
# trained are not trained again). Resumable like the long reference; stop it with SIGTERM to the
# parent. Each new design costs about 50-100 minutes of one core. From the repository root:
#   sh docs/results/2026-12-01-samplers/fronts.sh [--max-jobs N] [--workers 2]
set -e
D=docs/results/2026-12-01-samplers
[ -f $D/fronts-designs.txt ] || python $D/fronts.py
cat docs/results/2026-12-01-long-reference/designs.txt $D/fronts-designs.txt > $D/fronts-all-designs.txt
exec sh docs/results/2026-12-01-long-reference/run.sh --design-file $D/fronts-all-designs.txt \
  --out reports/budget150k/fidelity-fronts "$@"
