"""Parity figures of every file kind for two 5,000-step long-reference networks on Set5 + Set14
(docs/results/2026-12-07-parity-xeon.md). Run from docs/results/ with the [litert] extra:
`python 2026-12-07-parity-probe.py s-lwsr16-3c39 slwsr-mix-nsgaii-t38`.

The two training states it reads are no longer in the repository (issue 34); restore them from git
history first (from the repository root):

    git show aa3d851:docs/results/2026-12-01-long-reference/audit-runs/s-lwsr16-3c39d084f57e-s0-d14367c6/state.pt > docs/results/2026-12-01-long-reference/audit-runs/s-lwsr16-3c39d084f57e-s0-d14367c6/state.pt
    git show f75cf97:docs/results/2026-12-01-long-reference/audit-runs/slwsr-mix-nsgaii-t38-81cf41649725-s0-d14367c6/state.pt > docs/results/2026-12-01-long-reference/audit-runs/slwsr-mix-nsgaii-t38-81cf41649725-s0-d14367c6/state.pt

(or `sh docs/results/restore-dropped.sh s-lwsr16-3c39d084f57e-s0 slwsr-mix-nsgaii-t38`)."""
import sys, json, glob
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from slwsr_search.training.state import load_state
from slwsr_search.model.network import build_model
from slwsr_search.deploy.onnx_export import export_onnx
from slwsr_search.deploy.variants import write_variants, litert_variants
from slwsr_search.deploy.quantize import patches_from
from slwsr_search.deploy.int8_settings import Int8Settings
from slwsr_search.deploy.coreml import export_coreml
from slwsr_search.deploy.parity import check_files, fit_to
from slwsr_search.sr.table import load_bench
root = Path(__file__).parent / "2026-12-01-long-reference/audit-runs"
S = Path(__file__).resolve().parents[3] / "shared/data"
benches = [load_bench(str(S / "Set5"), 4), load_bench(str(S / "Set14"), 4)]
settings = Int8Settings()
patches = patches_from([str(S / "train/T91")], 4, settings)
rows = []
for name in sys.argv[1:]:
    st = load_state(next(root.glob(name + "*-s0-*")) / "state.pt")
    m = build_model(st.spec); m.load_state_dict(st.weights); m.eval()
    out = Path("/tmp/parity") / name  # scratch files
    fp32 = export_onnx(m, out / "model.onnx")
    vs = write_variants(fp32, out, patches, settings) + litert_variants(m, out, (180, 320), patches, settings)
    export_coreml(m, out / "model.mlpackage")
    files = [(v.path, v.precision) for v in vs] + [(out / "model.mlpackage", "fp16")]
    for b in benches:
        for pair in b.pairs:
            for r in check_files(files, m, pair.lr):
                rows.append(dict(design=name, picture=f"{b.name}/{pair.name}", file=r.name, precision=r.precision,
                                 max_abs=r.max_abs, psnr=r.psnr, ok=r.ok, problems=list(r.problems)))
                print(name, b.name, pair.name, r.describe(), flush=True)
json.dump(rows, open("/tmp/parity/rows.json", "w"), indent=1)
