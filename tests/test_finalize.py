"""`finalize`: a long training that survives crashes (kill -9 included) with bit-identical weights,
its progress table, the moving average, the literature's table and the release bundle."""

from __future__ import annotations

import json
import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import run_command, stop_after

from slwsr_search import load_bundle
from slwsr_search.machine import cpu_label
from slwsr_search.model.network import build_model
from slwsr_search.model.presets import get_preset
from slwsr_search.sr.data import load_data
from slwsr_search.training.finalize import (CONFIG, LOG, STATE, FinalizeConfig, finalize_training,
                                            read_progress)
from slwsr_search.training.checkpoint import load_checkpoint, save_checkpoint
from slwsr_search.training.protocol import Protocol
from slwsr_search.training.state import OLD_FINALIZE, load_state

REPO = Path(__file__).resolve().parents[1]
TINY = Protocol(steps=12, batch_size=2, lr_patch=16)


@pytest.fixture(scope="module")
def data():
    return load_data("builtin:train", "builtin:val", 4, 16, progress=False)


def config(**kw) -> FinalizeConfig:
    base = dict(spec=get_preset("s-lwsr16-half"), protocol=TINY, train=("builtin:train",), val=("builtin:val",),
                checkpoint_every=4, eval_every=3)
    return FinalizeConfig(**{**base, **kw})


def weights(training) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in training.model.state_dict().items()}


@pytest.mark.parametrize("stops, resumes, ema", [
    ([6], 1, 0.0),  # stopped mid-chunk after the checkpoint at 4
    ([2, 9], 1, 0.9),  # stopped before the first checkpoint (starts over), then after the one at 8
    ([4, 4], 2, 0.9),  # stopped right after the checkpoints at 4 and at 8
])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, data, stops, resumes, ema):
    """Stopped (after N more steps) any number of times, then resumed: the final weights, moving
    average and progress scores equal those of one uninterrupted run."""
    ref = finalize_training(tmp_path / "ref", config(ema_decay=ema), data, "cpu")
    assert ref.status == "ok" and ref.steps_done == 12
    run = tmp_path / "run"
    for n in stops:
        r = finalize_training(run, config(ema_decay=ema), data, "cpu", should_stop=stop_after(n))
        assert r.status == "interrupted"
    done = finalize_training(run, config(ema_decay=ema), data, "cpu")
    assert done.status == "ok" and done.resumed_from is not None
    a, b = weights(ref.training), weights(done.training)
    assert all(torch.equal(a[k], b[k]) for k in a)
    if ema:
        assert all(torch.equal(ref.training.ema[k], done.training.ema[k]) for k in a)
        assert not all(torch.equal(ref.training.ema[k], a[k]) for k in a)  # the average is not the weights
    cols = ("step", "lr", "loss", "psnr", "ssim", "ema_psnr", "ema_ssim", "loss_mean")
    ref_dir = tmp_path / "ref"
    assert [[r[c] for c in cols] for r in read_progress(ref_dir)] == [[r[c] for c in cols] for r in read_progress(run)]
    assert [r["step"] for r in read_progress(ref_dir)] == [3, 6, 9, 12]
    log = (run / LOG).read_text()
    assert log.count("resumed from the checkpoint") == resumes


def test_progress_table_and_ema_columns(tmp_path, data):
    r = finalize_training(tmp_path, config(ema_decay=0.9), data, "cpu")
    rows = read_progress(tmp_path)
    assert [x["step"] for x in rows] == [3, 6, 9, 12]
    assert all(x["psnr"] > 0 and x["ema_psnr"] > 0 and x["loss"] > 0 for x in rows)
    assert rows[-1]["train_s"] >= rows[0]["train_s"] > 0
    assert r.last_row == rows[-1]
    plain = finalize_training(tmp_path / "plain", config(), data, "cpu")
    assert plain.status == "ok" and all(x["ema_psnr"] is None for x in read_progress(tmp_path / "plain"))


