"""Issue 35: the new long-reference designs, fixed before any supernet scores them: cost-matched
pairs with different block mixes, of budget150k's space, from 4,000 seeded draws of the space
(Optuna's random sampler, seed 35): in each parameter bin the design with the most residual blocks
and the one with the fewest (ties: the first drawn). Bins near 75K and 100K (width 16) and 150K
(width 20) are designs the 16/20 supernets hold; near 50K the space's prior draws only width 12
(its n16 designs start at about 69K), so those two need a supernet that holds width 12. Run from the repository root:
    python docs/results/2026-12-07-supernet/new_designs.py > docs/results/2026-12-07-supernet/new-designs.txt
The output is the `LABEL ARCH` design file `slwsr fidelity` and `slwsr supernet score` read."""
from slwsr_search.model.cost import count_cost
from slwsr_search.search.space import draw_specs
from slwsr_search.search.study import StudyConfig

BINS = {"50k": (12, 47_500, 52_500), "75k": (16, 72_500, 77_500), "100k": (16, 97_500, 102_500),
        "150k": (20, 145_000, 150_000)}
cfg = StudyConfig.load("budget150k")
specs = draw_specs(cfg.space, 4000, seed=35, keep=lambda s: s.n_feats in (12, 16, 20))
for name, (n, lo, hi) in BINS.items():
    inside = [s for s in specs if s.n_feats == n and lo <= count_cost(s).params <= hi]
    res = lambda s: sum(b.type == "res" for b in s.blocks)  # noqa: E731
    most = max(inside, key=res)
    fewest = min(inside, key=res)
    for tag, s in (("res", most), ("ir", fewest)):
        print(f"new-{name}-{tag}{res(s)} {s.arch}  # {count_cost(s).params} params")
