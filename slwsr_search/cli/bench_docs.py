"""``slwsr bench docs``: the docs' figures checked against their source files
(:mod:`..benchmarks.doc_figures`), printed per file, with every wrong figure and, on request,
every unsourced one."""

from __future__ import annotations

from pathlib import Path

from ..benchmarks.doc_figures import DERIVED, SHOWN, UNSOURCED, WRONG, doc_paths, sweep


def add_docs_benchmark(sub) -> None:
    """The ``docs`` subcommand of ``slwsr bench``."""
    d = sub.add_parser("docs", help="every figure in the README and docs checked against the source file its "
                                    "paragraph links, the rest listed (exit 1 on a figure its source does not show)")
    d.add_argument("--root", default=".", metavar="DIR", help="the repository's root (default: the current folder)")
    d.add_argument("--doc", action="append", metavar="FILE", help="only these Markdown files (default: all swept)")
    d.add_argument("--list", choices=(UNSOURCED, DERIVED, SHOWN), action="append",
                   help="also list each figure with this outcome (repeatable)")


def bench_docs(args) -> int:
    """``slwsr bench docs``."""
    root = Path(args.root)
    if not (root / "docs").is_dir():
        print(f"{root}: no docs/ folder here; run from the repository's root or give --root")
        return 2
    docs = [Path(d) if Path(d).is_absolute() else root / d for d in args.doc] if args.doc else doc_paths(root)
    result = sweep(root, docs)
    counts = result.per_doc()
    print(f"{'doc':<62} {'checked':>7} {'wrong':>5} {'derived':>7} {'no source':>9}")
    for doc, c in counts.items():
        print(f"{doc:<62} {c[SHOWN] + c[WRONG]:>7} {c[WRONG]:>5} {c[DERIVED]:>7} {c[UNSOURCED]:>9}")
    total = {k: sum(c[k] for c in counts.values()) for k in (SHOWN, WRONG, DERIVED, UNSOURCED)}
    print(f"{'all ' + str(len(counts)) + ' files with figures':<62} {total[SHOWN] + total[WRONG]:>7} {total[WRONG]:>5} "
          f"{total[DERIVED]:>7} {total[UNSOURCED]:>9}")
    for outcome in [WRONG] + (args.list or []):
        figures = result.of(outcome)
        if figures:
            print(f"\n{outcome} ({len(figures)}):")
        for f in figures:
            where = f" (sources: {', '.join(f.sources)})" if f.sources and outcome != SHOWN else ""
            print(f"  {f.doc}:{f.line}  {f.text}{where}")
    print("\nchecked: tied to a source file its block links and shown there; wrong: tied but not shown; "
          "derived: computed from the sources (marked <!-- derived: ... -->); no source: linked to none "
          "(or marked <!-- unsourced: ... -->)")
    return 1 if total[WRONG] else 0