def test_a_ladder_of_scores_and_the_window_loss(tmp_path, data):
    """``eval_at`` adds rows at those steps; each row's ``loss_mean`` is the mean of the step
    losses since the row before, also across a resume between two rows."""
    losses: dict[int, float] = {}
    cfg = config(eval_every=12, eval_at=(2, 5, 11), checkpoint_every=4)
    finalize_training(tmp_path / "a", cfg, data, "cpu", on_step=lambda s, l: losses.__setitem__(s, l))
    rows = read_progress(tmp_path / "a")
    assert [r["step"] for r in rows] == [2, 5, 11, 12]
    bounds = [0, 2, 5, 11, 12]
    for r, lo, hi in zip(rows, bounds, bounds[1:]):
        assert r["loss_mean"] == pytest.approx(sum(losses[s] for s in range(lo + 1, hi + 1)) / (hi - lo), rel=1e-6)
    finalize_training(tmp_path / "b", cfg, data, "cpu", should_stop=stop_after(9))  # checkpoint at 8, mid-window
    finalize_training(tmp_path / "b", cfg, data, "cpu")
    assert read_progress(tmp_path / "b") == [{**r, "train_s": b["train_s"]} for r, b in zip(rows, read_progress(tmp_path / "b"))]
    with pytest.raises(ValueError, match="eval_at: expected steps in 1..12"):
        config(eval_at=(13,))


def test_a_resume_on_another_cpu_is_logged(tmp_path, data, monkeypatch):
    import slwsr_search.training.finalize as fin

    finalize_training(tmp_path, config(), data, "cpu", should_stop=stop_after(5))
    monkeypatch.setattr(fin, "cpu_label", lambda: "Other CPU (avx2)")
    finalize_training(tmp_path, config(), data, "cpu")
    log = (tmp_path / LOG).read_text()
    assert f"on another CPU (Other CPU (avx2)) than the checkpoint's ({cpu_label()})" in log
    assert load_state(tmp_path / STATE).extra["cpus"] == [cpu_label(), "Other CPU (avx2)"]


def test_finished_run_returns_at_once(tmp_path, data):
    first = finalize_training(tmp_path, config(), data, "cpu")
    again = finalize_training(tmp_path, config(), data, "cpu")
    assert again.status == "ok" and again.resumed_from == 12
    assert all(torch.equal(v, weights(again.training)[k]) for k, v in weights(first.training).items())
    assert "found the finished training" in (tmp_path / LOG).read_text()


@pytest.mark.parametrize("change, words", [
    (dict(protocol=Protocol(steps=13, batch_size=2, lr_patch=16)), "protocol.steps 12 -> 13"),
    (dict(spec=get_preset("s-lwsr16")), "spec x4-n16-rrR"),
    (dict(ema_decay=0.99), "ema_decay 0.0 -> 0.99"),
    (dict(train=("builtin:val",)), "train ['builtin:train'] -> ['builtin:val']"),
])
def test_resuming_another_request_is_refused(tmp_path, data, change, words):
    finalize_training(tmp_path, config(), data, "cpu", should_stop=stop_after(5))
    with pytest.raises(ValueError) as e:
        finalize_training(tmp_path, config(**change), data, "cpu")
    assert words in str(e.value) and str(tmp_path / CONFIG) in str(e.value)


def test_the_checkpoint_is_a_training_state(tmp_path, data):
    finalize_training(tmp_path, config(ema_decay=0.9), data, "cpu", should_stop=stop_after(5))
    state = load_state(tmp_path / STATE)
    assert state.resumable and state.steps == 4 and state.spec == config().spec and state.protocol == TINY.to_dict()
    assert set(state.extra) == {"train_s", "threads", "saved", "cpus", "window_loss", "window_steps"}
    assert state.extra["threads"] == torch.get_num_threads() and state.extra["cpus"] == [cpu_label()]
    assert "ema" in state.training
    model, _ = load_checkpoint(tmp_path / STATE)  # so `slwsr evaluate --checkpoint` scores a run under way
    assert all(torch.equal(v, state.weights[k]) for k, v in model.state_dict().items())


