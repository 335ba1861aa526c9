#!/bin/sh
# Stages gpu.sh's inputs in this checkout (run from the repository root, on this machine): the
# images it trains and scores on under shared/data (ignored by git; a checkout's shared/ travels
# to the device machine) and wheels of the package's dependencies that the device image lacks
# under .whl (Python 3.12 there), carried by the call: Optuna and what it needs (the supernet's path
# imports no fvcore, plotly or ONNX; the image has torch, numpy, pandas, scikit-image, tqdm, pillow).
set -e
mkdir -p shared/data/train
cp -r ../shared/data/Set5 ../shared/data/Set14 shared/data/
# BSD200's first 150 pictures (by name): the tree that travels holds at most 64 MiB in all
mkdir -p shared/data/train/BSD200/HR
ls ../shared/data/train/BSD200/HR | sort | head -150 | while read -r f; do cp "../shared/data/train/BSD200/HR/$f" shared/data/train/BSD200/HR/; done
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  optuna alembic colorlog Mako SQLAlchemy greenlet
du -sh shared .whl
