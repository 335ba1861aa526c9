"""The docs' figures against their source files: every figure in the README and the docs (a number
with a decimal point or thousands separators: 28.398, 143,731, 0.57, 18.8%, 1.2e-6; a duration
such as 9 min 35 s), checked against the data files its block links, or listed as having none.

The rule is read from the Markdown itself, with no map of claims. A figure is tied to the sources
its block links, a block being a paragraph, a list item or a table row (a row also takes the links
and marks of the paragraph or list item just above its table: its caption). A source is a relative
link to a data file under ``docs/results/`` (:data:`DATA_SUFFIXES`), or to a results page there
(not the index, ``README.md``), which stands for the data files that page links. A tied figure
passes when a number in one of its sources reads as it: rounded to the figure's decimals,
thousands separators and sign aside, a percentage also as a fraction (18.8% as 0.188), G
Multi-Adds also in units, minutes also in seconds, a duration as its seconds (to 1 s) or as
written. A figure computed from its sources rather than shown in them (a ratio, a difference) is
listed in an HTML comment of its block, ``<!-- derived: 1.50 1.59 (ratios) -->``, and counted
apart. Figures in blocks that link no source are unsourced, and so are those a block that links
one lists as recorded nowhere else: ``<!-- unsourced: 4 min 12 s -->``.

Not figures: fenced and inline code (arch strings, commands), link targets, HTML comments, version
numbers and identifiers after a package's name (``torch 2.13.0``, ``Python 3.10``, ``arXiv
1909.10774``), a machine's load average, settings (a count of steps or trials: ``5,000 steps``,
``step 2,750``; a percentile: ``percentile 99.999``, ``the 99.999th percentile``), and a parameter
budget (``under 150,000 parameters``, ``150,000-parameter budget``).

Library code: it returns data; ``slwsr bench docs`` prints it."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

#: The Markdown the sweep reads, relative to the repository root.
DOC_GLOBS = ("README.md", "docs/*.md", "docs/results/*.md")
#: Where sources live, and what a source is.
RESULTS = "docs/results"
DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".log", ".txt")
#: A figure's outcomes.
SHOWN, WRONG, DERIVED, UNSOURCED = "shown", "wrong", "derived", "unsourced"

_FENCE = re.compile(r"^\s*(```|~~~)")
_FENCED = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.S | re.M)
_TABLE = re.compile(r"^\s*\|")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")
_HEADING = re.compile(r"^#{1,6}\s")
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE = re.compile(r"(`+)(.+?)\1")
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)
_MARK = re.compile(r"^\s*(derived|unsourced)\b:?(.*)$", re.S | re.I)
_URL = re.compile(r"\]\([^)]*\)|<?https?://\S+")
_NUMBER = (r"\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # thousands-separated: 143,731; 1,079.5
           r"|\d+\.\d+(?:e[-+]?\d+)?")      # a decimal point: 0.57, 1.2e-6
_DURATION = r"\d+ min \d+ s"
#: A figure not part of a longer token (a version 2.13.0, a word, a path, a date).
_FIGURE = re.compile(rf"(?<![\w.,/])(?P<num>{_DURATION}|{_NUMBER})(?P<pct>%?)(?![\w.]*\.\d)(?!\d|,\d)")
#: Units a source may hold in another scale: G (Multi-Adds, 10^9), min (minutes, as seconds).
_UNITS = {"G": 1e9, "min": 60.0}
_UNIT_AFTER = re.compile(r" ?(G|min)\b")
_VERSION_BEFORE = re.compile(
    r"(?:\b(?:torch|python|optuna|numpy|onnx|onnxruntime|protobuf|tensorflow|litert-torch|ai-edge-litert|"
    r"ai-edge-quantizer|onnx2tf|coremltools|pandas|pillow|sqlalchemy|scikit-image|fvcore|plotly|version|driver|"
    r"ios|macos|cuda|arxiv|v)|[<>=~]=?)\s*$", re.I)
#: The machine's load average beside a measurement: the conditions, stated on the page itself.
_LOAD_BEFORE = re.compile(r"\bload(?: averages?)?:?\s(?:(?!\. |: ).){0,140}$", re.I)
#: A count of training steps or trials names a horizon or a study's length (a setting).
_SETTING_AFTER = re.compile(r"(?:th)?(?:\s+(?:and|or|to)\s+\d[\d,.]*(?:th)?)?[\s-]*(?:steps?|trials?|percentiles?)\b",
                            re.I)
_SETTING_BEFORE = re.compile(r"(?:\bsteps?|\bpercentiles?)\s+(?:\d[\d,.]*\s+(?:of|to|and)\s+)?$", re.I)
#: A parameter budget (a study's setting), not a design's count.
_BUDGET_BEFORE = re.compile(r"\b(?:under|at most|within|below|budget\w*(?:'s)?|limit)\s+(?:\S+\s+)?$", re.I)
_BUDGET_AFTER = re.compile(r"[\s-]*param(?:eter)?s?\b([\s-]*budget)?", re.I)
#: Numbers in a source file: plain (CSV fields, JSON values) and, outside CSV, thousands-separated.
_SOURCE_PLAIN = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SOURCE_GROUPED = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?:\.\d+)?")
#: A duration as ``time`` prints it (3m56.785s), read as seconds.
_SOURCE_TIME = re.compile(r"\b(\d+)m(\d+(?:\.\d+)?)s\b")


@dataclass(frozen=True)
class Block:
    """A paragraph, list item, heading or table row: its first line (1-based), its text, its
    links, and the figures its HTML comments list as derived from its sources or as unsourced."""

    line: int
    text: str
    links: tuple[str, ...]
    table: bool = False
    derived: tuple[str, ...] = ()
    unsourced: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figure:
    """One figure as written in a doc, where, its sources and its outcome (:data:`SHOWN`,
    :data:`WRONG`, :data:`DERIVED` or :data:`UNSOURCED`)."""

    doc: str
    line: int
    text: str
    sources: tuple[str, ...]
    outcome: str


@dataclass
class Sweep:
    """Every figure found, in document order."""

    figures: list[Figure] = field(default_factory=list)

    def of(self, outcome: str) -> list[Figure]:
        return [f for f in self.figures if f.outcome == outcome]

    @property
    def checked(self) -> list[Figure]:
        """The figures tied to a source and checked against it (shown or wrong)."""
        return [f for f in self.figures if f.outcome in (SHOWN, WRONG)]

    def per_doc(self) -> dict[str, dict[str, int]]:
        """doc -> {outcome: count}, every doc with a figure listed, every outcome counted."""
        out: dict[str, dict[str, int]] = {}
        for f in self.figures:
            out.setdefault(f.doc, dict.fromkeys((SHOWN, WRONG, DERIVED, UNSOURCED), 0))[f.outcome] += 1
        return out


def blocks(markdown: str) -> list[Block]:
    """The blocks of a Markdown text, fenced code left out; each table row carries the links and
    marks of its caption (the text block just above the table) after its own."""
    out: list[Block] = []
    lines: list[str] = []
    start = 0
    tables: list[tuple[int, int]] = []  # [first, end) of each table's rows in ``out``

    def flush():
        nonlocal lines
        if lines:
            out.append(_block(start, " ".join(s.strip() for s in lines)))
        lines = []

    fenced = None
    for i, line in enumerate(markdown.splitlines(), 1):
        fence = _FENCE.match(line)
        if fenced is not None:
            fenced = None if fence and fence.group(1) == fenced else fenced
            continue
        if fence:
            flush()
            fenced = fence.group(1)
            continue
        if _TABLE.match(line):
            flush()
            if not tables or tables[-1][1] != len(out):
                tables.append((len(out), len(out)))
            out.append(_block(i, line.strip(), table=True))
            tables[-1] = (tables[-1][0], len(out))
            continue
        if not line.strip() or _HEADING.match(line):
            flush()
            if line.strip():
                out.append(_block(i, line.strip()))
            continue
        if _ITEM.match(line) or not lines:
            flush()
            start = i
        lines.append(line)
    flush()
    for first, end in tables:
        above = out[first - 1] if first and not out[first - 1].table else None
        if above is None or _HEADING.match(above.text):
            continue
        for k in range(first, end):
            b = out[k]
            out[k] = Block(b.line, b.text, tuple(dict.fromkeys(b.links + above.links)), True,
                           b.derived + above.derived, b.unsourced + above.unsourced)
    return out


def _block(line: int, text: str, table: bool = False) -> Block:
    marked: dict[str, list[str]] = {"derived": [], "unsourced": []}
    for m in _COMMENT.finditer(text):
        mark = _MARK.match(m.group(1))
        if mark:
            marked[mark.group(1).lower()] += figures_in(mark.group(2))
    links = tuple(dict.fromkeys(m.group(1).split("#", 1)[0] for m in _LINK.finditer(_COMMENT.sub("", text))))
    return Block(line, text, links, table, tuple(marked["derived"]), tuple(marked["unsourced"]))


def figures_in(text: str) -> list[str]:
    """The figures written in one block's text, as written (a percent sign kept), in order."""
    text = _COMMENT.sub(" ", text)
    text = _CODE.sub(" ", text)
    text = _URL.sub("]", text)
    found = []
    for m in _FIGURE.finditer(text):
        before = text[max(0, m.start() - 160):m.start()]
        if _VERSION_BEFORE.search(before[-25:]) or _LOAD_BEFORE.search(before):
            continue
        if _SETTING_AFTER.match(text, m.end()) or _SETTING_BEFORE.search(before[-30:]):
            continue
        budget = _BUDGET_AFTER.match(text, m.end())
        if budget and (budget.group(1) or _BUDGET_BEFORE.search(before[-30:])):
            continue
        unit = _UNIT_AFTER.match(text, m.end())
        found.append(m.group("num") + m.group("pct") + (" " + unit.group(1) if unit and not m.group("pct") else ""))
    return found


