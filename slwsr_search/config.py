"""Reading the project's TOML files (search spaces, studies) with errors that name file and key."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: The repository's top level: ``search_spaces/`` and ``studies/`` live there.
ROOT = Path(__file__).resolve().parent.parent


def known_names(folder: Path) -> list[str]:
    """Names of the TOML files in ``folder`` (without ``.toml``), sorted."""
    return sorted(q.stem for q in folder.glob("*.toml"))


def find_toml(name_or_path: str | Path, folder: Path, kind: str) -> Path:
    """``<folder>/<name>.toml`` for a name, or the path itself when it ends in ``.toml``; an unknown
    name raises ``ValueError`` listing the known ones (``kind``: 'study', 'search space')."""
    p = Path(name_or_path)
    if p.suffix == ".toml":
        return p
    p = folder / f"{name_or_path}.toml"
    if not p.is_file():
        known = ", ".join(known_names(folder)) or "none"
        raise ValueError(f"{kind}: unknown {kind} {str(name_or_path)!r}; known: {known}")
    return p


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error raises ``ValueError`` with file (and line)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"{p}: file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{p}: malformed TOML: {e}") from None
    except OSError as e:
        raise ValueError(f"{p}: cannot read ({e})") from None


def check_keys(table: Any, where: str, required: Iterable[str] = (), optional: Iterable[str] = ()) -> dict[str, Any]:
    """Raise ``ValueError`` for an unknown or a missing key of ``table`` (a TOML table at ``where``)."""
    if not isinstance(table, dict):
        raise ValueError(f"{where}: expected a table, got {table!r}")
    required, optional = list(required), list(optional)
    allowed = set(required) | set(optional)
    for key in table:
        if key not in allowed:
            raise ValueError(f"{where}: unknown key {key!r}; expected {', '.join(sorted(allowed))}")
    for key in required:
        if key not in table:
            raise ValueError(f"{where}: missing key {key!r}")
    return table


def list_of(value: Any, kind: type | tuple[type, ...], where: str, non_empty: bool = True) -> list:
    """``value`` as a list whose items are all ``kind``; ``ValueError`` names ``where`` otherwise."""
    if not isinstance(value, list) or (non_empty and not value):
        raise ValueError(f"{where}: expected a{' non-empty' if non_empty else ''} list, got {value!r}")
    for item in value:
        if isinstance(item, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise ValueError(f"{where}: unexpected value {item!r}")
        if not isinstance(item, kind):
            raise ValueError(f"{where}: unexpected value {item!r}")
    return value
