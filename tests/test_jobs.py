"""The library jobs, called as a notebook would, without the commands: a study run end to end
(``jobs.study.run_job``: hooks, result, report, refusals, Ctrl-C), a study's report without torch,
a release (``deploy.release_job.build_release``: the gate's rejection), the quantize job and one
picture upscaled from file to file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import optuna
import pytest
import torch
from PIL import Image

from helpers import write_folders
from slwsr_search.jobs.study import JobHooks, JobPlan, job_settings, run_job
from slwsr_search.search.study import StudyConfig


@pytest.fixture
def smoke(tmp_path):
    """The smoke study's inputs: its storage URL and a plan on the synthetic data, one CPU thread."""
    tr, va = write_folders(tmp_path)
    return f"sqlite:///{tmp_path / 's.db'}", JobPlan(train_dirs=[tr], val_dirs=[va], device="cpu", threads=1,
                                                     report_dir=tmp_path / "report")


def _recorder(events: list) -> JobHooks:
    """Hooks that note, in order, what each hears."""
    def note(name):
        return lambda *a: events.append((name, *a))

    return JobHooks(**{f: note(f[3:]) for f in JobHooks.__dataclass_fields__})


@pytest.mark.slow  # three trainings and a report: over 4 s on 2 cores
def test_run_job_runs_a_study_and_tells_its_hooks_in_order(smoke, tmp_path):
    url, plan = smoke
    events: list = []
    r = run_job("smoke", url, JobPlan(**{**plan.__dict__, "n_trials": 1}), _recorder(events))
    names = [e[0] for e in events]
    assert names[0] == "start" and names[-1] == "report" and names.index("ran") < names.index("report")
    start = events[0][1]
    assert start.settings.cfg.name == "smoke" and start.complete == 0 and start.device == "cpu"
    trials = [e for e in events if e[0] == "trial"]
    assert trials and all(e[1] == 0 for e in trials)  # the run's own trials: worker 0
    assert not {"stop_requested", "interrupted", "worker", "stopping_workers", "calibrate"} & set(names)
    assert r.code == 0 and r.finished and r.states["COMPLETE"] == 1 and r.workers == 1
    assert r.trainings == 1 and r.trainings_per_hour > 0 and r.failed_workers == ()
    assert r.report is not None and r.report_dir == tmp_path / "report" and (r.report_dir / "index.html").is_file()
    study = optuna.load_study(study_name="smoke", storage=url)
    assert [t.number for t in study.trials] == [e[2].number for e in trials]
    # resumed with a larger target, without a report: the earlier trial is kept and counted
    again = run_job(StudyConfig.load("smoke"), url, JobPlan(**{**plan.__dict__, "n_trials": 2, "write_report": False}))
    assert again.finished and again.states["COMPLETE"] == 2 and again.report is not None and again.report_dir is None


def test_run_job_checks_the_data_before_it_records_anything(smoke, tmp_path):
    url, plan = smoke
    missing = str(tmp_path / "no-such-folder")
    with pytest.raises((ValueError, OSError), match="no-such-folder"):
        run_job("smoke", url, JobPlan(**{**plan.__dict__, "train_dirs": [missing]}))
    assert not (tmp_path / "s.db").exists()


def test_run_job_stopped_by_ctrl_c_queues_nothing_and_writes_no_report(smoke, tmp_path):
    """The first Ctrl-C (SIGINT, as a terminal sends it) asks for a stop; the run ends between
    trials with code 130, tells ``on_stop_requested`` and ``on_interrupted`` (no trial cut short)
    and writes no report."""
    url, plan = smoke
    events: list = []
    hooks = _recorder(events)
    hooks = JobHooks(**{**hooks.__dict__, "on_trial": lambda w, t: os.kill(os.getpid(), signal.SIGINT)})
    before = signal.getsignal(signal.SIGINT)
    r = run_job("smoke", url, plan, hooks)
    names = [e[0] for e in events]
    assert r.code == 130 and r.report is None and r.report_dir is None and not r.finished
    assert "stop_requested" in names and ("interrupted", 0, None) in events
    assert "ran" not in names and "report" not in names and not (tmp_path / "report").exists()
    assert signal.getsignal(signal.SIGINT) is before  # the run's handler is gone


def test_job_settings_take_the_plan_over_the_study_and_name_what_is_wrong(tmp_path):
    cfg = StudyConfig.load("smoke")
    st = job_settings(cfg, f"sqlite:///{tmp_path / 'x.db'}")
    assert (st.seed, st.n_trials, st.timeout, st.train_src) == (cfg.seed, cfg.n_trials, cfg.timeout, list(cfg.train))
    st = job_settings("smoke", "sqlite:///x.db", JobPlan(seed=5, n_trials=3, timeout=9.5, train_dirs=["a"], val_dirs=["b"]))
    assert (st.seed, st.n_trials, st.timeout, st.train_src, st.val_src) == (5, 3, 9.5, ["a"], ["b"])
    other = job_settings("smoke", "sqlite:///x.db", JobPlan(seed=5, train_dirs=["c"], val_dirs=["b"]))
    assert st.protocol("cpu").seed == 5 and st.key(st.protocol("cpu")) != other.key(other.protocol("cpu"))  # other data
    for plan, words in ((JobPlan(seed=-1), "--seed: expected an integer >= 0, got -1"),
                        (JobPlan(n_trials=0), "--n-trials: expected an integer >= 1, got 0"),
                        (JobPlan(threads=0), "--threads: expected an integer >= 1, got 0")):
        with pytest.raises(ValueError, match=words):
            job_settings(cfg, "sqlite:///x.db", plan)


