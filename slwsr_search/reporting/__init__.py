"""Reports: read a study's storage and an audit's ``fidelity.json``, compute what is drawn
(:mod:`.compute`: the trials frame, the Pareto front, hypervolume, the report split the way it is
drawn), then draw it (:mod:`.render`: HTML, Markdown, terminal and files; :mod:`.chart`: the
charts; :mod:`.fidelity`: the audit's outputs). Imports no torch: ``slwsr report`` reads a SQLite
file without loading the training stack (``tests/test_layers.py`` checks it)."""
