"""The search: spaces, studies, pricing first, dedupe, baselines, resume, failures, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from helpers import run_command
from slwsr_search import PRESETS
from slwsr_search.cli.run import main as run_main
from slwsr_search.search import record, rungs as rungs_mod
from slwsr_search.search.record import STATUSES, TrialRecord
from slwsr_search.reporting.compute import pareto_front, trials_frame
from slwsr_search.search.space import KEEP_COUNTS, SearchSpace, draw_specs, keep_mask
from slwsr_search.search.storage import mask_url
from slwsr_search.search.study import SAMPLERS, StudyConfig
from slwsr_search.model.spec import HALF_ACTIVATION_MASK, SLOTS, ArchSpec

REPO = Path(__file__).resolve().parents[1]
from slwsr_search.training.loop import TrainResult

SPACE_NAMES = ["slwsr", "smoke"]
STUDY_NAMES = ["budget150k", "budget600k", "latency150k", "phone150k", "smoke"]
REQUIRED_ATTRS = {"arch", "spec", "hash", "params", "macs", "protocol_key", "feasible", "status"}
TRAINED_ATTRS = {"psnr", "ssim", "train_seconds", "steps_per_s", "device", "reason"}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Runs write their databases and reports under the current folder: tmp_path, never the checkout."""
    monkeypatch.chdir(tmp_path)


def run(capsys, *argv):
    return run_command(run_main, capsys, *argv, prog="run")


def load(url, name):
    return optuna.load_study(study_name=name, storage=url)


# ----- spaces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,min_distinct", [("slwsr", 140), ("smoke", 100), ("slwsr-mix", 140)])
def test_every_trial_suggests_every_parameter_and_yields_a_valid_spec(name, min_distinct):
    space = SearchSpace.load(name)
    st = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    specs = []

    def objective(trial):
        specs.append(space.suggest(trial))
        return 0.0

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st.optimize(objective, n_trials=150)
    for t, spec in zip(st.trials, specs):
        assert sorted(t.params) == sorted(space.param_names)  # fixed length: NSGA-II can evolve all
        assert isinstance(spec, ArchSpec) and spec == space.decode(t.params)
        assert spec.scale == space.scale and spec.n_feats in space.n_feats
        if space.encoding == "mix":  # many parameter sets give one spec: its canonical one gives it back
            assert space.decode(space.encode(spec)) == spec
        elif any(t.params[f"pool:{s}"] for s in space.pool_sources):
            assert space.encode(spec) == t.params
    assert len({s.hash for s in specs}) >= min_distinct  # 150 draws: the space is really explored


def test_keep_rule():
    assert keep_mask("1/2") == HALF_ACTIVATION_MASK
    for setting, n in KEEP_COUNTS.items():
        assert sum(keep_mask(setting)) == n
    rare = keep_mask("rare")
    assert rare[0] and rare[-1] and sum(rare) == 2
    # the settings are nested: each keeps what the smaller one keeps
    for small, big in [("1/3", "1/2"), ("1/2", "2/3"), ("2/3", "all")]:
        assert all(b for a, b in zip(keep_mask(small), keep_mask(big)) if a)


@pytest.mark.parametrize("space_name", ["slwsr", "slwsr-mix"])
def test_paper_designs_are_in_the_space(space_name):
    space = SearchSpace.load(space_name)
    for name in ("s-lwsr16", "s-lwsr16-half", "s-lwsr32", "s-lwsr32-half"):
        assert space.decode(space.encode(PRESETS[name])) == PRESETS[name]
    with pytest.raises(ValueError, match="n_feats 64 not in"):
        space.encode(PRESETS["s-lwsr64"], "s-lwsr64")


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_the_mix_encoding_draws_every_block_mix_alike():
    """``res_count`` residual blocks, in the slots of the lowest ``order:`` values; the count is
    uniform over 0..26, so all-residual designs come up as often as any other mix."""
    space = SearchSpace.load("slwsr-mix")
    specs = draw_specs(space, 1350, seed=1, distinct=False, max_tries=1350)
    counts = np.bincount([sum(b.type == "res" for b in s.blocks) for s in specs], minlength=27)
    assert counts.min() > 25 and counts.max() < 80  # 50 expected per count (binomial sd 7)
    params = space.encode(PRESETS["s-lwsr16"])
    params.update({"res_count": 2, **{f"order:{s}": 1.0 for s in SLOTS}, "order:F4.b3": 0.2, "order:LB2.b1": 0.5})
    spec = space.decode(params)
    assert [s for s, b in zip(SLOTS, spec.blocks) if b.type == "res"] == ["LB2.b1", "F4.b3"]
    assert all(b.expand == 1 for b in spec.blocks if b.type == "ir")  # encode's filler: the first IR choice
    per_slot = draw_specs(SearchSpace.load("slwsr"), 500, seed=1, distinct=False, max_tries=500)
    assert sum(sum(b.type == "res" for b in s.blocks) >= 13 for s in per_slot) <= 5  # about 1 in 800