def test_corrupt_or_foreign_checkpoint_is_refused(tmp_path, data):
    finalize_training(tmp_path, config(), data, "cpu", should_stop=stop_after(5))
    path = str(tmp_path / STATE)
    (tmp_path / STATE).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"^{path}: cannot load checkpoint"):
        finalize_training(tmp_path, config(), data, "cpu")
    torch.save({"format": "something else"}, tmp_path / STATE)
    with pytest.raises(ValueError, match=f"^{path}: not an slwsr-search checkpoint"):
        finalize_training(tmp_path, config(), data, "cpu")
    save_checkpoint(tmp_path / STATE, build_model(config().spec))
    with pytest.raises(ValueError, match=f"^{path}: holds weights only, no training to continue"):
        finalize_training(tmp_path, config(), data, "cpu")
    other = get_preset("s-lwsr16")
    save_checkpoint(tmp_path / STATE, build_model(other))
    with pytest.raises(ValueError, match=f"^{path}: holds spec {other.hash} .*, not {config().spec.hash}"):
        finalize_training(tmp_path, config(), data, "cpu")


def test_a_run_checkpointed_in_the_old_format_resumes_bit_identical(tmp_path, data):
    """A run folder whose state.pt was written before the training-state format (a run under way
    across an upgrade) continues from it and ends as an uninterrupted run."""
    ref = finalize_training(tmp_path / "ref", config(), data, "cpu")
    run = tmp_path / "run"
    finalize_training(run, config(), data, "cpu", should_stop=stop_after(6))
    state = load_state(run / STATE)
    torch.save({"format": OLD_FINALIZE, "spec": config().spec.to_json(compact=True), "spec_hash": config().spec.hash,
                "training": state.training, **state.extra}, run / STATE)
    done = finalize_training(run, config(), data, "cpu")
    assert done.status == "ok" and done.resumed_from == 4
    a, b = weights(ref.training), weights(done.training)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="checkpoint_every: expected an integer >= 1, got 0"):
        config(checkpoint_every=0)
    with pytest.raises(ValueError, match="ema_decay: expected 0 .* got 1.0"):
        config(ema_decay=1.0)
    c = config(ema_decay=0.5, origin="preset x")
    assert FinalizeConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


CMD = [sys.executable, "-m", "slwsr_search.finalize", "--preset", "s-lwsr16-half", "--steps", "60", "--batch", "4",
       "--patch", "24", "--checkpoint-every", "10", "--eval-every", "30", "--threads", "1", "--quiet",
       "--no-self-ensemble", "--bench", "builtin:val", "--calib-patches", "8", "--tflite-size", "112x112"]


