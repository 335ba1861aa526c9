"""``python -m slwsr_search.arch``: the ``arch`` command (:mod:`slwsr_search.cli.arch`), as ``slwsr arch``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("arch"))
