"""A study run end to end as one call, :func:`run_job`: its settings from the study and a
:class:`JobPlan`, the data checked before anything is recorded, the study opened (protocol claimed,
baselines enqueued, under the storage's setup lock), trials run here or in worker processes
(``python -m slwsr_search.run --worker K``: :func:`run_worker`), the front's latency measured
(studies priced by a latency table), the report built and written. :class:`JobHooks` hear what
happens, each optional: a notebook may pass none, ``slwsr run`` prints them. Ctrl-C (or SIGTERM)
stops at the next clean point (:class:`~..search.workers.StopRequest`); the trial it cuts short is
queued to run first on resume."""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import optuna
from optuna.trial import TrialState

from ..model.latency_table import LatencyTable
from ..model.supernet import SuperNet
from ..sr.data import BUILTIN, TrainData, discover, load_data
from ..training.device import Speedups, configure_device, resolve_device
from ..training.protocol import Protocol
from ..deploy.int8_settings import Int8Settings
from ..search.evaluators import InheritedWeights
from ..search.record import StudyRecord, TrialRecord
from ..search.resources import default_report_dir
from ..search.rungs import RungStore
from ..search.runner import Runner, enqueue_baselines, requeue_interrupted, run_study
from ..search.storage import (STORAGE_ENV, claim_protocol, count_states, open_study, resolve_storage, rung_dir,
                              setup_lock)
from ..search.study import StudyConfig, make_sampler, protocol_desc, protocol_key, sampler_seed, screening_record
from ..search.workers import StopRequest, WorkerPlan, failed_workers, local_plan, spawn_workers
from ..reporting.render import write_report
from .report import study_report
from .study_hooks import JobHooks, JobResult
from .supernet_study import supernet_scorer, with_supernet
from ..reporting.notes import evaluator_sentence

#: Set for a run's workers: how many trials the study held before the run (it seeds their samplers).
TRIALS_BEFORE_ENV = "SLWSR_TRIALS_BEFORE"
#: What a run's workers run as, ``python -m WORKER_MODULE ... --worker K``: the command, whose
#: ``--worker`` calls :func:`run_worker`.
WORKER_MODULE = "slwsr_search.run"


@dataclass(frozen=True)
class JobPlan:
    """What one run asks beyond its study: ``n_trials`` (COMPLETE trials the study should hold),
    ``timeout`` (s; no trial starts after it), ``seed``, ``train_dirs`` / ``val_dirs`` (each None or
    empty: the study's), ``workers`` (processes on this machine), ``device``, ``threads`` (CPU
    threads per worker; None: the cores shared out), ``progress`` (progress bars on stderr) and
    the report: written (``write_report``) to ``report_dir`` (None: ``reports/NAME``); ``supernet``:
    a supernet state file that scores the trials (the study's ``[evaluator]`` otherwise)."""

    n_trials: int | None = None
    timeout: float | None = None
    seed: int | None = None
    train_dirs: Sequence[str] | None = None
    val_dirs: Sequence[str] | None = None
    workers: int = 1
    device: str = "auto"
    threads: int | None = None
    progress: bool = False
    report_dir: str | Path | None = None
    write_report: bool = True
    supernet: str | None = None  # score with this supernet's inherited weights instead of the study's evaluator


@dataclass(frozen=True)
class JobSettings:
    """What every worker of one run shares, resolved once from the study and the plan."""

    cfg: StudyConfig
    storage: str
    seed: int
    n_trials: int
    timeout: float | None
    train_src: list[str]
    val_src: list[str]
    latency_table: LatencyTable | None = None  # prices latencies, when the study uses them
    scorer: dict | None = None  # a supernet-scored study's evaluator: its file and its bytes' digest
    evaluator: dict | None = None  # what scores the designs, as the study records it (with a supernet's audit)
    supernet: SuperNet | None = dataclasses.field(default=None, repr=False, compare=False)  # the weights ``scorer`` digests

    def protocol(self, device_type: str) -> Protocol:
        """The protocol this run trains with on a device of ``device_type``, seeded with the run's seed."""
        return dataclasses.replace(self.cfg.protocol_for(device_type), seed=self.seed)

    def key(self, protocol: Protocol) -> str:
        return protocol_key(protocol, self.train_src, self.val_src, self.cfg.space.scale, self.cfg.fidelity,
                            self.int8, {"evaluator": self.scorer} if self.scorer else None)

    @property
    def int8(self) -> Int8Settings | None:
        """The study's int8 settings where its objectives need them, else None."""
        return self.cfg.int8 if self.cfg.needs_int8 else None


