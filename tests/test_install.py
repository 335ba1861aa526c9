"""A normal (non-editable) install, as from a wheel: the built-in studies travel inside it, and a
run writes only under the folder it is started in."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _sh(*cmd, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{cmd}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def _see_these_packages(py: Path) -> None:
    """Let the venv of ``py`` import the packages of the interpreter running the tests, after its
    own: a ``.pth`` file naming this interpreter's site-packages folders. (``venv
    --system-site-packages`` would give it the *base* interpreter's packages instead, which in a
    virtual environment are not where torch and the rest were installed.) Lines of a ``.pth`` file
    are only added to ``sys.path``; the ``.pth`` files in those folders are not run, so this
    checkout's editable install stays invisible and the wheel is what gets imported."""
    here = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    theirs = _sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    Path(theirs, "outer-site-packages.pth").write_text("\n".join(sorted(here)) + "\n")


@pytest.mark.slow
def test_wheel_install_runs_the_smoke_study_from_any_folder(tmp_path):
    # Build from a copy of what the wheel needs, so nothing is written into the checkout.
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.db", "*.db-*")
    shutil.copytree(ROOT / "slwsr_search", src / "slwsr_search", ignore=ignore)
    for folder in ("studies", "search_spaces"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    _sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", src)
    wheel = next((tmp_path / "dist").glob("slwsr_search-*.whl"))

    # A fresh environment that sees the dependencies already installed here, but not this checkout.
    venv = tmp_path / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", venv)
    py = venv / "bin" / "python"
    _see_these_packages(py)
    _sh(py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel)
    where = _sh(py, "-c", "import slwsr_search, pathlib; print(pathlib.Path(slwsr_search.__file__).parent)",
                cwd=tmp_path).stdout.strip()
    installed = Path(where)
    assert installed.is_relative_to(venv), f"imported {installed}, not the installed wheel"
    # ... and its dependencies are the ones this interpreter runs with (in a venv too), not the base Python's
    import torch

    theirs = _sh(py, "-c", "import torch; print(torch.__file__)", cwd=tmp_path).stdout.strip()
    assert theirs == torch.__file__, f"the fresh environment imports {theirs}, this interpreter {torch.__file__}"
    assert {"budget150k.toml", "smoke.toml"} <= {p.name for p in (installed / "studies").glob("*.toml")}
    before = _files(installed)

    for label, cmd in (("python -m", [py, "-m", "slwsr_search.run"]), ("console script", [venv / "bin" / "slwsr", "run"])):
        work = tmp_path / f"work-{label.replace(' ', '-')}"
        work.mkdir()
        p = _sh(*cmd, "--study", "smoke", "--device", "cpu", "--quiet", cwd=work)
        assert "study holds 8 COMPLETE" in p.stdout, label
        assert "reports/smoke/index.html" in p.stdout, label
        written = _files(work)
        assert "studies/smoke.db" in written and "reports/smoke/index.html" in written, (label, written)
        assert all(w.startswith(("studies/smoke.db", "reports/smoke/")) for w in written), (label, written)
    assert _files(installed) == before  # nothing written into site-packages
