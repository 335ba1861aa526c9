import statistics, torch
torch.set_num_threads(1)
from slwsr_search.model.calibrate import block_part, part_workload
from slwsr_search.model.latency import round_robin
from slwsr_search.model.spec import BlockSpec
parts = [(n, c, block_part(BlockSpec(k), n, copies=c) if k=="res" else block_part(BlockSpec("ir", 2), n, copies=c), k)
         for k in ("res", "ir2") for n in (16, 20, 24) for c in (1, 4, 8)]
wl = [part_workload(p, "onnxruntime", 1, 4, (180, 320)) for _, _, p, _ in parts]
times = round_robin(wl, passes=5, repeats=2, warmup=1)
med = {(k, n, c): statistics.median(t) for (n, c, _, k), t in zip(parts, times)}
for k in ("res", "ir2"):
    for n in (16, 20, 24):
        t1, t4, t8 = (med[(k, n, c)] for c in (1, 4, 8))
        print(k, n, f"alone {t1:.2f}  chain4/4 {t4/4:.2f}  chain8/8 {t8/8:.2f}  slope(8-4)/4 {(t8-t4)/4:.2f}  slope(4-1)/3 {(t4-t1)/3:.2f}")
