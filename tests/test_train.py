"""Training: determinism, failures as results, checkpoints, device options, the train command, the
training-state format (round trip, refusals, a resume bit-identical to an uninterrupted run)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from helpers import DATA, run_command, write_folders
from slwsr_search import PRESETS
from slwsr_search.cli.common import run_cli
from slwsr_search.cli.train import main as train_main
from slwsr_search.sr.evaluate import evaluate_pairs, model_upscaler
from slwsr_search.training.checkpoint import load_checkpoint, save_checkpoint
from slwsr_search.training import loop as train_mod
from slwsr_search.training.device import Speedups, configure_device, resolve_device
from slwsr_search.training.loop import Training, train
from slwsr_search.training.protocol import AUTO_PROTOCOL, PROTOCOLS, Protocol, auto_protocol
from slwsr_search.training.state import (FIELDS, OLD_CHECKPOINT, OLD_FINALIZE, STATE_FORMAT, TrainingState, load_state,
                                         resume, save_state)

TINY = PRESETS["s-lwsr16-half"].replace(n_feats=4)
FAST = Protocol(steps=6, batch_size=2, lr_patch=12)


def test_same_seed_same_result_on_cpu():
    a = train(TINY, DATA, FAST, device="cpu")
    b = train(TINY, DATA, FAST, device="cpu")
    assert a.ok and b.ok and a.psnr == b.psnr and a.ssim == b.ssim and a.final_loss == b.final_loss
    for (n, p), (_, q) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(p, q), n
    c = train(TINY, DATA, Protocol(steps=6, batch_size=2, lr_patch=12, seed=1), device="cpu")
    assert c.psnr != a.psnr


def test_result_fields():
    r = train(TINY, DATA, Protocol(steps=4, batch_size=2, lr_patch=12, eval_every=2), device="cpu")
    assert r.ok and r.steps_done == 4 and r.device == "cpu" and r.reason is None
    assert [h["step"] for h in r.history] == [2, 4] and r.history[-1]["psnr"] == r.psnr
    assert r.data_s > 0 and r.compute_s > 0 and r.eval_s > 0 and r.wall_s >= r.data_s + r.compute_s
    assert r.steps_per_s > 0 and np.isfinite(r.final_loss)
    d = r.to_dict()
    assert "model" not in d and d["status"] == "ok" and json.dumps(d)


def test_non_finite_loss_is_a_failed_result_not_an_exception():
    r = train(TINY, DATA, Protocol(steps=20, batch_size=2, lr_patch=12, lr=1e30), device="cpu")
    assert r.status == "nonfinite" and not r.ok and "non-finite" in r.reason
    assert r.psnr is None and r.model is None and r.steps_done < 20


def test_out_of_memory_is_a_failed_result(monkeypatch):
    # The CPU run of the OOM logic: the step raises what CUDA raises when memory runs out.
    calls = {"n": 0}
    real_step = train_mod.train_step

    def step(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(*a, **k)

    monkeypatch.setattr(train_mod, "train_step", step)
    r = train(TINY, DATA, FAST, device="cpu")
    assert r.status == "oom" and "out of memory on cpu at step 2" in r.reason and r.model is None and r.psnr is None


def test_other_errors_still_raise(monkeypatch):
    monkeypatch.setattr(train_mod, "train_step", lambda *a, **k: (_ for _ in ()).throw(KeyError("bug")))
    with pytest.raises(KeyError):
        train(TINY, DATA, FAST, device="cpu")


@pytest.mark.parametrize("device", ["auto", "cpu"])
@pytest.mark.parametrize("speedups", [
    Speedups(), Speedups(channels_last=False), Speedups(malloc_tuning=False, threads=1),
    Speedups(bf16=False, tf32=False), Speedups(flush_denormal=False),
], ids=["defaults", "nchw", "1-thread", "no-bf16", "denormals"])
def test_cpu_path_of_every_device_option(device, speedups):
    threads = torch.get_num_threads()
    try:
        configure_device(resolve_device(device), speedups)  # the process-wide half, as an entry point does
        r = train(TINY, DATA, Protocol(steps=2, batch_size=2, lr_patch=12), device=device, speedups=speedups)
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(True)
    # the device actually used, on either kind of host: "auto" is CUDA where there is one
    used = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
    assert r.ok and r.device == used and {p.device.type for p in r.model.parameters()} == {used}


def _flushes_denormals() -> bool:
    return torch.tensor([1e-323], dtype=torch.float64).item() == 0  # PyTorch's own example


def test_train_leaves_process_wide_settings_to_the_entry_point():
    threads = torch.get_num_threads()
    torch.set_flush_denormal(False)
    try:
        r = train(TINY, DATA, Protocol(steps=1, batch_size=2, lr_patch=12), "cpu",
                  speedups=Speedups(threads=1, flush_denormal=True))
        assert r.ok and torch.get_num_threads() == threads and not _flushes_denormals()
        configure_device(resolve_device("cpu"), Speedups(threads=1, flush_denormal=True))
        assert torch.get_num_threads() == 1 and _flushes_denormals()
        with pytest.raises(ValueError, match="threads: expected an integer >= 1, got 0"):
            configure_device(resolve_device("cpu"), Speedups(threads=0))
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(True)


def test_channels_last_does_not_change_the_result_beyond_rounding():
    a = train(TINY, DATA, FAST, device="cpu", speedups=Speedups(channels_last=True))
    b = train(TINY, DATA, FAST, device="cpu", speedups=Speedups(channels_last=False))
    assert abs(a.psnr - b.psnr) < 0.05


def _autocast_seen(monkeypatch, device_type: str = "cpu") -> list[bool]:
    """Whether autocast is on for ``device_type`` each time the loop scores the validation set."""
    import slwsr_search.training.device as device  # validation_scores, the one place the loop scores

    seen: list[bool] = []
    real = device.evaluate_pairs

    def spy(*a, **k):
        seen.append(torch.is_autocast_enabled(device_type))
        return real(*a, **k)

    monkeypatch.setattr(device, "evaluate_pairs", spy)
    return seen


def test_bf16_autocast_on_cpu_trains_in_bf16_and_scores_in_fp32(monkeypatch):
    """``cpu_bf16`` changes the training (bf16 forward) but not how it is scored: the validation
    of the same weights gives the fp32 score."""
    seen = _autocast_seen(monkeypatch)
    a = train(TINY, DATA, FAST, device="cpu", speedups=Speedups(cpu_bf16=True))
    b = train(TINY, DATA, FAST, device="cpu")
    assert a.ok and b.ok and a.final_loss != b.final_loss and seen == [False, False]
    again = evaluate_pairs(DATA.val, model_upscaler(a.model, "cpu"), DATA.scale)
    assert again.psnr == a.psnr


#: A GPU's path through the loop on a CPU: the training forward under bf16 autocast (CUDA's default
#: ``bf16``), the loss read every 10 steps (CUDA's default, :data:`~slwsr_search.training.device.LOSS_EVERY`).
GPU_PATH = Speedups(cpu_bf16=True, loss_every=10)


def test_the_gpu_path_on_a_cpu_scores_in_fp32_and_passes_a_float_loss_every_step(monkeypatch):
    """On the loop's GPU path (bf16 training, the loss read every 10 steps), run on a CPU:
    validation is scored in fp32, and ``on_step`` gets a float at every step: the mean loss since
    the previous read, the last one read in between (each read's value equals the mean of the
    same training's step losses, read every step)."""
    p = Protocol(steps=12, batch_size=2, lr_patch=12, eval_every=6)
    every: dict[int, float] = {}
    ref = Training(TINY, DATA, dataclasses.replace(p, eval_every=0), "cpu", Speedups(cpu_bf16=True, loss_every=1))
    assert ref.run(p.steps, score=False, on_step=lambda s, l: every.__setitem__(s, l)).ok
    seen = _autocast_seen(monkeypatch)
    got: dict[int, float] = {}
    t = Training(TINY, DATA, p, "cpu", GPU_PATH)
    r = t.run(p.steps, on_step=lambda s, l: got.__setitem__(s, l))
    assert r.ok and sorted(got) == list(range(1, 13)) and all(isinstance(v, float) for v in got.values())
    mean = lambda lo, hi: sum(every[s] for s in range(lo, hi + 1)) / (hi - lo + 1)  # noqa: E731
    # read at the segment's first step, every 10th and the last; the steps between keep the last read
    want = {s: every[1] if s < 10 else mean(2, 10) if s < 12 else mean(11, 12) for s in range(1, 13)}
    assert got == pytest.approx(want, rel=1e-6) and r.final_loss == pytest.approx(mean(11, 12), rel=1e-6)
    assert [h["step"] for h in r.history] == [6, 12]
    assert [h["loss"] for h in r.history] == pytest.approx([every[1], mean(11, 12)], rel=1e-6)
    # the same weights as the run reading every step (reading changes nothing), trained in bf16,
    # scored in fp32: at step 6 and the end, never under autocast, equal to an fp32 rescoring
    assert all(torch.equal(a, b) for a, b in zip(ref.model.state_dict().values(), t.model.state_dict().values()))
    assert seen == [False, False] and r.psnr == evaluate_pairs(DATA.val, model_upscaler(r.model, "cpu"), DATA.scale).psnr
    bad = train(TINY, DATA, Protocol(steps=12, batch_size=2, lr_patch=12, lr=1e30), "cpu", GPU_PATH)
    assert bad.status == "nonfinite" and "by step 10" in bad.reason and bad.steps_done == 10  # noticed at a read


def test_validation_is_fp32_even_under_a_callers_autocast(monkeypatch):
    """The loop switches autocast off to score, not just leaves it off: a training run inside a
    caller's bf16 autocast (trained in bf16) is still scored in fp32."""
    seen = _autocast_seen(monkeypatch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r = train(TINY, DATA, FAST, device="cpu")
    assert r.ok and seen == [False]
    assert r.psnr == evaluate_pairs(DATA.val, model_upscaler(r.model, "cpu"), DATA.scale).psnr


def test_loss_reads_per_device_and_their_setting():
    sp = Speedups()
    assert sp.loss_reads_every("cpu") == 1 and sp.loss_reads_every("cuda") == 10 and Speedups(loss_every=3).loss_reads_every("cuda") == 3
    assert sp.train_bf16("cuda") and not sp.train_bf16("cpu") and GPU_PATH.train_bf16("cpu")
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="loss_every: expected an integer >= 1 or None"):
            Speedups(loss_every=bad)


def test_native_bf16_reads_the_cpu_flags(monkeypatch):
    import slwsr_search.machine as machine

    for flags, want in (({"avx2"}, False), ({"avx512f", "avx512_bf16"}, True), ({"amx_bf16"}, True)):
        monkeypatch.setattr(machine, "cpu_flags", lambda flags=flags: frozenset(flags))
        assert machine.native_bf16() is want


@pytest.mark.slow
def test_compile_on_cpu(monkeypatch):
    """Our training traces and trains under torch.compile on a CPU. Graph capture and autograd run
    as with the default backend; code generation (inductor: ~30 s of C++ compiling here, torch's
    own code, not ours) is swapped for the eager backend so the suite stays short."""
    calls = []
    real = torch.compile

    def compile_eager(model, **kw):
        calls.append(kw)
        return real(model, **{**kw, "backend": "aot_eager"})

    monkeypatch.setattr(torch, "compile", compile_eager)
    torch._dynamo.reset()
    r = train(TINY, DATA, Protocol(steps=2, batch_size=2, lr_patch=12), device="cpu", speedups=Speedups(compile=True))
    assert r.ok and np.isfinite(r.psnr) and calls == [{}]


def test_device_names():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device: unknown device 'gpu0'"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="device: unsupported device 'meta'"):
        resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training():
    r = train(TINY, DATA, FAST, device="cuda")
    assert r.ok and r.device.startswith("cuda") and np.isfinite(r.psnr)
    r = train(TINY, DATA, Protocol(steps=20, batch_size=2, lr_patch=12, lr=1e30), device="cuda")
    assert r.status == "nonfinite" and r.steps_done == 10  # read every 10 steps (the CPU test: GPU_PATH)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_trains_in_bf16_scores_in_fp32_and_passes_a_float_loss_every_step(monkeypatch):
    """The real CUDA path of the CPU test above: bf16 training (the default), validation in fp32,
    a float loss for ``on_step`` at every step."""
    seen = _autocast_seen(monkeypatch, "cuda")
    got: dict[int, float] = {}
    t = Training(TINY, DATA, Protocol(steps=25, batch_size=2, lr_patch=12, eval_every=12), "cuda")
    assert t.loss_every == 10 and Speedups().train_bf16("cuda")  # CUDA's defaults
    r = t.run(25, on_step=lambda s, l: got.__setitem__(s, l))
    assert r.ok and sorted(got) == list(range(1, 26)) and all(isinstance(v, float) for v in got.values())
    assert got[9] == got[1] and got[19] == got[10] and got[25] == r.final_loss and seen == [False, False, False]
    assert r.psnr == pytest.approx(evaluate_pairs(DATA.val, model_upscaler(r.model, "cuda"), DATA.scale).psnr, abs=1e-4)


@pytest.mark.parametrize("changes,msg", [
    ({"steps": 0}, "protocol.steps: expected an integer >= 1, got 0"),
    ({"batch_size": 1.5}, "protocol.batch_size"),
    ({"lr": -1}, "protocol.lr: expected a finite number > 0, got -1"),
    ({"lr": float("inf")}, "protocol.lr"),
    ({"schedule": "linear"}, "protocol.schedule: unknown schedule 'linear'"),
    ({"seed": -1}, "protocol.seed: expected an integer >= 0"),
    ({"augment": "yes"}, "protocol.augment"),
])
def test_protocol_validation(changes, msg):
    with pytest.raises(ValueError, match=msg):
        Protocol(**changes)


def test_protocol_dict_and_schedules():
    p = Protocol(steps=100, lr=1e-3, schedule="cosine")
    assert Protocol.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="protocol: unknown key 'epochs'"):
        Protocol.from_dict({"epochs": 3})
    assert p.lr_at(0) == pytest.approx(1e-3) and p.lr_at(50) == pytest.approx(5e-4) and p.lr_at(100) == pytest.approx(0)
    paper = PROTOCOLS["paper"]
    assert paper.lr == 1e-4 and paper.lr_at(199_999) == 1e-4 and paper.lr_at(200_000) == 5e-5 and paper.lr_at(400_000) == 2.5e-5
    assert Protocol(schedule="constant").lr_at(10**6) == Protocol().lr