def test_a_mix_encoding_needs_residual_and_inverted_blocks(tmp_path):
    text = (REPO / "search_spaces" / "slwsr-mix.toml").read_text().replace(
        'choices = ["res", "ir1", "ir2", "ir4", "ir6"]', 'choices = ["ir1", "ir2"]')
    (tmp_path / "m.toml").write_text(text)
    with pytest.raises(ValueError, match='m.toml: blocks.encoding: "mix" needs "res"'):
        SearchSpace.load(tmp_path / "m.toml")
    (tmp_path / "e.toml").write_text(text.replace('encoding = "mix"', 'encoding = "binary"'))
    with pytest.raises(ValueError, match="e.toml: blocks.encoding: unknown encoding 'binary'"):
        SearchSpace.load(tmp_path / "e.toml")


def test_empty_pool_is_repaired_to_head():
    space = SearchSpace.load("smoke")
    params = {n: False for n in space.param_names if n.startswith("pool:")}
    params.update({"n_feats": 4, "res_scale": 1.0, "keep": "all", **{f"block:{s}": "res" for s in space.block_slots}})
    assert space.decode(params).pool == ("head",)


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_studies_load_and_fit(name):
    cfg = StudyConfig.load(name)
    cfg.check_space_fits()
    # the quality score first (budget150k ranks by the training loss: docs/fidelity.md#screening-defaults)
    assert cfg.sampler["name"] in SAMPLERS and cfg.objectives[0] in ("psnr", "loss", "int8_psnr")
    for b in cfg.baselines:
        cfg.space.encode(PRESETS[b], b)


def test_budget150k_enqueues_the_paper_designs_that_fit():
    cfg = StudyConfig.load("budget150k")
    assert cfg.max_params == 150_000 and set(cfg.baselines) >= {"s-lwsr16", "s-lwsr16-half"}


# ----- runs -----------------------------------------------------------------------------------------


def _spy_trainings(monkeypatch, calls: list) -> None:
    """Record the spec of every training segment the runner starts."""
    real = rungs_mod.Training.run
    monkeypatch.setattr(rungs_mod.Training, "run", lambda self, *a, **k: calls.append(self.spec) or real(self, *a, **k))


def _smoke(tmp_path, *argv):
    return ["--study", "smoke", "--storage", f"sqlite:///{tmp_path / 's.db'}", "--quiet", "--device", "cpu", *argv]


