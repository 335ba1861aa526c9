"""Storage URLs as users write them: ``postgresql://`` (the form Optuna's and SQLAlchemy's docs show,
psycopg 3 under SQLAlchemy 2.1), ``postgresql+psycopg2://`` (what earlier versions documented), and a
URL whose driver is missing or unusable: one line naming what to install or write instead.

The PostgreSQL test needs the server our machines and CI run on 127.0.0.1:5432 (trust
authentication, database ``test``); it is skipped, saying so, where none answers.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import optuna
import pytest

from helpers import pg_reason, run_command
from slwsr_search.cli.report import main as report_main
from slwsr_search.cli.run import main as run_main

REPO = Path(__file__).resolve().parents[1]
PG_PASSWORD = "s3cret-Pa55"  # trust authentication ignores it: it is here to be masked
PG_PLAIN = f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:5432/test"  # SQLAlchemy 2.1: psycopg (3)
PG_PSYCOPG2 = f"postgresql+psycopg2://postgres:{PG_PASSWORD}@127.0.0.1:5432/test"


# probed through psycopg2, as tests/test_workers.py does: a missing psycopg 3 must fail the test
# below, not skip it
PG_SKIP = pg_reason(PG_PSYCOPG2)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Runs write their reports under the current folder: tmp_path, never the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")
def test_a_study_is_created_and_resumed_through_a_plain_postgresql_url(capsys, tmp_path, folders):
    name = f"u{uuid.uuid4().hex[:10]}"  # unique: the PostgreSQL database is shared
    study = tmp_path / f"{name}.toml"
    study.write_text((REPO / "studies" / "smoke.toml").read_text())
    argv = ["--study", str(study), "--storage", PG_PLAIN, "--quiet", "--device", "cpu", "--no-report", *folders]
    try:
        code, out, err = run_command(run_main, capsys, *argv, "--n-trials", "1", prog="run")
        assert code == 0, err
        assert "postgresql://postgres:***@127.0.0.1:5432/test" in out and PG_PASSWORD not in out + err
        code, out, err = run_command(run_main, capsys, *argv, "--n-trials", "2", prog="run")
        assert code == 0 and "1 of 2 complete so far" in out, err
        # the same study, read through the driver existing users' URLs name
        st = optuna.load_study(study_name=name, storage=PG_PSYCOPG2)
        assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in st.trials) == 2
    finally:
        try:
            optuna.delete_study(study_name=name, storage=PG_PSYCOPG2)
        except KeyError:
            pass


@pytest.mark.parametrize("url,missing,says", [
    ("postgresql://me:s3cret@127.0.0.1:1/none", "psycopg",
     "its database driver psycopg is not installed (import of psycopg halted; None in sys.modules): "
     "pip install 'psycopg[binary]'"),
    ("postgresql+psycopg2://me:s3cret@127.0.0.1:1/none", "psycopg2",
     "its database driver psycopg2 is not installed (import of psycopg2 halted; None in sys.modules): "
     "pip install psycopg2-binary"),
    ("mysql://me:s3cret@127.0.0.1:1/none", "MySQLdb",
     "its database driver mysqldb is not installed (import of MySQLdb halted; None in sys.modules): pip install mysqlclient"),
    ("mysql+pymysql://me:s3cret@127.0.0.1:1/none", "pymysql",
     "its database driver pymysql is not installed (import of pymysql halted; None in sys.modules): pip install PyMySQL"),
    ("postgresql+asyncpg://me:s3cret@127.0.0.1:1/none", None,
     "asyncpg is an asyncio driver, which Optuna's storage cannot use; write postgresql:// (its default driver) instead"),
    ("postgres://me:s3cret@127.0.0.1:1/none", None,
     "SQLAlchemy knows no database driver 'postgres' (PostgreSQL's is postgresql://)"),
])
@pytest.mark.parametrize("command", ["run", "report"])
def test_a_url_whose_driver_is_missing_is_one_line_naming_what_to_install(capsys, monkeypatch, tmp_path, url, missing,
                                                                          says, command):
    if missing is not None:  # as on a machine without that driver
        monkeypatch.setitem(sys.modules, missing, None)
    main = run_main if command == "run" else report_main
    code, out, err = run_command(main, capsys, "--study", "smoke", "--storage", url, prog=command)
    masked = url.replace(":s3cret@", ":***@")
    assert code == 2 and err.count("\n") == 1 and "s3cret" not in err, err
    assert f"storage {masked}: {says}" in err, err
    assert "Failed to import DB access module" not in err
    assert not (tmp_path / "studies").exists() and not (tmp_path / "reports").exists()