def test_auto_protocol_is_long_on_a_cpu_and_the_papers_on_cuda():
    """What ``finalize --protocol auto`` trains, decided by one library function (CUDA named, not
    used: nothing runs on it)."""
    assert auto_protocol("cpu") == auto_protocol(torch.device("cpu")) == "long"
    assert auto_protocol(torch.device("cuda")) == auto_protocol(torch.device("cuda", 1)) == auto_protocol("cuda:0") == "paper"
    assert PROTOCOLS[auto_protocol("cuda")].steps == 1_000_000 and PROTOCOLS[auto_protocol("cpu")].steps == 5_000
    assert set(AUTO_PROTOCOL.values()) <= set(PROTOCOLS)
    with pytest.raises(ValueError, match="protocol auto: no protocol for device type 'mps'"):
        auto_protocol("mps")


def test_scale_mismatch():
    with pytest.raises(ValueError, match="scale: the spec is x2"):
        train(TINY.replace(scale=2), DATA, FAST)


def _cli(capsys, *argv):
    return run_command(train_main, capsys, *argv, prog="train")


def test_cli_trains_saves_and_reloads(capsys, tmp_path):
    tr, va = write_folders(tmp_path)
    ckpt = tmp_path / "m.pt"
    code, out, err = _cli(capsys, "--arch", TINY.arch, "--steps", "3", "--batch", "2", "--patch", "12",
                          "--train-dir", tr, "--val-dir", va, "--save", str(ckpt), "--json", "--device", "cpu")
    d = json.loads(out)
    assert code == 0 and d["status"] == "ok" and d["steps_done"] == 3 and d["checkpoint"] == str(ckpt)
    assert d["protocol"]["steps"] == 3 and d["protocol"]["lr"] == Protocol().lr and d["bicubic_psnr"] > 0
    raw = torch.load(ckpt, weights_only=True)
    assert raw["format"] == STATE_FORMAT and raw["protocol"]["steps"] == 3 and raw["steps"] == 3
    assert raw["training"].keys() == {"model"} and raw["extra"]["psnr"] == d["psnr"]  # weights only
    model, _ = load_checkpoint(ckpt)
    assert model.spec == TINY
    # the checkpoint's validation score reproduces with the evaluate command
    from slwsr_search.cli.evaluate import main as eval_main
    code = run_cli(eval_main, ["--data", va, "--checkpoint", str(ckpt), "--json"])
    ev = json.loads(capsys.readouterr().out)
    assert code == 0 and ev["psnr"] == pytest.approx(d["psnr"], abs=1e-6)
    code, out, _ = _cli(capsys, "--arch", TINY.arch, "--steps", "2", "--batch", "2", "--patch", "12",
                        "--train-dir", tr, "--val-dir", va, "--quiet", "--device", "cpu")
    assert code == 0 and "PSNR" in out and "bicubic" in out


