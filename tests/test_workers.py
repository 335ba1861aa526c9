"""Many workers on one study: SQLite (the default) and PostgreSQL, kill -9, Ctrl-C, seeds, masking.

These tests start real ``python -m slwsr_search.run`` processes, as a user does. The PostgreSQL
ones need the server our machines and CI run on 127.0.0.1:5432 (trust authentication, database
``test``); they are skipped, saying so, where none answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from helpers import pg_reason

from slwsr_search.search.storage import count_states
from slwsr_search.search.study import FaultTolerance, StudyConfig, sampler_seed, trial_seed
from slwsr_search.search.workers import StopRequest, worker_plan

PG_PASSWORD = "s3cret-Pa55"  # trust authentication ignores it: it is here to be masked
PG_URL = f"postgresql+psycopg2://postgres:{PG_PASSWORD}@127.0.0.1:5432/test"

# The smoke study, with heartbeats every second and a 3 s grace period so a dead worker's trial is
# found within seconds, and STEPS training steps per trial (enough to be killed in the middle).
STUDY = """
search_space = "smoke"
n_trials = {n_trials}
seed = 7
[constraints]
max_params = 20_000
[sampler]
name = "NSGAIISampler"
population_size = 4
[protocol]
steps = {steps}
batch_size = 2
lr_patch = 16
[fault_tolerance]
heartbeat_interval = 1
grace_period = 3
max_retry = 2
"""


PG_SKIP = pg_reason(PG_URL)
STORAGES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or ""))]


@pytest.fixture
def study_file(tmp_path, request):
    """``make(n_trials, steps) -> (toml path, study name)``; PostgreSQL studies are deleted afterwards."""
    made = []

    def make(n_trials: int = 8, steps: int = 3, extra: str = "") -> tuple[str, str]:
        name = f"w{uuid.uuid4().hex[:10]}"  # unique: the PostgreSQL database is shared
        path = tmp_path / f"{name}.toml"
        path.write_text(STUDY.format(n_trials=n_trials, steps=steps) + extra)
        made.append(name)
        return str(path), name

    yield make
    if PG_SKIP is None:
        for name in made:
            try:
                optuna.delete_study(study_name=name, storage=PG_URL)
            except KeyError:
                pass


def _url(kind: str, tmp_path: Path) -> str:
    return PG_URL if kind == "postgresql" else f"sqlite:///{tmp_path / 'study.db'}"


def _cmd(path: str, *extra: str) -> list[str]:
    # one thread per worker: tiny nets gain nothing from more, and the tests share the cores
    return [sys.executable, "-m", "slwsr_search.run", "--study", path, "--device", "cpu", "--threads", "1", "--quiet",
            "--no-report", *extra]


def _env(url: str) -> dict[str, str]:
    # the URL goes in the environment, as the README advises for passwords
    return {**os.environ, "SLWSR_STORAGE": url, "PYTHONUNBUFFERED": "1"}


def _run(path: str, url: str, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(path, *extra), env=_env(url), cwd=Path(path).parent, capture_output=True, text=True, timeout=timeout)


def _states(url: str, name: str) -> dict[str, int]:
    return count_states(optuna.load_study(study_name=name, storage=url))


def _check_seeds(trials) -> None:
    """Every trial that got as far as pricing trained (or would have) with the seed of its number,
    or of the trial it retries: never one that depends on the worker."""
    for t in trials:
        if "train_seed" in t.user_attrs and "duplicate_of" not in t.user_attrs:
            assert t.user_attrs["train_seed"] == trial_seed(7, t.user_attrs.get("retry_of", t.number)), t.number


# ----- plans and seeds (no processes) -------------------------------------------------------------


@pytest.mark.parametrize("n,device,gpus,cores,threads,visible,expect", [
    (1, "auto", 0, 2, None, None, [({}, "cpu", 2)]),
    (2, "auto", 0, 2, None, None, [({}, "cpu", 1)] * 2),
    (3, "cpu", 0, 2, None, None, [({}, "cpu", 1)] * 3),  # never zero threads
    (2, "cpu", 4, 16, 3, None, [({}, "cpu", 3)] * 2),  # --device cpu ignores GPUs; --threads wins
    (3, "auto", 2, 16, None, None, [({"CUDA_VISIBLE_DEVICES": "0"}, "cuda", None), ({"CUDA_VISIBLE_DEVICES": "1"}, "cuda", None),
                                    ({"CUDA_VISIBLE_DEVICES": "0"}, "cuda", None)]),  # round robin
    (2, "cuda", 2, 16, None, "3,5", [({"CUDA_VISIBLE_DEVICES": "3"}, "cuda", None), ({"CUDA_VISIBLE_DEVICES": "5"}, "cuda", None)]),
    (2, "cuda:1", 2, 16, None, None, [({}, "cuda:1", None)] * 2),
])
def test_worker_plan(n, device, gpus, cores, threads, visible, expect):
    assert worker_plan(n, device, gpus, cores, threads, visible) == expect


@pytest.mark.parametrize("n,device,gpus,msg", [(0, "cpu", 0, "--workers: expected an integer >= 1"),
                                               (2, "cuda", 0, "no CUDA GPU is visible")])
def test_worker_plan_errors(n, device, gpus, msg):
    with pytest.raises(ValueError, match=msg):
        worker_plan(n, device, gpus, 2, None)


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_worker_plan_on_this_machines_gpus():
    import torch

    plan = worker_plan(torch.cuda.device_count() + 1, "auto", torch.cuda.device_count(), os.cpu_count() or 1, None)
    assert [p[0]["CUDA_VISIBLE_DEVICES"] for p in plan][-1] == "0" and all(p[1] == "cuda" for p in plan)


def test_trial_and_sampler_seeds():
    seeds = [trial_seed(0, n) for n in range(200)]
    assert seeds == [trial_seed(0, n) for n in range(200)]  # a function of (study seed, number) only
    assert len(set(seeds)) == 200 and trial_seed(1, 5) != trial_seed(0, 5)
    assert all(0 <= s < 2**31 for s in seeds)
    assert sampler_seed(7, 0, 0) == 7  # a plain fresh run: the study seed, so a rerun repeats itself
    assert len({sampler_seed(7, w, 2) for w in range(1, 9)}) == 8  # workers propose different designs


@pytest.mark.parametrize("table,msg", [
    ("heartbeat_interval = 0", "heartbeat_interval: expected an integer >= 1, got 0"),
    ("grace_period = 5\nheartbeat_interval = 5", "grace_period: must exceed heartbeat_interval (5), got 5"),
    ("max_retry = -1", "max_retry: expected an integer >= 0, got -1"),
    ("max_retry = true", "max_retry: expected an integer >= 0, got True"),
    ("beat = 3", "unknown key 'beat'"),
])
def test_bad_fault_tolerance(tmp_path, table, msg):
    path = tmp_path / "ft.toml"
    path.write_text('search_space = "smoke"\nn_trials = 2\n[protocol]\n[constraints]\n[fault_tolerance]\n' + table + "\n")
    with pytest.raises(ValueError, match=r"ft.toml: \[fault_tolerance\]: .*" + __import__("re").escape(msg)):
        StudyConfig.load(path)
    assert StudyConfig.load("smoke").fault_tolerance == FaultTolerance()


# ----- real workers ---------------------------------------------------------------------------------


#: A multi-fidelity [fidelity] table for the smoke study: two rungs, half go on, two seeds at the top.
RUNGS = "\n[fidelity]\nrungs = [1, 2]\nreduction = 2\nseeds_at_top = 2\n"


@pytest.mark.slow
# the rungs reach the storage through Optuna's API as plain trials do: one storage for them suffices
@pytest.mark.parametrize("kind, fidelity", [
    pytest.param("sqlite", "", id="plain-sqlite"),
    pytest.param("postgresql", "", id="plain-postgresql", marks=pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")),
    pytest.param("sqlite", RUNGS, id="rungs-sqlite"),
])
def test_three_workers_finish_exactly_n_trials(kind, fidelity, tmp_path, study_file):
    path, name = study_file(n_trials=8, extra=fidelity)
    url = _url(kind, tmp_path)
    res = _run(path, url, "--workers", "3")
    assert res.returncode == 0, res.stderr
    states = _states(url, name)
    # exactly n_trials COMPLETE, nothing failed or left running; a worker that lost the race for
    # the last place closes its fresh trial as PRUNED (surplus) before building anything; over-budget
    # proposals are PRUNED too (priced, never trained)
    assert states.get("COMPLETE") == 8 and set(states) <= {"COMPLETE", "PRUNED"}, states
    trials = optuna.load_study(study_name=name, storage=url).trials
    assert all(t.user_attrs.get("status") in ("surplus", "infeasible") for t in trials if t.state == TrialState.PRUNED)
    assert len({t.user_attrs["worker"] for t in trials}) >= 2  # the work was shared
    _check_seeds(trials)
    out = res.stdout + res.stderr
    assert "[w1]" in out and "[w3]" in out and "study holds 8 COMPLETE" in out and "Traceback" not in out
    assert PG_PASSWORD not in out
    assert ("***" in out) == (kind == "postgresql")  # a PostgreSQL URL is printed masked; a SQLite one has nothing to mask
    if fidelity:  # the rungs under three workers: every design screened, some promoted, each top with two seeds
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        assert {t.user_attrs["status"] for t in done} <= {"ok", "screened"} and any(t.user_attrs["status"] == "ok" for t in done)
        assert all(len(t.user_attrs["seed_psnr"]) == 2 for t in done if t.user_attrs["status"] == "ok")


def _wait_for_training(url: str, name: str, proc: subprocess.Popen, limit: float = 120,
                       attr: str = "feasible") -> int:
    """The number of a running trial whose user attr ``attr`` is set and true (default: a feasible
    trial, being trained), once there is one; fails if ``proc`` ends first."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            for t in optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if t.user_attrs.get(attr):
                    return t.number
        except KeyError:  # the study is not created yet
            pass
        time.sleep(0.2)
    raise AssertionError("no trial started training")


