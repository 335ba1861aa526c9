"""Reading TOML files and checking plain-data tables, with errors that name the file and the key;
writing a file so that a crash never leaves half of it.

Shared by every layer (protocols, search spaces, studies, bundles); imports nothing of the package."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


#: How to install the ``[litert]`` extra (LiteRT's converter, quantizer and interpreter), said by
#: every refusal that needs it.
LITERT_INSTALL = "pip install torch==2.13.0 -e '.[litert]' (docs/deployment.md#litert-tensorflow-lite)"


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


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer and not a boolean (TOML's and JSON's ``true`` is no number,
    though Python's ``bool`` is an ``int``): the one type check of integer settings."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is an integer or a float and not a boolean: the one type check of numeric settings."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def utc_now() -> str:
    """Now in UTC, ISO 8601 to the second (logs, checkpoints, tables)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_atomic(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Run ``write(tmp)`` on a new temporary file beside ``path`` (same folder, so the rename stays
    on one file system), then rename it over ``path``: readers see the old file or the whole new
    one, never a part. The file gets the umask's usual mode, not the temporary file's owner-only
    0600. On an error the temporary file is removed and ``path`` left as it was."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