def test_cli_failed_training_exits_1(capsys, tmp_path):
    tr, va = write_folders(tmp_path)
    code, out, _ = _cli(capsys, "--arch", TINY.arch, "--steps", "20", "--batch", "2", "--patch", "12", "--lr", "1e30",
                        "--train-dir", tr, "--val-dir", va, "--quiet", "--device", "cpu")
    assert code == 1 and "FAILED" in out and "nonfinite" in out


@pytest.mark.parametrize("argv,msg", [
    (["--preset", "s-lwsr16", "--steps", "0"], "protocol.steps: expected an integer >= 1, got 0"),
    (["--preset", "s-lwsr16", "--device", "tpu"], "device: unknown device 'tpu'"),
    (["--preset", "s-lwsr16", "--train-dir", "/nonexistent/dir"], "/nonexistent/dir: data folder not found"),
    (["--preset", "s-lwsr16", "--save", "/nonexistent/dir/m.pt"], "folder /nonexistent/dir does not exist"),
    (["--steps", "3"], "one of the arguments --preset --spec --arch is required"),
])
def test_cli_bad_input(capsys, argv, msg):
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and msg in err and err.count("\n") == 1


def test_should_stop_ends_the_training_between_steps():
    asked = []

    def stop_at_third_step() -> bool:
        asked.append(1)
        return len(asked) > 2

    res = train(TINY, DATA, Protocol(steps=10, batch_size=2, lr_patch=12), "cpu", should_stop=stop_at_third_step)
    assert res.status == "interrupted" and res.steps_done == 2 and res.psnr is None and "step 2" in res.reason
    assert not res.ok