@dataclass(frozen=True)
class JobStart:
    """A run about to train: its settings, protocol description, device, the COMPLETE trials the
    study held before it and the baselines it enqueued now."""

    settings: JobSettings
    protocol_desc: str
    device: str
    complete: int
    baselines: list[str]


def _tell(hook: Callable | None, *args) -> None:
    """Call ``hook`` where someone listens."""
    if hook is not None:
        hook(*args)


def _for_worker(hook: Callable | None, worker: int) -> Callable | None:
    """``hook`` with its first argument, the worker, given (None stays None: nothing listens)."""
    return None if hook is None else functools.partial(hook, worker)


def job_settings(config: StudyConfig | str | Path, storage: str | None = None, plan: JobPlan = JobPlan(),
                 on_calibrate: Callable[[list, Path], None] | None = None) -> JobSettings:
    """The run's settings: the study (a :class:`StudyConfig`, a built-in name or a TOML path), its
    latency table where it prices latencies (measured first where this machine's lacks parts:
    ``on_calibrate``), checked to fit the budget; the plan's seed, trial count and timeout, else
    the study's; the storage (None: ``$SLWSR_STORAGE``, else the study's)."""
    cfg = config if isinstance(config, StudyConfig) else StudyConfig.load(config)
    table = None
    if cfg.needs_latency:
        from ..search.latency import study_table

        table = study_table(cfg, on_calibrate)
    cfg.check_space_fits(table)
    seed = cfg.seed if plan.seed is None else plan.seed
    if seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {seed}")
    n_trials = cfg.n_trials if plan.n_trials is None else plan.n_trials
    if n_trials < 1:
        raise ValueError(f"--n-trials: expected an integer >= 1, got {n_trials}")
    if plan.threads is not None and plan.threads < 1:
        raise ValueError(f"--threads: expected an integer >= 1, got {plan.threads}")
    timeout = cfg.timeout if plan.timeout is None else plan.timeout
    cfg = with_supernet(cfg, plan.supernet) if plan.supernet else cfg
    return JobSettings(cfg, resolve_storage(storage, cfg), seed, n_trials, timeout,
                       list(plan.train_dirs or cfg.train), list(plan.val_dirs or cfg.val), table, *supernet_scorer(cfg))


def _check_protocol(study: optuna.Study, st: JobSettings, protocol: Protocol, key: str, record: bool) -> str:
    """The run's protocol description; refuses a study run with another protocol or data."""
    desc = protocol_desc(protocol, st.train_src, st.val_src, st.cfg.fidelity, st.int8)
    if st.scorer:  # the protocol above trains nothing then: say what scored the designs
        desc = f"scored with the inherited weights of supernet {st.scorer['file']} ({st.scorer['steps']} steps, " \
               f"weights {st.scorer['sha256']}); val {' + '.join(st.val_src)}"
    claim_protocol(study, st.storage, key, desc, screening_record(protocol, st.cfg.fidelity),
                   [" + ".join(st.train_src), " + ".join(st.val_src)], record)
    if record:  # every run: a supernet's audit recorded since the last run is named from now on
        StudyRecord(evaluator=st.evaluator, ranked_by=evaluator_sentence(st.evaluator)).write(study)
    return desc