def source_numbers(path: Path) -> tuple[list[float], str]:
    """Every number in a data file, sorted, signs dropped (a figure's sign is not checked), and
    the file's text (where a duration may be written as such)."""
    text = path.read_text(errors="replace")
    values = {float(m.group()) for m in _SOURCE_PLAIN.finditer(text)}
    if path.suffix != ".csv":
        values |= {float(m.group().replace(",", "")) for m in _SOURCE_GROUPED.finditer(text)}
    values |= {60 * int(m.group(1)) + float(m.group(2)) for m in _SOURCE_TIME.finditer(text)}
    return sorted(values), text


def shows(figure: str, numbers: list[float], text: str = "") -> bool:
    """Whether a source (its sorted numbers, its text) holds a number that reads as ``figure``
    (as :func:`figures_in` gives it): rounded to its decimals; a percentage also as a fraction; a
    figure in G or min also in units or seconds; a duration as its seconds (to 1 s) or as written."""
    if figure.endswith(" s") and " min " in figure:
        minutes, seconds = figure[:-2].split(" min ")
        return figure in text or _near(numbers, 60 * int(minutes) + int(seconds), 1.0)
    figure, _, unit = figure.lstrip("+-\u2212").partition(" ")
    body = figure.rstrip("%").replace(",", "").lower()
    mantissa, _, exponent = body.partition("e")
    decimals = len(mantissa.partition(".")[2])
    half = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
    value = float(body)
    if _near(numbers, value, half) or (unit and _near(numbers, value * _UNITS[unit], half * _UNITS[unit])):
        return True
    return figure.endswith("%") and _near(numbers, value / 100, half / 100)


