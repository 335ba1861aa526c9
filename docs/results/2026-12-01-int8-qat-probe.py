"""Probe: does a short quantization-aware fine-tune (PyTorch FX QAT, fake-quant) make the weights
quantize better with our post-training int8 (onnxruntime, percentile)? Control: the same fine-tune
without fake-quant. Run from the repository root: `python docs/results/2026-12-01-int8-qat-probe.py
RUN_FOLDER 150 5e-5` (2026-12-01-int8.md: RUN_FOLDER was s-LWSR16's,
docs/results/2026-12-01-long-reference/audit-runs/s-lwsr16-3c39d084f57e-s0-d14367c6). Its training state is no longer in the
repository (issue 34); restore it from git history first:

    git show aa3d851:docs/results/2026-12-01-long-reference/audit-runs/s-lwsr16-3c39d084f57e-s0-d14367c6/state.pt > docs/results/2026-12-01-long-reference/audit-runs/s-lwsr16-3c39d084f57e-s0-d14367c6/state.pt
"""
import copy, sys, time, json, numpy as np, torch, warnings
warnings.simplefilter("ignore")
torch.set_num_threads(1)
from torch.ao.quantization import QConfig, FakeQuantize, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, QConfigMapping
from torch.ao.quantization.quantize_fx import prepare_qat_fx
from slwsr_search.training.state import load_state
from slwsr_search.model.network import build_model
from slwsr_search.sr.data import load_pairs, PatchSampler
from slwsr_search.deploy.onnx_export import export_onnx
from slwsr_search.deploy.quantize import calibration_patches, quantize_int8
from slwsr_search.deploy.runners import onnx_runner, runner_upscaler
from slwsr_search.sr.table import load_bench
from slwsr_search.sr.evaluate import evaluate_pairs
steps = int(sys.argv[2]); lr = float(sys.argv[3])
st = load_state(sys.argv[1] + "/state.pt")
base = build_model(st.spec); base.load_state_dict(st.weights); base.eval()
pairs = [p for d in ["../shared/data/train/T91", "../shared/data/train/BSD200"] for p in load_pairs(d, 4, min_lr_size=48, progress=False)]
patches = calibration_patches(pairs, 64, 48, 0)
benches = [load_bench("../shared/data/Set5", 4), load_bench("../shared/data/Set14", 4)]
import tempfile, pathlib
def score(model, tag):
    with tempfile.TemporaryDirectory() as t:
        f = export_onnx(model, pathlib.Path(t) / "m.onnx"); q = quantize_int8(f, pathlib.Path(t) / "q.onnx", patches)
        r = {}
        for b in benches:
            r[b.name] = (evaluate_pairs(b.pairs, runner_upscaler(onnx_runner(f, 1)), 4).psnr,
                         evaluate_pairs(b.pairs, runner_upscaler(onnx_runner(q, 1)), 4).psnr)
    print(tag, {k: (round(a, 3), round(b, 3), round(b - a, 3)) for k, (a, b) in r.items()}, flush=True)
    return r
def finetune(model, qat):
    model = copy.deepcopy(model).train()
    if qat:
        act = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8)
        wt = FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                                    dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
        net = prepare_qat_fx(model, QConfigMapping().set_global(QConfig(activation=act, weight=wt)), (torch.rand(1, 3, 48, 48) * 255,))
    else:
        net = model
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sampler = PatchSampler(pairs, 4, 48, 16, seed=123)
    t = time.time()
    for i in range(steps):
        lr_, hr = sampler.sample()
        loss = (net(lr_) - hr).abs().mean()
        opt.zero_grad(); loss.backward(); opt.step()
    print(("qat" if qat else "plain"), steps, "steps", round(time.time() - t), "s, last loss", round(loss.item(), 3), flush=True)
    if qat:  # the fine-tuned float weights back into a plain network
        sd = {k: v for k, v in net.state_dict().items() if k in model.state_dict()}
        missing = set(model.state_dict()) - set(sd)
        assert not missing, list(missing)[:5]
        model.load_state_dict(sd)
    return model.eval()
score(base, "base")
score(finetune(base, False), "plain-ft")
score(finetune(base, True), "qat-ft")
