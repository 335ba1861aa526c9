"""Worker processes on one machine: which device and threads each gets, starting them, and stopping
them cleanly on Ctrl-C or SIGTERM. The workers share the study through its storage (Optuna's own
mechanism); nothing here schedules trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Callable, Sequence

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
