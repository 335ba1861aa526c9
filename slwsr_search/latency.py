"""``python -m slwsr_search.latency``: the ``latency`` command (:mod:`slwsr_search.cli.latency`), as ``slwsr latency``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("latency"))
