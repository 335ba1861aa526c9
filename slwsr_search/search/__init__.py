"""The search: studies and search spaces as TOML (:mod:`.study`, :mod:`.space`, :mod:`.resources`),
the objective table and the trial record (:mod:`.objectives`, :mod:`.record`), Optuna storage
(:mod:`.storage`), the trial loop shared by workers (:mod:`.runner`), worker processes
(:mod:`.workers`), and reports: computed (:mod:`.report`), then drawn (:mod:`.render`).
Imports :mod:`slwsr_search.training`, :mod:`slwsr_search.sr` and :mod:`slwsr_search.model`."""