def _work(st: JobSettings, study: optuna.Study, data: TrainData, dev, protocol: Protocol, key: str, plan: JobPlan,
          hooks: JobHooks, worker: int = 0, n_existing: int = 0) -> int:
    """Run trials in this process until the study is done; 0, or 130 after a Ctrl-C. ``worker``
    (0 for a run without workers) and ``n_existing`` (trials in the study before this run) seed
    the sampler."""
    with StopRequest(on_request=hooks.on_stop_requested if worker == 0 else None) as stop:
        study.sampler = make_sampler(st.cfg, sampler_seed(st.seed, worker, n_existing))
        speedups = Speedups(threads=plan.threads)
        configure_device(dev, speedups)  # process-wide switches, once, before any training
        runner = Runner(st.cfg, data, protocol, str(dev), key, speedups, progress=plan.progress and worker == 0,
                        on_trial=_for_worker(hooks.on_trial, worker), should_stop=lambda: stop.requested,
                        rung_store=RungStore(rung_dir(st.storage, st.cfg.name)), latency_table=st.latency_table,
                        evaluator=InheritedWeights(st.supernet, data.val, str(dev)) if st.supernet else None)
        try:
            run_study(study, runner, st.n_trials, st.timeout, on_wait=_for_worker(hooks.on_wait, worker),
                      on_lost=_for_worker(hooks.on_lost, worker))
        except KeyboardInterrupt:
            _tell(hooks.on_interrupted, worker, requeue_interrupted(study, runner))
            return 130
    return 0


def run_worker(config: StudyConfig | str | Path, storage: str | None, plan: JobPlan, worker: int,
               hooks: JobHooks = JobHooks()) -> int:
    """Worker ``worker`` (1-based) of a run :func:`run_job` started with workers, which created the
    study (the trials it held before: :data:`TRIALS_BEFORE_ENV`): run trials until the study is
    done, without progress bars; 0, or 130 after a Ctrl-C (SIGINT, which the run forwards)."""
    st = job_settings(config, storage, plan, hooks.on_calibrate)
    dev = resolve_device(plan.device)
    protocol = st.protocol(dev.type)
    data = load_data(st.train_src, st.val_src, st.cfg.space.scale, protocol.lr_patch)
    study = open_study(st.cfg, st.storage, st.seed)
    key = st.key(protocol)
    _check_protocol(study, st, protocol, key, record=False)
    n_existing = int(os.environ.get(TRIALS_BEFORE_ENV, "0"))
    return _work(st, study, data, dev, protocol, key, plan, hooks, worker=worker, n_existing=n_existing)


def _spawn(st: JobSettings, workers: list[WorkerPlan], n_existing: int, hooks: JobHooks) -> tuple[list[int], bool]:
    """Start the workers (``python -m slwsr_search.run --worker K``) and wait for them;
    ``(exit codes, interrupted)``."""
    args = ["--study", st.cfg.path, "--n-trials", str(st.n_trials), "--seed", str(st.seed), "--no-report"]
    args += ["--timeout", repr(st.timeout)] if st.timeout is not None else []
    args += [a for d in st.train_src for a in ("--train-dir", d)] + [a for d in st.val_src for a in ("--val-dir", d)]
    args += ["--supernet", st.cfg.evaluator.supernet] if st.scorer and st.cfg.evaluator.supernet else []
    # the storage URL travels in the environment, never on a command line (passwords)
    env = {STORAGE_ENV: st.storage, TRIALS_BEFORE_ENV: str(n_existing)}
    return spawn_workers(WORKER_MODULE, args, workers, env, on_start=hooks.on_worker,
                         on_interrupt=hooks.on_stopping_workers)


def _trainings(study: optuna.Study, since: float) -> int:
    """Trainings finished since ``since`` (a wall time): not priced-only, deduplicated or surplus trials."""
    return sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
               if t.datetime_complete is not None and t.datetime_complete.timestamp() >= since
               and TrialRecord.of(t).trained)


def _measure_front(study: optuna.Study, cfg: StudyConfig, table: LatencyTable, hooks: JobHooks) -> None:
    """Measure the time per image of the Pareto points not measured yet, beside their prediction,
    when the table is this machine's; under another machine's (a phone's) table, say why not."""
    from ..machine import cpu_model
    from ..model.spec import ArchSpec
    from ..reporting.compute import one_per_design, pareto_front, trials_frame
    from ..search.latency import host_identity, made_here, measure_front

    if not made_here(table):
        # This machine's time is no check of a phone's prediction, and beside it would read as one.
        here = host_identity(table)
        _tell(hooks.on_front_skipped, table, here.describe() if here else cpu_model())
        return
    front = pareto_front(trials_frame(study), list(cfg.objectives))
    front = front[one_per_design(front)]  # a design proposed again is timed once
    measure_front(study, {int(r["number"]): ArchSpec.from_json(r["spec"]) for _, r in front.iterrows()}, table,
                  on_start=None if hooks.on_front_measuring is None else lambda n: hooks.on_front_measuring(n, table))