def _kill_when(proc: subprocess.Popen, log: Path, checkpoints: int, line: str = "") -> None:
    """SIGKILL ``proc`` as soon as its log holds ``checkpoints`` checkpoint lines (and ``line``),
    wherever it is then."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if text.count("checkpoint at step") >= checkpoints and line in text:
            break
        assert proc.poll() is None, f"finished before it could be killed: {proc.communicate()}"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_kill_9_twice_then_resume_gives_bit_identical_weights(tmp_path):
    """The command killed with SIGKILL twice mid-training and run again ends with exactly the
    weights of an uninterrupted run, and its log and model card show the resumes."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # The uninterrupted run's weights are its last checkpoint: killed once training has finished
    # (while it writes its bundle, which the resumed run's checks cover), it costs no bundle.
    ref = subprocess.Popen(CMD + ["--out", str(tmp_path / "ref")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _kill_when(ref, tmp_path / "ref" / LOG, 6, "finished 60 steps")
    run = tmp_path / "run"
    for n in (1, 3):
        proc = subprocess.Popen(CMD + ["--out", str(run)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _kill_when(proc, run / LOG, n)
    done = subprocess.run(CMD + ["--out", str(run)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    sa, sb = load_state(tmp_path / "ref" / STATE).weights, load_bundle(run / "bundle").state_dict()
    assert load_state(tmp_path / "ref" / STATE).steps == 60 and sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    log = (run / LOG).read_text()
    assert log.count("resumed from the checkpoint") == 2 and "finished 60 steps" in log
    card = (run / "bundle" / "MODEL_CARD.md").read_text()
    assert "resumed 2 time(s)" in card and "s-lwsr16-half" in card
    # the Reproduce command names the run folder as seen from where the command ran, not this machine's path
    (command,) = [line for line in card.splitlines() if line.startswith("python -m slwsr_search.finalize ")]
    assert not [a for a in shlex.split(command) if os.path.isabs(a)] and f"--out {os.path.relpath(run)}" in command
    assert [r["psnr"] for r in read_progress(run)] == [r["psnr"] for r in read_progress(tmp_path / "ref")]
    # the LiteRT files where the [litert] extra is installed (not in the test install), else a line saying why not
    litert = importlib.util.find_spec("litert_torch") is not None
    tflite = {"model.tflite", "model.int8.tflite"} if litert else set()
    assert {p.name for p in (run / "bundle").iterdir()} == {"model.safetensors", "spec.json", "model.onnx", "model.int8.onnx",
                                                            "model.fp16.onnx", "crops.png", "model.mlpackage", "MODEL_CARD.md",
                                                            *tflite}
    assert litert or "no model.tflite: LiteRT needs litert-torch" in done.stdout
    # the card lists each model file with its score on the bench set and its latency here
    files = card[card.index("## Model files"):]
    assert all(f"| `{f}` |" in files for f in ("model.onnx", "model.int8.onnx", "model.fp16.onnx", *tflite)) and " ms |" in files
    if litert:  # at its own size (112x112): scored, but not timed on the 320x180 image
        row = next(line for line in files.splitlines() if line.startswith("| `model.int8.tflite` |"))
        assert "112x112 LR in" in row and " / 0." in row and row.split(" | ")[-2] == "-"  # latency: not timed
        # every file's "against the network" cell: the parity gate passed it (docs/deployment.md#the-parity-gate)
        assert " dB |" in row.split(" | ", 3)[-1] and "max diff" in row
        _litert_files_are_the_bundles_network(run / "bundle", done.stdout + done.stderr)

    assert "![" in card and "(crops.png)" in card and "| s-lwsr16-half (int8) |" in (run / "table.md").read_text()
    assert (run / "table.md").exists() and "| s-lwsr16-half |" in (run / "table.md").read_text()
    assert "validation PSNR (dB)" in (run / "progress.html").read_text()


def _litert_files_are_the_bundles_network(bundle, out: str) -> None:
    """finalize trains channels_last; its .tflite files must still compute the bundle's network
    (before the fix: 0.79 max difference, 10.4 dB), and the command printed the gate's lines."""
    from slwsr_search.deploy.litert import litert_runner
    from slwsr_search.deploy.parity import TOLERANCES, compare, parity_input
    from slwsr_search.deploy.runners import torch_runner
    from slwsr_search.sr.data import load_pairs

    net = load_bundle(bundle)
    x = parity_input(load_pairs("builtin:val", 4, progress=False)[0].lr, (112, 112))  # a real picture
    assert compare(litert_runner(bundle / "model.tflite")(x), torch_runner(net)(x))[0] <= 1e-4
    assert compare(litert_runner(bundle / "model.int8.tflite")(x), torch_runner(net)(x))[1] >= TOLERANCES["int8"].min_psnr
    assert "parity against the network on builtin:val" in out
    for name in ("model.onnx", "model.int8.onnx", "model.fp16.onnx", "model.tflite", "model.int8.tflite", "model.mlpackage"):
        assert any(f" {name} " in line and line.rstrip().endswith(": ok") for line in out.splitlines()), name



@pytest.mark.parametrize("args, words", [
    (["--study", "budget150k"], "--study and --trial go together"),
    (["--preset", "s-lwsr16", "--study", "budget150k", "--trial", "1"], "either --study/--trial or one of"),
    ([], "name a design"),
    (["--study", "budget150k", "--trial", "1", "--storage", "sqlite:///nowhere/x.db"], "no such database"),
    (["--preset", "s-lwsr16", "--ema", "1.5"], "ema_decay: expected 0 (off) or a number in (0, 1), got 1.5"),
    (["--preset", "s-lwsr16", "--ship", "ema"], "--ship ema: this run keeps no moving average"),
    (["--preset", "s-lwsr16", "--tflite-size", "64x48"], "--tflite-size 64x48: at least 111 LR pixels each way"),
])
def test_bad_requests_are_one_line_errors(tmp_path, capsys, args, words):
    from slwsr_search.cli.finalize import main

    code, _, err = run_command(lambda a: main(a, "finalize"), capsys, *args, "--out", str(tmp_path / "o"), "--quiet",
                               prog="finalize")
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_trial_spec_from_a_study(tmp_path):
    import optuna

    from slwsr_search.search.record import trial_spec, write

    study = optuna.create_study(directions=["minimize"])
    spec = get_preset("s-lwsr16-half")
    t = study.ask()
    write(t, spec=spec.to_json(compact=True), arch=spec.arch)
    study.tell(t, 1.0)
    study.tell(study.ask(), 2.0)
    got, rec = trial_spec(study, 0)
    assert got == spec and rec.arch == spec.arch
    with pytest.raises(ValueError, match="trial 1 of .* recorded no spec"):
        trial_spec(study, 1)
    with pytest.raises(ValueError, match="--trial 7: study .* has trials 0..1"):
        trial_spec(study, 7)


@pytest.mark.parametrize("ship, row, has_ema, expected", [
    ("best", {"psnr": 30.6, "ema_psnr": 30.5}, True, "raw"),
    ("best", {"psnr": 30.6, "ema_psnr": 30.7}, True, "ema"),
    ("best", {"psnr": 30.6, "ema_psnr": None}, False, "raw"),
    ("ema", {"psnr": 30.6, "ema_psnr": 30.5}, True, "ema"),
    ("raw", {"psnr": 30.6, "ema_psnr": 30.7}, True, "raw"),
])
def test_which_weights_ship(ship, row, has_ema, expected):
    from slwsr_search.deploy.release import choose_weights

    assert choose_weights(ship, row, has_ema) == expected


def test_shipping_an_average_that_was_not_kept_is_refused():
    from slwsr_search.deploy.release import choose_weights

    with pytest.raises(ValueError, match="kept no moving average"):
        choose_weights("ema", {"psnr": 1.0}, False)


def test_a_run_folder_another_process_trains_is_refused(tmp_path, data):
    """Two trainings of one folder would overwrite each other's checkpoints: while another process
    holds the folder, a training of it is refused; once it lets go, the training runs."""
    (tmp_path / "run").mkdir()
    hold = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=f"{tmp_path / 'run'}: another process is training this run"):
            finalize_training(tmp_path / "run", config(), data, "cpu")
    finally:
        holder.kill()
        holder.wait()
    assert finalize_training(tmp_path / "run", config(), data, "cpu").status == "ok"


def test_the_gpu_path_gives_every_step_and_every_progress_row_a_loss(tmp_path, data):
    """finalize on the loop's GPU path (the loss read every 10 steps, CUDA's default) run on a CPU:
    ``on_step`` gets a float at every step and each progress row a loss (a GPU's rows once had
    none), the value ``on_step`` had at that step; weights, scores and the rows' mean losses are
    the CPU path's (reading the loss less often changes no result)."""
    from slwsr_search.training.device import Speedups

    losses: dict[int, float] = {}
    cpu = finalize_training(tmp_path / "cpu", config(), data, "cpu")
    gpu = finalize_training(tmp_path / "gpu", config(), data, "cpu", Speedups(loss_every=10),
                            on_step=lambda s, l: losses.__setitem__(s, l))
    assert cpu.status == gpu.status == "ok" and sorted(losses) == list(range(1, 13))
    assert all(isinstance(v, float) for v in losses.values())
    rows, ref = read_progress(tmp_path / "gpu"), read_progress(tmp_path / "cpu")
    assert [r["step"] for r in rows] == [3, 6, 9, 12] and [r["loss"] for r in rows] == [losses[r["step"]] for r in rows]
    assert [(r["psnr"], r["ssim"]) for r in rows] == [(r["psnr"], r["ssim"]) for r in ref]
    assert [r["loss_mean"] for r in rows] == pytest.approx([r["loss_mean"] for r in ref], rel=1e-6)
    a, b = weights(cpu.training), weights(gpu.training)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_run_gives_every_step_and_every_progress_row_a_loss(tmp_path, data):
    losses: dict[int, float] = {}
    r = finalize_training(tmp_path, config(), data, "cuda", on_step=lambda s, l: losses.__setitem__(s, l))
    assert r.status == "ok" and sorted(losses) == list(range(1, 13)) and all(isinstance(v, float) for v in losses.values())
    assert [x["loss"] for x in read_progress(tmp_path)] == [losses[s] for s in (3, 6, 9, 12)]


@pytest.mark.parametrize("cuda, pname, steps", [(True, "paper", "1,000,000"), (False, "long", "5,000")])
def test_protocol_auto_picks_the_papers_on_cuda_and_says_so(tmp_path, capsys, data, monkeypatch, cuda, pname, steps):
    """``finalize --protocol auto`` (the default) with CUDA simulated (``--device auto`` resolves to
    cuda; nothing runs on it: the training is stubbed) picks ``paper``, and the header line printed
    before any training says so with its 1,000,000 steps; on a CPU, ``long``. ``--help`` says both."""
    import slwsr_search.cli.finalize as cli
    from slwsr_search.training.finalize import FinalizeResult
    from slwsr_search.training.protocol import PROTOCOLS

    seen = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(cli, "configure_device", lambda dev, sp: seen.setdefault("dev", dev))  # touches no GPU
    monkeypatch.setattr(cli, "load_data", lambda *a, **k: data)
    monkeypatch.setattr(cli, "release_calibration", lambda *a: None)

    def no_training(name, config, *a):
        seen["protocol"] = config.protocol
        return FinalizeResult("interrupted", None, 0, 0.0, None), print

    monkeypatch.setattr(cli, "_train", no_training)
    code, out, _ = run_command(lambda a: cli.main(a, "finalize"), capsys, "--preset", "s-lwsr16-half", "--out",
                               str(tmp_path / "o"), "--quiet", prog="finalize")
    assert code == 130 and seen["dev"].type == ("cuda" if cuda else "cpu") and seen["protocol"] == PROTOCOLS[pname]
    assert f"protocol    {pname}: {steps} steps x 16 x 48 px" in out
    with pytest.raises(SystemExit):
        cli.main(["--help"], "finalize")
    text = " ".join(capsys.readouterr().out.split())
    assert "`long` on a CPU" in text and "`paper` on CUDA (the paper's 1,000,000 steps" in text


def test_a_run_starts_from_the_weights_of_init_and_refuses_another_designs(tmp_path, data):
    """--init: a supernet's inherited weights (or any checkpoint of the design) are where the
    training starts; at lr ~0 the weights stay where they started, and a run from a fresh
    initialisation does not start there."""
    spec = get_preset("s-lwsr16-half")
    torch.manual_seed(7)
    start = build_model(spec)
    save_checkpoint(tmp_path / "init.pt", start)
    still = Protocol(steps=2, batch_size=2, lr_patch=16, lr=1e-12)
    r = finalize_training(tmp_path / "run", config(protocol=still, init=str(tmp_path / "init.pt")), data, "cpu")
    got = load_state(tmp_path / "run" / STATE).weights
    assert r.status == "ok" and all(torch.allclose(got[k], v, atol=1e-6) for k, v in start.state_dict().items())
    assert "from the weights in" in (tmp_path / "run" / LOG).read_text()
    fresh = finalize_training(tmp_path / "fresh", config(protocol=still), data, "cpu")
    assert fresh.status == "ok" and not torch.equal(load_state(tmp_path / "fresh" / STATE).weights["head.weight"], start.state_dict()["head.weight"])
    save_checkpoint(tmp_path / "other.pt", build_model(get_preset("s-lwsr16")))
    with pytest.raises(ValueError, match="other.pt: holds spec"):
        finalize_training(tmp_path / "run2", config(protocol=still, init=str(tmp_path / "other.pt")), data, "cpu")
