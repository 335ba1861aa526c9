"""``python -m slwsr_search.upscale``: the ``upscale`` command (:mod:`slwsr_search.cli.upscale`), as ``slwsr upscale``."""

if __name__ == "__main__":
    import sys

    from slwsr_search.cli import entry

    sys.exit(entry("upscale"))
