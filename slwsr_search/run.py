"""``python -m slwsr_search.run``: the ``run`` command (:mod:`slwsr_search.cli.run`), as ``slwsr run``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("run"))