def test_smoke_study_end_to_end(capsys, tmp_path, folders, monkeypatch):
    trained = []
    _spy_trainings(monkeypatch, trained)
    code, out, err = run(capsys, *_smoke(tmp_path, "--n-trials", "6"), *folders)
    assert code == 0, err
    st = load(f"sqlite:///{tmp_path / 's.db'}", "smoke")
    complete = [t for t in st.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6
    assert st.metric_names == ["PSNR (dB)", "parameters", "Multi-Adds (G)"]
    for t in st.trials:
        assert REQUIRED_ATTRS <= set(t.user_attrs), t.number
        assert ArchSpec.from_json(t.user_attrs["spec"]).arch == t.user_attrs["arch"]
        if t.user_attrs["feasible"]:
            assert TRAINED_ATTRS <= set(t.user_attrs)
            assert t.user_attrs["params"] <= 20_000 and t.constraints["params"] <= 0
        else:
            assert t.user_attrs["status"] == "infeasible" and t.constraints["params"] > 0
    # over-budget specs are never trained; each trained spec is feasible
    assert trained and all(s.hash in {t.user_attrs["hash"] for t in st.trials if t.user_attrs["feasible"]} for s in trained)
    over = {t.user_attrs["hash"] for t in st.trials if not t.user_attrs["feasible"]}
    assert not over & {s.hash for s in trained}
    assert f"#{complete[-1].number}" in out and "Pareto-optimal" in out


def test_resume_up_to_n_trials(capsys, tmp_path, folders):
    code, _, _ = run(capsys, *_smoke(tmp_path, "--n-trials", "2"), *folders)
    assert code == 0
    code, out, _ = run(capsys, *_smoke(tmp_path, "--n-trials", "5"), *folders)
    assert code == 0 and "2 of 5 complete so far" in out
    st = load(f"sqlite:///{tmp_path / 's.db'}", "smoke")
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in st.trials) == 5
    code, out, _ = run(capsys, *_smoke(tmp_path, "--n-trials", "5"), *folders)
    # a finished study runs nothing more (over-budget proposals are PRUNED, so not every trial is COMPLETE)
    assert code == 0 and "5 of 5 complete so far" in out and len(load(f"sqlite:///{tmp_path / 's.db'}", "smoke").trials) == len(st.trials)


def test_resume_with_other_data_is_refused(capsys, tmp_path, folders):
    assert run(capsys, *_smoke(tmp_path, "--n-trials", "1"), *folders)[0] == 0
    code, _, err = run(capsys, *_smoke(tmp_path, "--n-trials", "2"), "--train-dir", folders[3], "--val-dir", folders[3])
    assert code == 2 and "was run with another protocol or data" in err
    assert "this run: " in err and f"move {tmp_path / 's.db'} aside" in err and err.count("\n") == 1


def test_resume_with_other_objectives_of_the_same_directions_is_refused(capsys, tmp_path, folders):
    """A study file whose first objective changed from PSNR to SSIM (both maximised) is not resumed
    into the old study: the stored metric names say which objectives its values are."""
    assert run(capsys, *_smoke(tmp_path, "--n-trials", "1"), *folders)[0] == 0
    toml = open(StudyConfig.load("smoke").path).read()
    assert 'objectives = ["psnr", "params", "macs"]' in toml
    (tmp_path / "smoke.toml").write_text(toml.replace('objectives = ["psnr", "params", "macs"]', 'objectives = ["ssim", "params", "macs"]'))
    args = [a if a != "smoke" else str(tmp_path / "smoke.toml") for a in _smoke(tmp_path, "--n-trials", "2")]
    code, _, err = run(capsys, *args, *folders)
    assert code == 2 and "has other objectives (PSNR (dB), parameters, Multi-Adds (G); this study file: SSIM, parameters, Multi-Adds (G))" in err, err


def _write_study(tmp_path, space: str, study: str) -> str:
    (tmp_path / "space.toml").write_text(space)
    path = tmp_path / "custom.toml"
    path.write_text(study.replace("SPACE", str(tmp_path / "space.toml")))
    return str(path)


ONE_SPEC_SPACE = """
n_feats = [4]
[blocks]
choices = ["res"]
slots = []
[activations]
keep = ["all"]
[pool]
sources = ["head"]
"""

STUDY = """
search_space = "SPACE"
n_trials = 3
baselines = BASELINES
[constraints]
max_params = 150_000
[protocol]
steps = 2
batch_size = 2
lr_patch = 12
"""


def test_duplicates_are_not_retrained(capsys, tmp_path, folders, monkeypatch):
    path = _write_study(tmp_path, ONE_SPEC_SPACE, STUDY.replace("BASELINES", "[]"))
    calls = []
    _spy_trainings(monkeypatch, calls)
    code, out, err = run(capsys, "--study", path, "--storage", f"sqlite:///{tmp_path / 'd.db'}", "--quiet", *folders)
    assert code == 0, err
    st = load(f"sqlite:///{tmp_path / 'd.db'}", "custom")
    assert len(calls) == 1 and len(st.trials) == 3
    assert [t.user_attrs.get("duplicate_of") for t in st.trials] == [None, 0, 0]
    assert len({t.values[0] for t in st.trials}) == 1 and "(= #0)" in out


