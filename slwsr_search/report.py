"""``python -m slwsr_search.report``: the ``report`` command (:mod:`slwsr_search.cli.report`), as ``slwsr report``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("report"))