def _near(numbers: list[float], value: float, half: float) -> bool:
    slack = half * 1e-9 + 1e-12
    i = bisect.bisect_left(numbers, value - half - slack)
    return i < len(numbers) and numbers[i] <= value + half + slack


class _Sources:
    """The source files a block's links name (a results page standing for the data files it
    links), and each file's numbers, read once."""

    def __init__(self, root: Path):
        self.root = root
        self.results = (root / RESULTS).resolve()
        self._numbers: dict[Path, tuple[list[float], str]] = {}
        self._pages: dict[Path, tuple[Path, ...]] = {}

    def of(self, doc: Path, links: tuple[str, ...]) -> tuple[Path, ...]:
        out: list[Path] = []
        for link in links:
            target = self._resolve(doc, link)
            if target is None:
                continue
            if target.suffix in DATA_SUFFIXES:
                out.append(target)
            elif target.suffix == ".md" and target != doc and target.name != "README.md":
                out.extend(self._data_of_page(target))
        return tuple(dict.fromkeys(out))

    def _resolve(self, doc: Path, link: str) -> Path | None:
        if not link or ":" in link or link.startswith("/"):
            return None
        target = (doc.parent / link).resolve()
        return target if target.is_relative_to(self.results) and target.is_file() else None

    def _data_of_page(self, page: Path) -> tuple[Path, ...]:
        if page not in self._pages:
            links = _block(0, _FENCED.sub("", page.read_text())).links
            data = (self._resolve(page, link) for link in links)
            self._pages[page] = tuple(dict.fromkeys(p for p in data if p is not None and p.suffix in DATA_SUFFIXES))
        return self._pages[page]

    def numbers(self, path: Path) -> tuple[list[float], str]:
        if path not in self._numbers:
            self._numbers[path] = source_numbers(path)
        return self._numbers[path]


def doc_paths(root: Path) -> list[Path]:
    """The Markdown files swept (:data:`DOC_GLOBS`), in a stable order."""
    return list(dict.fromkeys(p for pattern in DOC_GLOBS for p in sorted(Path(root).glob(pattern))))


def check_doc(doc: Path, root: Path, sources: _Sources | None = None) -> list[Figure]:
    """Every figure of one Markdown file with its outcome."""
    root, doc = Path(root).resolve(), Path(doc).resolve()
    sources = sources or _Sources(root)
    name = doc.relative_to(root).as_posix()
    out = []
    for b in blocks(doc.read_text()):
        files = sources.of(doc, b.links)
        rel = tuple(p.relative_to(root).as_posix() for p in files)
        for text in figures_in(b.text):
            if not files or text in b.unsourced:
                outcome = UNSOURCED
            elif any(shows(text, *sources.numbers(p)) for p in files):
                outcome = SHOWN
            else:
                outcome = DERIVED if text in b.derived else WRONG
            out.append(Figure(name, b.line, text, rel, outcome))
    return out


def sweep(root: Path | str = ".", docs: list[Path] | None = None) -> Sweep:
    """The sweep over the repository at ``root`` (every doc of :func:`doc_paths`, or ``docs``)."""
    root = Path(root).resolve()
    sources = _Sources(root)
    result = Sweep()
    for doc in docs if docs is not None else doc_paths(root):
        result.figures.extend(check_doc(doc, root, sources))
    return result