def test_the_report_job_loads_no_torch():
    """``slwsr report``'s library half reads a study without the training stack."""
    code = ("import sys, slwsr_search.jobs, slwsr_search.jobs.report; "
            "print([m for m in ('torch', 'onnxruntime', 'safetensors') if m in sys.modules])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stdout + p.stderr


def test_upscale_file_tiles_a_picture_into_its_file_and_names_one_it_cannot_write(tmp_path):
    from slwsr_search.deploy.runners import torch_runner
    from slwsr_search.jobs.upscale import upscale_file
    from slwsr_search.model.network import build_model
    from slwsr_search.model.spec import ArchSpec
    from slwsr_search.sr.tiles import receptive_radius

    torch.manual_seed(0)
    model = build_model(ArchSpec.from_arch("x4-n4-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h")).eval()
    src = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (13, 21, 3), dtype=np.uint8)).save(src)
    heard, done = [], []

    def on_tiles(n):
        heard.append(n)
        return lambda k, total: done.append((k, total))

    margin = receptive_radius(model, 4)
    assert upscale_file(src, tmp_path / "out" / "p_x4.png", torch_runner(model), 4, 8, margin, on_tiles=on_tiles) == (13, 21)
    assert heard == [6] and len(done) == 6 and done[-1] == (6, 6)
    whole = tmp_path / "whole.png"
    upscale_file(src, whole, torch_runner(model), 4, 64, margin)
    tiled, one = (np.asarray(Image.open(p)).astype(int) for p in (tmp_path / "out" / "p_x4.png", whole))
    assert tiled.shape == (52, 84, 3) and np.abs(tiled - one).max() <= 1  # tiles equal the whole picture
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="file/x.png: cannot write"):
        upscale_file(src, tmp_path / "file" / "x.png", torch_runner(model), 4, 64, margin)


# quantize_model is what `slwsr quantize` calls: its files, gate, rows and scores are tested through
# the command (tests/test_quantize.py), which is the path users take.


@pytest.mark.slow  # a training, ONNX export, int8 calibration, scoring: over 4 s on 2 cores
def test_build_release_writes_the_bundle_and_rejects_a_file_that_is_not_the_network(tmp_path, monkeypatch):
    """A release from a training, called as a notebook would: the bundle, its card and table;
    an fp16 graph whose numbers are not the network's fails the gate, leaves the bundle and is named."""
    import slwsr_search.deploy.release_files as release_files
    import slwsr_search.deploy.variants as variants
    from slwsr_search.deploy.bundle import CARD, ONNX, ONNX_FP16, ONNX_INT8
    from slwsr_search.deploy.int8_settings import Int8Settings
    from slwsr_search.deploy.onnx_export import export_onnx
    from slwsr_search.deploy.release_job import INSTALL, ReleaseOptions, build_release, release_calibration
    from slwsr_search.model.network import build_model
    from slwsr_search.model.presets import get_preset
    from slwsr_search.sr.data import load_data
    from slwsr_search.sr.table import load_bench
    from slwsr_search.training.finalize import FinalizeConfig, finalize_training
    from slwsr_search.training.protocol import Protocol

    torch.manual_seed(1)
    stranger = export_onnx(build_model(get_preset("s-lwsr16-half")), tmp_path / "stranger.onnx")
    real = variants.convert_fp16
    # the fp16 graph made from another network's graph, as a stale file would be
    monkeypatch.setattr(variants, "convert_fp16", lambda fp32, out: real(stranger, out))
    # the LiteRT and Core ML conversions take long; their files pass the same gate (tests/test_parity.py)
    monkeypatch.setattr(release_files, "litert_files", lambda *a: [])
    monkeypatch.setattr(release_files, "coreml_files", lambda *a: [])
    data = load_data("builtin:train", "builtin:val", 4, 16, progress=False)
    config = FinalizeConfig(get_preset("s-lwsr16-half"), Protocol(steps=4, batch_size=2, lr_patch=16),
                            ("builtin:train",), ("builtin:val",), checkpoint_every=2, eval_every=2)
    res = finalize_training(tmp_path / "run", config, data, "cpu")
    options = ReleaseOptions(Int8Settings(patches=4), self_ensemble=False, command="slwsr finalize --preset s-lwsr16-half")
    calib = release_calibration(options, 4, data.train)
    assert calib[0] is options.int8 and calib[1].shape[0] == 4
    lines: list[str] = []
    r = build_release("s16h", config, res, tmp_path / "run", [load_bench("builtin:val", 4)], calib, data.val, options,
                      lines.append)
    assert r.failed == [ONNX_FP16] and r.bundle == tmp_path / "run" / "bundle" and r.facts.steps == 4
    assert (r.bundle / ONNX).is_file() and (r.bundle / ONNX_INT8).is_file() and not (r.bundle / ONNX_FP16).exists()
    assert (tmp_path / "run" / "bundle.rejected" / ONNX_FP16).is_file()
    assert any(line.startswith("REJECTED    model.fp16.onnx") for line in lines)
    card = (r.bundle / CARD).read_text()
    assert f"| `{ONNX_INT8}` |" in card and f"| `{ONNX_FP16}` |" not in card and INSTALL in card and options.command in card
    assert r.table is not None and (tmp_path / "run" / "table.md").is_file() and (tmp_path / "run" / "progress.html").is_file()
    assert json.loads((r.bundle / "spec.json").read_text())["n_feats"] == get_preset("s-lwsr16-half").n_feats
