"""Benchmarks: measurements that return figures (never assertions), printed by ``python -m
slwsr_search.bench``. Pricing (:mod:`.pricing`), the bicubic anchor (:mod:`.bicubic`), training
speed (:mod:`.training`), storages under concurrent workers (:mod:`.storage`), screening settings
(:mod:`.screening`), upscaling (:mod:`.upscale`) and the latency table's validation (:mod:`.latency`).
The layer above every library layer (it may import any of them) and below the commands; results go
to ``docs/results/``."""
