"""Worker processes on one machine: which device and threads each gets (:func:`worker_plan`), which
share of a fixed job list each takes (:func:`my_share`), starting them as ``python -m`` children
and waiting for them (:func:`spawn_workers`), and stopping them cleanly on Ctrl-C or SIGTERM. The
one spawner of the package: ``slwsr run --workers`` and ``slwsr fidelity --workers`` both use it.
A study's workers share it through its storage (Optuna's own mechanism); nothing here schedules
trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")

#: ``(environment overrides, device, CPU threads or None)`` of one worker.
WorkerPlan = tuple[dict[str, str], str, "int | None"]


def worker_plan(n_workers: int, device: str, n_gpus: int, n_cores: int, threads: int | None,
                visible: str | None = None) -> list[WorkerPlan]:
    """What each of ``n_workers`` workers runs on.

    On CUDA (``auto`` with a GPU, or ``cuda``) worker k sees one GPU, the k-th visible one round
    robin, through ``CUDA_VISIBLE_DEVICES`` (``visible``: the variable's current value, whose
    entries are reused). An explicit ``cuda:i`` puts every worker on that GPU. On a CPU the
    workers split the cores (at least one thread each) unless ``threads`` is given.
    """
    if n_workers < 1:
        raise ValueError(f"--workers: expected an integer >= 1, got {n_workers}")
    on_cuda = device == "cuda" or (device == "auto" and n_gpus > 0)
    if on_cuda and n_gpus == 0:
        raise ValueError("--device cuda: no CUDA GPU is visible")
    plan: list[WorkerPlan] = []
    for k in range(n_workers):
        if on_cuda:
            ids = [x.strip() for x in visible.split(",") if x.strip()] if visible else [str(i) for i in range(n_gpus)]
            plan.append(({"CUDA_VISIBLE_DEVICES": ids[k % len(ids)]}, "cuda", threads))
        elif device.startswith("cuda:"):
            plan.append(({}, device, threads))
        else:
            plan.append(({}, "cpu", threads if threads is not None else max(1, n_cores // n_workers)))
    return plan


def local_plan(n_workers: int, device: str, threads: int | None) -> list[WorkerPlan]:
    """:func:`worker_plan` for this machine: its visible GPUs (none asked for with ``cpu``), cores
    and ``CUDA_VISIBLE_DEVICES``."""
    import torch

    n_gpus = torch.cuda.device_count() if device != "cpu" else 0
    return worker_plan(n_workers, device, n_gpus, os.cpu_count() or 1, threads, os.environ.get("CUDA_VISIBLE_DEVICES"))


def my_share(items: Sequence[T], worker: int | None, n_workers: int) -> list[T]:
    """The items worker ``worker`` (1-based; None: a run without workers, which takes all) of
    ``n_workers`` takes: every ``n_workers``-th item of the full, fixed list, so each worker's share
    is the same whatever it finds already done."""
    if worker is None:
        return list(items)
    if not 1 <= worker <= n_workers:
        raise ValueError(f"--worker: expected 1..{n_workers}, got {worker}")
    return [x for i, x in enumerate(items) if i % n_workers == worker - 1]


@dataclass(frozen=True)
class Started:
    """One started worker, for the line a command prints: its number (1-based), process id,
    device, CPU threads (None: the default) and environment overrides."""

    k: int
    pid: int
    device: str
    threads: int | None
    env: dict[str, str]


def spawn_workers(module: str, args: Sequence[str], plan: Sequence[WorkerPlan], env: dict[str, str] | None = None,
                  on_start: Callable[[Started], None] | None = None,
                  on_interrupt: Callable[[], None] | None = None) -> tuple[list[int], bool]:
    """Run one ``python -m MODULE ARGS --worker K --device D --quiet [--threads T]`` per entry of
    ``plan``, each with the plan's environment overrides and ``env`` (say, a storage URL, which
    never goes on a command line), and wait for them all; ``(exit codes, interrupted)``.
    ``on_start`` hears each worker once it runs; ``on_interrupt`` the first Ctrl-C."""
    commands, envs = [], []
    for k, (overrides, device, threads) in enumerate(plan, start=1):
        cmd = [sys.executable, "-m", module, *args, "--worker", str(k), "--device", device, "--quiet"]
        commands.append(cmd + (["--threads", str(threads)] if threads is not None else []))
        envs.append({**overrides, **(env or {})})
    procs = start_workers(commands, envs)
    for k, (p, (overrides, device, threads)) in enumerate(zip(procs, plan), start=1):
        if on_start is not None:
            on_start(Started(k, p.pid, device, threads, overrides))
    return wait_workers(procs, on_interrupt=on_interrupt)


def failed_workers(codes: Sequence[int]) -> list[str]:
    """``w2 (exit 1)`` for each worker that neither finished (0) nor was interrupted (130)."""
    return [f"w{k} (exit {c})" for k, c in enumerate(codes, start=1) if c not in (0, 130)]


class StopRequest:
    """SIGINT / SIGTERM handler of a process that runs trials, as a context manager. The first
    signal asks for a stop at the next clean point (``requested``; honoured between two training
    steps, or between trials) and calls ``on_request``; a second one raises KeyboardInterrupt at
    once. (A KeyboardInterrupt raised at an arbitrary point can land in a callback that swallows
    it, e.g. a weakref finaliser, and the worker would go on.)"""

    def __init__(self, on_request: Callable[[], None] | None = None) -> None:
        self.requested = False
        self.on_request = on_request

    def __call__(self, signum, _frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.on_request is not None:
            self.on_request()

    def __enter__(self) -> "StopRequest":
        self._previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def start_workers(commands: Sequence[list[str]], envs: Sequence[dict[str, str]]) -> list[subprocess.Popen]:
    """Start one process per command, each with the environment overrides beside it, in its own
    process group: a terminal's Ctrl-C then reaches them once, forwarded by :func:`wait_workers`."""
    # process_group needs Python 3.11; setpgrp in the child does the same on 3.10
    group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
    return [subprocess.Popen(cmd, env={**os.environ, **env}, **group) for cmd, env in zip(commands, envs)]


def wait_workers(procs: Sequence[subprocess.Popen], on_interrupt: Callable[[], None] | None = None) -> tuple[list[int], bool]:
    """Wait for every worker; ``(exit codes, interrupted)``. A Ctrl-C (or SIGTERM to this process)
    is forwarded to the workers as SIGINT: the first stops each at a clean point, a second at once.
    ``on_interrupt`` hears the first."""

    def _to_interrupt(signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _to_interrupt)
    interrupted = False
    try:
        try:
            codes = [p.wait() for p in procs]
        except KeyboardInterrupt:
            interrupted = True
            if on_interrupt is not None:
                on_interrupt()
            while True:
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGINT)
                try:
                    codes = [p.wait() for p in procs]
                    break
                except KeyboardInterrupt:
                    continue
    finally:
        signal.signal(signal.SIGTERM, previous)
    return codes, interrupted
