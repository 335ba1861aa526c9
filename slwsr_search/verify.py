"""``python -m slwsr_search.verify``: the ``verify`` command (:mod:`slwsr_search.cli.verify`), as ``slwsr verify``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("verify"))