# ----- the training-state format ------------------------------------------------------------------

STATE_PROTOCOL = Protocol(steps=9, batch_size=2, lr_patch=12)


def _trained(steps: int, ema: float = 0.0) -> Training:
    t = Training(TINY, DATA, STATE_PROTOCOL, "cpu", ema_decay=ema)
    assert t.run(steps, whole_schedule=True, score=False).ok
    return t


def _same(a, b) -> bool:
    """Equal nested states: tensors bit for bit, everything else by ==."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_a_training_state_round_trips_bit_for_bit(tmp_path, ema):
    t = _trained(4, ema)
    extra = {"progress": {"rung_psnr": [21.5], "seed": 3}, "note": "x", "train_s": 1.25}
    save_state(tmp_path / "s.pt", TrainingState.of(t, extra))
    raw = torch.load(tmp_path / "s.pt", weights_only=True)  # plain data: no code runs on load
    assert set(raw) == {"format", "spec", "protocol", "steps", "training", "extra"} and raw["format"] == STATE_FORMAT
    back = load_state(tmp_path / "s.pt")
    assert back.spec == TINY and back.protocol == STATE_PROTOCOL.to_dict() and back.steps == 4 and back.extra == extra
    assert back.resumable and _same(back.training, t.state_dict()) and ("ema" in back.training) == bool(ema)
    assert _same(back.weights, t.model.state_dict())


@pytest.mark.parametrize("ema", [0.0, 0.9])
@pytest.mark.parametrize("k", [1, 4, 8])
def test_a_training_saved_at_step_k_and_resumed_ends_bit_identical(tmp_path, k, ema):
    """Saved at step k, loaded into a new training (as another process would) and trained to the
    end: weights, optimiser state, moving average and patch stream equal an uninterrupted run's."""
    whole = _trained(STATE_PROTOCOL.steps, ema)
    save_state(tmp_path / "k.pt", TrainingState.of(_trained(k, ema)))
    resumed = Training(TINY, DATA, STATE_PROTOCOL, "cpu", ema_decay=ema)
    assert resume(resumed, tmp_path / "k.pt").steps == k and resumed.steps_done == k
    assert resumed.run(STATE_PROTOCOL.steps - k, whole_schedule=True, score=False).ok
    a, b = whole.state_dict(), resumed.state_dict()
    assert _same(a["model"], b["model"]) and _same(a["optimizer"], b["optimizer"]) and a["sampler_rng"] == b["sampler_rng"]
    assert _same(a.get("ema"), b.get("ema")) and b["steps_done"] == STATE_PROTOCOL.steps


