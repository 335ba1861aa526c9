"""Training: protocols as data (:mod:`.protocol`), devices and process-wide speed settings
(:mod:`.device`), and one deterministic training of one spec (:mod:`.loop`). Imports
:mod:`slwsr_search.model` and :mod:`slwsr_search.sr`."""
