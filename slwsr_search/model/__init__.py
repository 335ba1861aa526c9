"""The network: the spec as data (:mod:`.spec`), its modules (:mod:`.blocks`, :mod:`.network`),
its exact cost (:mod:`.cost`), the paper's designs and figures (:mod:`.presets`, :mod:`.published`)
and the latency table with the prediction from it (:mod:`.latency_table`, no torch). The bottom
layer: imports nothing of the package but :mod:`slwsr_search.config` and :mod:`slwsr_search.machine`."""