@pytest.mark.slow
@pytest.mark.parametrize("kind", STORAGES)
def test_a_worker_killed_mid_trial_loses_nothing(kind, tmp_path, study_file):
    path, name = study_file(n_trials=4, steps=150)
    url = _url(kind, tmp_path)
    proc = subprocess.Popen(_cmd(path), env=_env(url), cwd=Path(path).parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = _wait_for_training(url, name, proc)
    before = {t.number: t.values for t in optuna.load_study(study_name=name, storage=url).trials if t.state == TrialState.COMPLETE}
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert _states(url, name).get("RUNNING") == 1  # what kill -9 leaves behind

    res = _run(path, url)  # a new worker: finds the stale trial, fails it, runs its retry
    assert res.returncode == 0, res.stderr
    trials = optuna.load_study(study_name=name, storage=url).trials
    by_number = {t.number: t for t in trials}
    assert by_number[killed].state == TrialState.FAIL
    retries = [t for t in trials if t.user_attrs.get("retry_of") == killed]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == by_number[killed].params  # the same spec ...
    assert retries[0].user_attrs["train_seed"] == trial_seed(7, killed)  # ... and the same seed
    states = _states(url, name)
    assert states.get("COMPLETE") == 4 and "RUNNING" not in states, states
    for n, values in before.items():  # no completed trial lost or changed
        assert by_number[n].state == TrialState.COMPLETE and by_number[n].values == values
    _check_seeds(trials)
    assert f"#{killed:<4} FAILED: its worker died" in res.stdout and f"(retry of #{killed})" in res.stdout
    assert PG_PASSWORD not in res.stdout + res.stderr


@pytest.mark.slow
def test_a_worker_killed_mid_promotion_continues_the_design_on_resume(tmp_path, study_file):
    """kill -9 while a promoted design trains its second rung: the retry honours the promotion,
    continues from the design's continuation file (rung 0 is not trained again) and ends with the
    scores an uninterrupted study gives the same trial."""
    fidelity = "\n[fidelity]\nrungs = [1, 4]\nreduction = 2\n"
    path, name = study_file(n_trials=3, steps=60, extra=fidelity)
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    proc = subprocess.Popen(_cmd(path), env=_env(url), cwd=Path(path).parent, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    killed = _wait_for_training(url, name, proc, attr="promoted")  # promoted to rung 1: in its second segment
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert list((tmp_path / "killed.rungs").glob("*.pt"))  # the continuation file the retry will read
    res = _run(path, url)
    assert res.returncode == 0, res.stderr
    trials = optuna.load_study(study_name=name, storage=url).trials
    cut = next(t for t in trials if t.number == killed)
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == killed)
    assert cut.state == TrialState.FAIL and retry.state == TrialState.COMPLETE and retry.user_attrs["status"] == "ok"
    # rung 0 came from the file: the same score and the same recorded seconds, not a new measurement
    assert retry.user_attrs["rung_seconds"][0] == cut.user_attrs["rung_seconds"][0]
    assert not list((tmp_path / "killed.rungs").glob("*.pt"))  # done: nothing left behind
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    assert _run(path, clean_url).returncode == 0
    same = next(t for t in optuna.load_study(study_name=name, storage=clean_url).trials if t.number == killed)
    assert same.params == retry.params
    assert same.user_attrs["rung_psnr"] == retry.user_attrs["rung_psnr"] and same.values == retry.values


def _default_sigint() -> None:
    # A shell script's background job inherits SIGINT as ignored, and Python then never raises
    # KeyboardInterrupt; a terminal's Ctrl-C reaches a process with the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_mid_trial(path, url, name, *extra, sig=signal.SIGINT):
    proc = subprocess.Popen(_cmd(path, *extra), env=_env(url), cwd=Path(path).parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)
    running = _wait_for_training(url, name, proc)
    proc.send_signal(sig)  # SIGINT: what Ctrl-C sends
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err, running


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_retrains_the_cut_trial(tmp_path, study_file):
    path, name = study_file(n_trials=3, steps=150)
    url = _url("sqlite", tmp_path)
    code, out, err, running = _interrupt_mid_trial(path, url, name)
    assert code == 130, err
    assert f"interrupted: trial #{running} was cut short: marked FAIL and queued to run first on resume" in err
    assert "run the same command to resume" in err and "Traceback" not in err
    states = _states(url, name)
    assert states.get("FAIL") == 1 and states.get("WAITING") == 1 and "RUNNING" not in states, states
    res = _run(path, url, "--n-trials", "3")
    assert res.returncode == 0, res.stderr
    trials = optuna.load_study(study_name=name, storage=url).trials
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == running)
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["train_seed"] == trial_seed(7, running)
    states = _states(url, name)
    assert states.get("COMPLETE") == 3 and states.get("FAIL") == 1 and set(states) <= {"COMPLETE", "FAIL", "PRUNED"}


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_every_worker(tmp_path, study_file, sig):
    path, name = study_file(n_trials=20, steps=150)
    url = _url("sqlite", tmp_path)
    code, out, err, _ = _interrupt_mid_trial(path, url, name, "--workers", "2", sig=sig)
    assert code == 130, err
    assert "interrupted after" in err and "Traceback" not in err
    states = _states(url, name)
    assert "RUNNING" not in states and states.get("COMPLETE", 0) < 20, states
    # each trial a Ctrl-C cut short is FAIL and has a queued copy
    trials = optuna.load_study(study_name=name, storage=url).trials
    cut = [t.number for t in trials if t.state == TrialState.FAIL]
    assert cut and sorted(t.system_attrs["failed_trial"] for t in trials if t.state == TrialState.WAITING) == sorted(cut)


