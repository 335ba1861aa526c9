"""Where the built-in studies and search spaces are read, and where a run writes its output.

The TOML files live at the repository's top level (``studies/``, ``search_spaces/``), where users
read and copy them; the wheel carries them as the packages ``slwsr_search.studies`` and
``slwsr_search.search_spaces`` (``pyproject.toml`` maps the folders there), so a non-editable
install finds them too. Output never goes into the package: databases and reports go under the
current working directory (``./studies/<name>.db``, ``./reports/<name>/``) unless the user says
where.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: The two kinds of built-in TOML file: the folder (and package) name, and how errors name one.
STUDIES, SPACES = "studies", "search_spaces"
_KIND_NAMES = {STUDIES: "study", SPACES: "search space"}


def builtin_folder(kind: str) -> Path:
    """The folder holding the built-in TOML files of ``kind`` (:data:`STUDIES` or :data:`SPACES`):
    the installed package's copy, else the source checkout's top-level folder."""
    if kind not in _KIND_NAMES:
        raise ValueError(f"kind: expected {STUDIES!r} or {SPACES!r}, got {kind!r}")
    spec = importlib.util.find_spec(f"slwsr_search.{kind}")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location).is_dir():
            return Path(location)
    return Path(__file__).resolve().parents[2] / kind  # a checkout run without installing


def builtin_names(kind: str) -> list[str]:
    """The names of the built-in TOML files of ``kind``, sorted."""
    return sorted(p.stem for p in builtin_folder(kind).glob("*.toml"))


def find_toml(name_or_path: str | Path, kind: str, relative_to: Path | None = None) -> Path:
    """A built-in file by name (``budget150k``), or a path when it ends in ``.toml``; a relative
    path is taken from ``relative_to`` when given (a study's folder, for its search space) and
    from the current folder otherwise. An unknown name raises ``ValueError`` listing the known ones."""
    p = Path(name_or_path)
    if p.suffix == ".toml":
        return p if p.is_absolute() or relative_to is None else relative_to / p
    what = _KIND_NAMES.get(kind, kind)
    found = builtin_folder(kind) / f"{name_or_path}.toml"
    if not found.is_file():
        known = ", ".join(builtin_names(kind)) or "none"
        raise ValueError(f"{what}: unknown {what} {str(name_or_path)!r}; known: {known}")
    return found


def default_storage(study_name: str) -> str:
    """A study's default storage: ``sqlite:///studies/<name>.db``, relative to the current folder."""
    return f"sqlite:///{STUDIES}/{study_name}.db"


def default_report_dir(study_name: str) -> Path:
    """A study's default report folder: ``reports/<name>``, relative to the current folder."""
    return Path("reports") / study_name


def default_audit_file(report_dir: Path) -> Path:
    """Where ``slwsr fidelity`` writes a study's audit for its report: ``<report dir>/fidelity/fidelity.json``."""
    return Path(report_dir) / "fidelity" / "fidelity.json"


def shipped_audit_file(study_path: str | Path) -> Path:
    """The audit this project measured for a study, shipped beside its TOML: ``<study>.fidelity.json``."""
    p = Path(study_path)
    return p.with_name(f"{p.stem}.fidelity.json")


def study_audit_files(report_dir: Path, study_path: str | Path) -> list[Path]:
    """Where a study's report looks for its fidelity audit, in order: the user's own (written by
    ``slwsr fidelity`` into the report folder), then the one shipped with the study."""
    return [default_audit_file(report_dir), shipped_audit_file(study_path)]