def _state_file(tmp_path, payload) -> str:
    torch.save(payload, tmp_path / "s.pt")
    return str(tmp_path / "s.pt")


def _good_payload() -> dict:
    return TrainingState.of(_trained(2)).payload()


@pytest.mark.parametrize("change,msg", [
    ({"format": "slwsr-search/other-1"}, "not an slwsr-search checkpoint (format tag 'slwsr-search/other-1'"),
    ({"spec": 7}, "spec: expected the spec's JSON text, got int"),
    ({"spec": "{"}, "spec: invalid JSON"),
    ({"protocol": [1]}, "protocol: expected a dict, got list"),
    ({"steps": -1}, "steps: expected an integer >= 0, got -1"),
    ({"steps": True}, "steps: expected an integer >= 0, got True"),
    ({"training": {"optimizer": {}}}, "training: expected None or a dict with the weights"),
    ({"extra": "x"}, "extra: expected a dict, got str"),
    ({"extra": None}, "extra: expected a dict, got NoneType"),
])
def test_a_state_with_a_wrong_field_is_refused_naming_the_file_and_field(tmp_path, change, msg):
    path = _state_file(tmp_path, {**_good_payload(), **change})
    with pytest.raises(ValueError) as e:
        load_state(path)
    assert str(e.value).startswith(f"{path}: ") and msg in str(e.value)