def test_baselines_are_enqueued_first_and_trained(capsys, tmp_path, folders):
    space = ONE_SPEC_SPACE.replace("n_feats = [4]", "n_feats = [4, 16]").replace('keep = ["all"]', 'keep = ["1/2", "all"]') \
        .replace('sources = ["head"]', 'sources = "all"')
    path = _write_study(tmp_path, space, STUDY.replace("BASELINES", '["s-lwsr16", "s-lwsr16-half", "s-lwsr32"]'))
    code, out, err = run(capsys, "--study", path, "--storage", f"sqlite:///{tmp_path / 'b.db'}", "--quiet", *folders)
    assert code == 0, err
    st = load(f"sqlite:///{tmp_path / 'b.db'}", "custom")
    assert [t.user_attrs.get("baseline") for t in st.trials[:2]] == ["s-lwsr16", "s-lwsr16-half"]
    assert st.trials[0].user_attrs["hash"] == PRESETS["s-lwsr16"].hash and st.trials[0].user_attrs["status"] == "ok"
    assert "enqueued baselines: s-lwsr16, s-lwsr16-half" in out  # s-lwsr32 is over budget: skipped
    df = trials_frame(st)
    assert not pareto_front(df, ["psnr", "params", "macs"]).empty


def test_a_failed_training_is_a_failed_trial_and_the_study_goes_on(capsys, tmp_path, folders, monkeypatch):
    real = rungs_mod.Training.run
    state = {"n": 0}

    def flaky(self, steps, *a, **k):
        state["n"] += 1
        if state["n"] == 1:
            return TrainResult("nonfinite", "loss became non-finite (nan) by step 1", None, None, 1, None,
                               0.1, 0.0, 0.1, 0.0, "cpu")
        return real(self, steps, *a, **k)

    monkeypatch.setattr(rungs_mod.Training, "run", flaky)
    space = ONE_SPEC_SPACE.replace("n_feats = [4]", "n_feats = [4, 6, 8]")
    path = _write_study(tmp_path, space, STUDY.replace("BASELINES", "[]"))
    code, out, err = run(capsys, "--study", path, "--storage", f"sqlite:///{tmp_path / 'f.db'}", "--quiet", *folders)
    assert code == 0, err
    st = load(f"sqlite:///{tmp_path / 'f.db'}", "custom")
    failed = [t for t in st.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) >= 1 and failed[0].user_attrs["status"] == "nonfinite" and "non-finite" in failed[0].user_attrs["reason"]
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in st.trials) == 3 and "FAILED" in out


# ----- bad input --------------------------------------------------------------------------------------


def test_unknown_study_lists_the_known_ones(capsys):
    code, _, err = run(capsys, "--study", "nope")
    assert code == 2 and "unknown study 'nope'; known: budget150k, budget600k, latency150k, phone150k, smoke" in err and err.count("\n") == 1


