"""``python -m slwsr_search.evaluate``: the ``evaluate`` command (:mod:`slwsr_search.cli.evaluate`), as ``slwsr evaluate``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("evaluate"))