def test_first_signal_asks_a_second_forces():
    with StopRequest() as stop:
        assert signal.getsignal(signal.SIGINT) is stop and signal.getsignal(signal.SIGTERM) is stop
        stop(signal.SIGINT, None)
        assert stop.requested  # the first: a request, honoured at the next clean point
        with pytest.raises(KeyboardInterrupt):
            stop(signal.SIGTERM, None)  # the second: at once
    assert signal.getsignal(signal.SIGINT) is not stop  # the previous handlers are back


# ----- first runs at once on a new SQLite file ----------------------------------------------------

#: Opens a study as a run does (under its setup lock) once the parent says go, after the imports,
#: so that every process reaches the new database in the same few milliseconds.
_OPEN_AT_ONCE = """
import pathlib, sys, time
from slwsr_search.search.storage import open_study, setup_lock
from slwsr_search.search.study import StudyConfig
cfg, url, folder = StudyConfig.load(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
(folder / f"ready-{sys.argv[4]}").touch()
while not (folder / "go").exists():
    time.sleep(0.001)
with setup_lock(cfg, url):
    open_study(cfg, url, 0)
"""


@pytest.mark.slow
def test_studies_opened_at_once_on_a_new_sqlite_file_take_turns(tmp_path):
    # Without the lock, 3 processes racing to create Optuna's tables failed in 5 rounds out of 5
    # ('table study_directions already exists', or a UNIQUE constraint on the version table).
    for rnd in range(2):
        folder = tmp_path / f"r{rnd}"
        folder.mkdir()
        url = f"sqlite:///{folder / 's.db'}"
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AT_ONCE, "smoke", url, str(folder), str(k)],
                                  stderr=subprocess.PIPE, text=True) for k in range(3)]
        end = time.monotonic() + 60
        while len(list(folder.glob("ready-*"))) < 3 and time.monotonic() < end:
            time.sleep(0.01)
        (folder / "go").touch()
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], errors
        assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["smoke"]


@pytest.mark.slow
def test_two_runs_started_at_once_on_a_new_file_share_the_study(tmp_path):
    # The test studies' 3 s grace period is too short for two processes starting at once on two
    # cores (a first step can take longer than that): a live trial would be retried as stale.
    path, name = tmp_path / "two.toml", "two"
    path.write_text(STUDY.format(n_trials=4, steps=3).replace("grace_period = 3", "grace_period = 60"))
    url = f"sqlite:///{tmp_path / 'new.db'}"
    procs = [subprocess.Popen(_cmd(str(path)), env=_env(url), cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    states = _states(url, name)
    assert states.get("COMPLETE") == 4 and set(states) <= {"COMPLETE", "PRUNED"}, states
    assert all("study holds 4 COMPLETE" in o[0] for o in outs)