def _check_data(st: JobSettings, protocol: Protocol, plan: JobPlan) -> TrainData | None:
    """Read every data folder before anything is recorded, so a typo in a folder leaves no study
    behind: a run without workers loads the data here (it trains with it); with workers they load
    it themselves, so only the folders are checked."""
    if plan.workers == 1:
        return load_data(st.train_src, st.val_src, st.cfg.space.scale, protocol.lr_patch, progress=plan.progress)
    for src in (*st.train_src, *st.val_src):
        if src not in BUILTIN:
            discover(src, st.cfg.space.scale)
    return None


def _prepare(st: JobSettings, protocol: Protocol, key: str) -> tuple[optuna.Study, int, str, list[str]]:
    """Create or open the study, check or record its protocol and enqueue its baselines, holding
    the storage's setup lock, so two runs started at once on a new SQLite file take turns instead
    of racing to create its tables; ``(study, trials before this run, protocol description,
    baselines enqueued now)``. The latency table it prices with is recorded in the study."""
    with setup_lock(st.cfg, st.storage):
        study = open_study(st.cfg, st.storage, st.seed)
        n_existing = len(study.get_trials(deepcopy=False))
        desc = _check_protocol(study, st, protocol, key, record=True)
        added = enqueue_baselines(study, st.cfg, st.latency_table)
    if st.latency_table is not None:
        from ..search.latency import table_record

        StudyRecord(latency=table_record(st.latency_table)).write(study)
    return study, n_existing, desc, added


def _finish(st: JobSettings, study: optuna.Study, plan: JobPlan, hooks: JobHooks, result: JobResult) -> JobResult:
    """After the trials (not after a Ctrl-C): the measured front (latency studies) and the report."""
    _tell(hooks.on_ran, result)
    report_dir = Path(plan.report_dir) if plan.report_dir else default_report_dir(st.cfg.name)
    if st.latency_table is not None:
        _measure_front(study, st.cfg, st.latency_table, hooks)
    result = dataclasses.replace(result, report=study_report(st.cfg, study, report_dir))  # read once
    _tell(hooks.on_report, result)
    if not plan.write_report:
        return result
    return dataclasses.replace(result, report_dir=write_report(result.report, report_dir))


def run_job(config: StudyConfig | str | Path, storage: str | None = None, plan: JobPlan = JobPlan(),
            hooks: JobHooks = JobHooks()) -> JobResult:
    """Run the study ``config`` (a :class:`StudyConfig`, a built-in name or a TOML path) in
    ``storage`` (None: ``$SLWSR_STORAGE``, else the study's) until it holds its ``n_trials``
    COMPLETE trials (or the timeout passes, or a Ctrl-C stops it), as ``plan`` says; resumes a
    study begun earlier. Nothing is recorded before the data and the study's protocol are checked
    (``ValueError`` names what is at fault). Workers run as ``python -m`` children, so a
    ``config`` made in memory reaches them only through its file, ``config.path``."""
    st = job_settings(config, storage, plan, hooks.on_calibrate)
    workers = local_plan(plan.workers, plan.device, plan.threads)
    dev = resolve_device(workers[0][1] if plan.workers > 1 else plan.device)
    protocol = st.protocol(dev.type)
    key = st.key(protocol)
    data = _check_data(st, protocol, plan)  # before anything is recorded
    study, n_existing, desc, added = _prepare(st, protocol, key)
    _tell(hooks.on_start, JobStart(st, desc, str(dev), count_states(study).get("COMPLETE", 0), added))
    t0, wall0 = time.monotonic(), time.time()
    if plan.workers == 1:
        code, failed = _work(st, study, data, dev, protocol, key, plan, hooks, n_existing=n_existing), []
    else:
        codes, interrupted = _spawn(st, workers, n_existing, hooks)
        code, failed = 130 if interrupted else 0, failed_workers(codes)
    elapsed = time.monotonic() - t0
    result = JobResult(130 if code == 130 else 1 if failed else 0, count_states(study), st.n_trials, plan.workers,
                       elapsed, _trainings(study, wall0), tuple(failed), evaluator=st.cfg.evaluator.kind)
    return result if code == 130 else _finish(st, study, plan, hooks, result)
