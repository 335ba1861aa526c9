"""Redraw a latency validation's chart (``slwsr bench latency --validate N --out PATH`` writes
PATH.csv, PATH.json and PATH.html) from its committed CSV and JSON, measuring nothing: the same
points, the same title, plotly.js embedded. The HTML pages (about 5 MB each, nearly all plotly.js)
are not kept in the repository; this rebuilds one. Not part of the package; from the repository
root:

    python docs/results/latency-validation-chart.py docs/results/2026-11-29-latency-validation-xeon [OUT.html]

OUT defaults to PATH.html (ignored by git under docs/results/)."""

import json
import sys
from pathlib import Path

import pandas as pd

from slwsr_search.benchmarks.latency import Row, scatter_html
from slwsr_search.model.latency_table import MachineIdentity

path = sys.argv[1].removesuffix(".csv").removesuffix(".json")
out = Path(sys.argv[2] if len(sys.argv) > 2 else path + ".html")
fields = list(Row.__dataclass_fields__)
rows = [Row(**{k: r[k] for k in fields}) for r in pd.read_csv(path + ".csv").to_dict("records")]
identity = MachineIdentity(**json.loads(Path(path + ".json").read_text())["identity"])
out.write_text(scatter_html(rows, f"Latency predicted from the table against measured: {len(rows)} specs, "
                                  f"{identity.describe()}"))
print(f"wrote {out}")
