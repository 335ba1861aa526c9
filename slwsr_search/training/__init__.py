"""Training: protocols as data (:mod:`.protocol`), devices and process-wide speed settings
(:mod:`.device`), one deterministic training of one spec (:mod:`.loop`), its state as one
resumable file (:mod:`.state`; weights alone: :mod:`.checkpoint`), and a long training in a
crash-safe run folder (:mod:`.finalize`). Imports :mod:`slwsr_search.model` and
:mod:`slwsr_search.sr`."""
