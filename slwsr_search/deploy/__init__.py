"""Deployment: what leaves the search as a shipped model, and how fast it runs. Model bundles
(:mod:`.bundle`: safetensors + spec), ONNX export (:mod:`.onnx_export`), the torch and onnxruntime
runners behind one 0..1 signature (:mod:`.runners`), the release bundle and its model card
(:mod:`.release`), the LiteRT and Core ML files and the gate over a release (:mod:`.release_files`,
:mod:`.parity`), building a whole release in one call (:mod:`.release_job`), time per image measured on a runtime (:mod:`.latency`) and the measuring of a
latency table's parts (:mod:`.calibrate`). The table itself and the prediction from it stay beside
the cost model (:mod:`slwsr_search.model.latency_table`, no torch). Imports
:mod:`slwsr_search.training`, :mod:`slwsr_search.sr` and :mod:`slwsr_search.model`."""
