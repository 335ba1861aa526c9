"""The network: the spec as data (:mod:`.spec`), its modules (:mod:`.blocks`, :mod:`.network`),
its exact cost (:mod:`.cost`), the paper's designs and figures (:mod:`.presets`, :mod:`.published`)
and checkpoints (:mod:`.checkpoint`). The bottom layer: imports nothing else of the package."""
