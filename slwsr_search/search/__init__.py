"""The search: studies and search spaces as TOML (:mod:`.study`, :mod:`.space`, :mod:`.resources`),
the objective table and the trial record (:mod:`.objectives`, :mod:`.record`), Optuna storage
(:mod:`.storage`), the trial loop shared by workers (:mod:`.runner`), one design up the rungs
(:mod:`.rungs`, :mod:`.promotion`), dominance (:mod:`.pareto`), worker processes (:mod:`.workers`)
and the latency table a study prices with (:mod:`.latency`). Reports are a layer of their own
(:mod:`slwsr_search.reporting`), and so is the fidelity audit (:mod:`slwsr_search.audit`).
Imports :mod:`slwsr_search.deploy` and the layers below it."""
