"""``python -m slwsr_search.quantize``: the ``quantize`` command (:mod:`slwsr_search.cli.quantize`), as ``slwsr quantize``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("quantize"))
