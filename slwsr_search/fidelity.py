"""``python -m slwsr_search.fidelity``: the ``fidelity`` command (:mod:`slwsr_search.cli.fidelity`), as ``slwsr fidelity``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("fidelity"))
