"""Jobs: what a command runs, as one library call each, with no parsing and no printing; progress
goes to callbacks. A study run end to end (:mod:`.study`: :func:`~.study.run_job`, and the body of
one of its workers), a study's report (:mod:`.report`, no torch: ``slwsr report`` loads none) and
the int8 and fp16 graphs of trained networks (:mod:`.quantize`). The layer above every library
layer it draws on (search, audit, reporting and those below) and below the benchmarks and the
commands; a job is an entry point, so it may set the process-wide switches
(:func:`~slwsr_search.training.device.configure_device`)."""
