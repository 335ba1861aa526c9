"""``python -m slwsr_search.train``: the ``train`` command (:mod:`slwsr_search.cli.train`), as ``slwsr train``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("train"))