@pytest.mark.parametrize("text,msg", [
    ('search_space = "smoke"\nn_trials = \n', r"custom.toml: malformed TOML: .*line 2"),
    ('search_space = "smoke"\nn_trials = 2\nwidth = 3\n[protocol]\n[constraints]\n', r"custom.toml: unknown key 'width'"),
    ('search_space = "smoke"\nn_trials = 2\n[protocol]\nsteps = 0\n[constraints]\n', r"\[protocol\]|protocol.steps"),
    ('search_space = "smoke"\nn_trials = 2\n[protocol]\nepochs = 3\n[constraints]\n', r"\[protocol\]: unknown key 'epochs'"),
    ('search_space = "nospace"\nn_trials = 2\n[protocol]\n[constraints]\n', r"unknown search space 'nospace'; known: slwsr, slwsr-mix, smoke"),
    ('search_space = "smoke"\nn_trials = 2\n[protocol]\n[constraints]\nmax_param = 5\n', r"\[constraints\]: unknown key 'max_param'"),
    ('search_space = "smoke"\nn_trials = 2\n[protocol]\n[constraints]\nmax_params = 5000\n', r"nothing in search space 'smoke' fits the budget"),
    ('search_space = "smoke"\nn_trials = 2\n[protocol]\n[constraints]\n[sampler]\nname = "CmaEs"\n', r"unknown sampler 'CmaEs'"),
])
def test_bad_study_files(capsys, tmp_path, text, msg, monkeypatch):
    monkeypatch.setattr(rungs_mod.Training, "run", lambda *a, **k: pytest.fail("trained despite bad input"))
    path = tmp_path / "custom.toml"
    path.write_text(text)
    code, out, err = run(capsys, "--study", str(path), "--storage", f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 2 and err.count("\n") == 1
    import re
    assert re.search(msg, err), err


def test_bad_space_file(capsys, tmp_path):
    path = _write_study(tmp_path, ONE_SPEC_SPACE.replace('choices = ["res"]', 'choices = ["res", "dense"]'),
                        STUDY.replace("BASELINES", "[]"))
    code, _, err = run(capsys, "--study", path)
    assert code == 2 and "space.toml: blocks.choices: unknown block choice 'dense'" in err


@pytest.mark.parametrize("workers", [1, 2])
def test_a_missing_data_folder_records_nothing(capsys, tmp_path, folders, workers):
    # A typo in a folder used to record the study with that data, and every later run was refused.
    bad = ["--train-dir", str(tmp_path / "nonexistent"), "--val-dir", folders[3]]
    code, out, err = run(capsys, *_smoke(tmp_path, "--n-trials", "1", "--workers", str(workers)), *bad)
    assert code == 2 and f"{tmp_path / 'nonexistent'}: data folder not found" in err and err.count("\n") == 1
    assert not (tmp_path / "s.db").exists() and "study " not in out
    code, out, err = run(capsys, *_smoke(tmp_path, "--n-trials", "1"), *folders)
    assert code == 0 and "0 of 1 complete so far" in out, err


def test_unreachable_storage_is_a_clear_error_and_writes_nothing(capsys, tmp_path):
    code, _, err = run(capsys, "--study", "smoke", "--storage", "postgresql+psycopg2://me:s3cret@127.0.0.1:1/none")
    assert code == 2 and "storage postgresql+psycopg2://me:***@127.0.0.1:1/none: cannot open" in err
    assert "s3cret" not in err and err.count("\n") == 1
    code, _, err = run(capsys, "--study", "smoke", "--storage", f"sqlite:///{tmp_path / 'no' / 'dir.db'}")
    assert code == 2 and "does not exist" in err and not (tmp_path / "no").exists()


def test_a_run_writes_under_the_current_folder(capsys, tmp_path, folders):
    code, out, err = run(capsys, "--study", "smoke", "--quiet", "--device", "cpu", "--n-trials", "2", *folders)
    assert code == 0, err
    assert "in sqlite:///studies/smoke.db" in out and "report: reports/smoke/index.html" in out
    assert (tmp_path / "studies" / "smoke.db").is_file() and (tmp_path / "reports" / "smoke" / "index.html").is_file()


def test_a_relative_search_space_is_read_from_the_study_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "space.toml").write_text(ONE_SPEC_SPACE)
    (tmp_path / "mine" / "study.toml").write_text(STUDY.replace('"SPACE"', '"space.toml"').replace("BASELINES", "[]"))
    cfg = StudyConfig.load(tmp_path / "mine" / "study.toml")  # from tmp_path, not from mine/
    assert cfg.space.n_feats == (4,) and cfg.name == "study" and cfg.storage == "sqlite:///studies/study.db"


def test_trial_record_is_the_only_vocabulary_of_user_attrs():
    st = optuna.create_study()
    t = st.ask()
    record.write(t, arch="x4-n4-...", params=5, psnr=None)
    with pytest.raises(KeyError, match="'archh' is not a TrialRecord field"):
        record.write(t, archh="x")
    st.tell(t, 1.0)
    r = TrialRecord.of(st.trials[0])
    assert (r.arch, r.params, r.psnr, r.status) == ("x4-n4-...", 5, None, None) and "psnr" in st.trials[0].user_attrs
    assert r.attrs() == {"arch": "x4-n4-...", "params": 5}
    assert {s for s in STATUSES if TrialRecord(status=s).trained} == {"ok", "screened", "nonfinite", "oom"}
    assert not TrialRecord(status="ok", duplicate_of=3).trained


def test_mask_url():
    assert mask_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("sqlite:///a/b.db") == "sqlite:///a/b.db"
