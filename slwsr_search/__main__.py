"""``python -m slwsr_search COMMAND``: the same as the ``slwsr`` console script."""

import sys

from slwsr_search.cli import main

sys.exit(main())
