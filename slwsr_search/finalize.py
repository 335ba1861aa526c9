"""``python -m slwsr_search.finalize``: the ``finalize`` command (:mod:`slwsr_search.cli.finalize`), as ``slwsr finalize``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("finalize"))
