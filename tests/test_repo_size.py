"""A lean repository: no file over 1 MB is tracked, or about to be (untracked and not ignored),
outside :data:`ALLOWED`. Every clone pays for every file that was ever committed, so the results
keep their rows (CSV, JSON, JSONL, Markdown, small logs, scripts) and leave out what regenerates:
training states, study databases, chart pages that embed plotly.js (``.gitignore`` keeps them out;
``docs/results/restore-dropped.sh`` brings back the ones dropped, from git history). Skipped
outside a git checkout (an installed wheel, an unpacked source archive)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The largest file, in bytes, the repository takes without a reason.
LIMIT = 1_000_000
#: Files over :data:`LIMIT` the repository keeps on purpose, each with its reason
#: (``"path/from/the/root": "why it must be in every clone"``). Empty: none is needed.
ALLOWED: dict[str, str] = {}

GIT = shutil.which("git")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GIT, "-C", str(root), *args], capture_output=True, text=True, timeout=60)


def checkout_root(root: Path) -> str | None:
    """Why ``root`` is not the top of a git checkout this test can read, or None when it is."""
    if GIT is None:
        return "git is not installed"
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return f"not a git checkout: {root} ({top.stderr.strip().splitlines()[-1] if top.stderr.strip() else 'git failed'})"
    if Path(top.stdout.strip()).resolve() != root.resolve():
        return f"{root} is inside another git checkout ({top.stdout.strip()}), not the top of its own"
    return None


def committable(root: Path) -> list[str]:
    """The files a commit would hold: tracked (and still present) plus untracked, not ignored."""
    out = []
    for args in (("ls-files", "-z"), ("ls-files", "-z", "--others", "--exclude-standard")):
        listed = _git(root, *args)
        assert listed.returncode == 0, listed.stderr
        out += [p for p in listed.stdout.split("\0") if p]
    return sorted(set(out))


def oversized(root: Path, limit: int = LIMIT, allowed: dict[str, str] | None = None) -> dict[str, int]:
    """path -> bytes of every committable regular file over ``limit`` not in ``allowed``."""
    allowed = ALLOWED if allowed is None else allowed
    found = {}
    for rel in committable(root):
        path = root / rel
        if path.is_symlink() or not path.is_file():  # a tracked file deleted here, a link, a submodule
            continue
        size = path.stat().st_size
        if size > limit and rel not in allowed:
            found[rel] = size
    return found


def test_no_file_over_1_mb_outside_the_allow_list():
    reason = checkout_root(ROOT)
    if reason:
        pytest.skip(reason)
    big = oversized(ROOT)
    assert not big, (f"files over {LIMIT:,} bytes: leave them out (.gitignore; a results page says how to "
                     "regenerate or restore them) or add each to ALLOWED in tests/test_repo_size.py with its "
                     "reason:\n" + "\n".join(f"  {p}  {s:,} bytes" for p, s in sorted(big.items())))


def test_the_allow_list_gives_reasons_and_names_files_still_large():
    assert all(isinstance(why, str) and why.strip() for why in ALLOWED.values()), "every ALLOWED entry needs a reason"
    reason = checkout_root(ROOT)
    if reason:
        pytest.skip(reason)
    files = set(committable(ROOT))
    stale = [p for p in ALLOWED if p not in files or (ROOT / p).stat().st_size <= LIMIT]
    assert not stale, f"ALLOWED entries no longer needed (gone, or not over {LIMIT:,} bytes): {stale}"


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_the_check_on_a_small_repository(tmp_path):
    assert checkout_root(tmp_path) is not None  # not a checkout yet (tmp_path lies outside any)
    assert _git(tmp_path, "init", "-q").returncode == 0
    assert checkout_root(tmp_path) is None
    (tmp_path / ".gitignore").write_text("*.pt\n")
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    (tmp_path / "state.pt").write_bytes(b"\0" * 2_000)       # ignored: never committed
    (tmp_path / "tracked.bin").write_bytes(b"\0" * 3_000)
    (tmp_path / "loose.html").write_bytes(b"\0" * 4_000)     # untracked, not ignored: the next `git add -A`
    assert _git(tmp_path, "add", "rows.csv", "tracked.bin", ".gitignore").returncode == 0
    assert oversized(tmp_path, limit=1_000, allowed={}) == {"loose.html": 4_000, "tracked.bin": 3_000}
    assert oversized(tmp_path, limit=1_000, allowed={"tracked.bin": "a reason"}) == {"loose.html": 4_000}
    (tmp_path / "tracked.bin").unlink()                       # deleted here: leaves with the next commit
    (tmp_path / "loose.html").unlink()
    assert oversized(tmp_path, limit=1_000, allowed={}) == {}
