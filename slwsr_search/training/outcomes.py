"""How a training can end (:attr:`~.loop.TrainResult.status`), as plain strings that readers of
records (reports, audits) import without torch: trained to the last step, stopped by a
non-finite loss, out of device memory, or asked to stop (``should_stop``)."""

OK, NONFINITE, OOM, INTERRUPTED = "ok", "nonfinite", "oom", "interrupted"
OUTCOMES: tuple[str, ...] = (OK, NONFINITE, OOM, INTERRUPTED)
