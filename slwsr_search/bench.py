"""``python -m slwsr_search.bench``: the ``bench`` command (:mod:`slwsr_search.cli.bench`), as ``slwsr bench``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("bench"))
