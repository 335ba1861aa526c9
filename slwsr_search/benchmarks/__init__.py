"""Benchmarks: measurements that return figures (never assertions), printed by ``python -m
slwsr_search.bench``. Pricing (:mod:`.pricing`), the bicubic anchor (:mod:`.bicubic`), training
speed (:mod:`.training`) and storages under concurrent workers (:mod:`.storage`). Imports the
library layers below the commands; results go to ``docs/results/``."""
