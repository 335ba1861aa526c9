"""``python -m slwsr_search.supernet``: the ``supernet`` command (:mod:`slwsr_search.cli.supernet`), as ``slwsr supernet``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("supernet"))