@pytest.mark.parametrize("field", FIELDS)
def test_a_state_without_a_field_is_refused_naming_it(tmp_path, field):
    path = _state_file(tmp_path, {k: v for k, v in _good_payload().items() if k != field})
    with pytest.raises(ValueError, match=f"^{path}: missing field '{field}'$"):
        load_state(path)


@pytest.mark.parametrize("cut", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_a_truncated_or_foreign_file_is_refused_naming_the_file(tmp_path, cut):
    save_state(tmp_path / "good.pt", TrainingState.of(_trained(2)))
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:int(cut * len(data))])
    with pytest.raises(ValueError, match=f"^{tmp_path / 'cut.pt'}: cannot load checkpoint"):
        load_state(tmp_path / "cut.pt")
    for foreign in ([1, 2], {"weights": torch.zeros(2)}, torch.zeros(3)):
        with pytest.raises(ValueError, match=r"not an slwsr-search checkpoint \(format tag None"):
            load_state(_state_file(tmp_path, foreign))
    with pytest.raises(ValueError, match="none.pt: checkpoint not found"):
        load_state(tmp_path / "none.pt")


def test_resume_refuses_another_spec_protocol_or_a_file_without_a_training(tmp_path):
    save_state(tmp_path / "s.pt", TrainingState.of(_trained(2)))
    other = TINY.replace(n_feats=6)
    with pytest.raises(ValueError, match=f"s.pt: holds spec {TINY.hash} .*, not {other.hash}"):
        resume(Training(other, DATA, STATE_PROTOCOL, "cpu"), tmp_path / "s.pt")
    with pytest.raises(ValueError, match=r"s.pt: holds a training of another protocol \(lr 0.001 -> 0.002\)"):
        resume(Training(TINY, DATA, dataclasses.replace(STATE_PROTOCOL, lr=2e-3), "cpu"), tmp_path / "s.pt")
    save_checkpoint(tmp_path / "w.pt", _trained(2).model)
    with pytest.raises(ValueError, match="w.pt: holds weights only, no training to continue"):
        resume(Training(TINY, DATA, STATE_PROTOCOL, "cpu"), tmp_path / "w.pt")
    save_state(tmp_path / "p.pt", TrainingState(TINY, extra={"progress": 1}))
    with pytest.raises(ValueError, match="p.pt: holds progress only"):
        resume(Training(TINY, DATA, STATE_PROTOCOL, "cpu"), tmp_path / "p.pt")
    with pytest.raises(ValueError, match="p.pt: holds no weights"):
        load_checkpoint(tmp_path / "p.pt")


class _Unsavable:
    def __reduce__(self):
        raise RuntimeError("cannot be saved")


def test_a_failed_save_leaves_the_last_state_whole(tmp_path):
    save_state(tmp_path / "s.pt", TrainingState.of(_trained(2), {"n": 1}))
    with pytest.raises(RuntimeError, match="cannot be saved"):  # fails part-way through writing
        save_state(tmp_path / "s.pt", TrainingState.of(_trained(3), {"n": _Unsavable()}))
    assert load_state(tmp_path / "s.pt").extra == {"n": 1} and [p.name for p in tmp_path.iterdir()] == ["s.pt"]


def test_the_formats_it_replaced_still_load(tmp_path):
    """``train --save`` files and ``finalize`` checkpoints written before this format."""
    t = _trained(3)
    weights = {k: v.detach().clone() for k, v in t.model.state_dict().items()}
    torch.save({"format": OLD_CHECKPOINT, "spec": TINY.to_json(compact=True), "state_dict": weights,
                "protocol": {"steps": 3}, "extra": {"psnr": 20.0}}, tmp_path / "old.pt")
    model, ckpt = load_checkpoint(tmp_path / "old.pt")
    assert _same(model.state_dict(), weights) and ckpt["protocol"] == {"steps": 3} and ckpt["extra"] == {"psnr": 20.0}
    torch.save({"format": OLD_FINALIZE, "spec": TINY.to_json(compact=True), "spec_hash": TINY.hash,
                "training": t.state_dict(), "train_s": 4.5, "threads": 2, "saved": "then"}, tmp_path / "state.pt")
    again = Training(TINY, DATA, STATE_PROTOCOL, "cpu")
    state = resume(again, tmp_path / "state.pt")
    assert state.steps == 3 and state.extra == {"train_s": 4.5, "threads": 2, "saved": "then"}
    assert _same(again.state_dict(), t.state_dict())
