"""Backups: a populated platform backed up while a writer appends to a crisis logbook,
restored elsewhere, gives the same row count in every table as the snapshot, and its
logbook verifies. The archive is encrypted (age): a wrong passphrase cannot open it,
`backup --verify` checks it without restoring, a restore never overwrites data, and a
restore drill is recorded in the live platform.

Every step runs as its own process (`python -m planblanc …`), as an administrator
would run it. On SQLite the platform lives in a temporary PLANBLANC_DATA_DIR; on
PostgreSQL (DATABASE_URL set) in the test database, restored into a scratch database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.crisis.conftest import logbook_guards_allow_flush  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "une phrase de passe de test assez longue"


def _env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PLANBLANC_DATA_DIR": str(data_dir), "PLANBLANC_LOG_LEVEL": "WARNING",
           "PLANBLANC_BACKUP_PASSPHRASE": PASSPHRASE, **extra}
    env.pop("DATABASE_URL", None)
    env.pop("PLANBLANC_SECRET_KEY", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _run(args: list[str], env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    if ok:
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


def _sqlite_counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    counts = {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}  # noqa: S608
    db.close()
    return counts


def _backup_during_writes(env: dict[str, str], archive: Path) -> tuple[int, str]:
    """Start a writer, back up while it writes; the entries written before the backup
    began and the backup's output."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.core.backup_script", "write", "6"], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        backed = _run(["-m", "planblanc", "backup", str(archive)], env)
    finally:
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-2000:]
    written = int(out.strip())
    assert written > 0
    return written, backed.stdout


def test_it_backs_up_during_writes_and_restores_elsewhere_with_every_row_sqlite(tmp_path, migrated_sqlite):
    live, elsewhere = tmp_path / "live", tmp_path / "elsewhere"
    live.mkdir()
    elsewhere.mkdir()
    (live / "planblanc.sqlite3").write_bytes(migrated_sqlite.read_bytes())
    env = _env(live)
    _run(["-m", "tests.core.backup_script", "populate"], env)
    archive = tmp_path / "archives" / "platform.pbbackup"
    _written, output = _backup_during_writes(env, archive)
    assert "Backup written" in output
    # The archive is one encrypted file: neither the logbook's text nor SQLite's header shows.
    raw = archive.read_bytes()
    assert b"SQLite format" not in raw and b"Constat" not in raw

    snapshot = _run(["-c", (
        "import django, os, json; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'planblanc.settings'); "
        "django.setup(); from planblanc.core.models import BackupRecord; "
        "print(json.dumps(BackupRecord.objects.get(kind='backup').tables))"
    )], env).stdout
    import json

    tables = json.loads(snapshot)
    assert _sqlite_counts(live / "planblanc.sqlite3")["crisis_logbookentry"] > tables["crisis_logbookentry"] > 100

    verified = _run(["-m", "planblanc", "backup", "--verify", str(archive)], env)
    assert verified.stdout.startswith("OK ")
    restored = _run(["-m", "planblanc", "restore", str(archive)], _env(elsewhere))
    assert "counts checked" in restored.stdout
    # Every table, one by one, as in the snapshot.
    assert _sqlite_counts(elsewhere / "planblanc.sqlite3") == tables
    assert (elsewhere / "media" / "backup-test" / "note.txt").read_text() == "Pièce jointe de test\n"
    assert (elsewhere / "secret_key").read_text() == (live / "secret_key").read_text()
    checked = _run(["-m", "planblanc", "logbook", "verify", "--all"], _env(elsewhere))
    assert checked.stdout.startswith("OK   crisis")

    # A restore never writes over data.
    again = _run(["-m", "planblanc", "restore", str(archive)], _env(elsewhere), ok=False)
    assert again.returncode == 1 and "restore into an empty data directory" in again.stderr
    # The wrong passphrase opens nothing.
    wrong = _run(["-m", "planblanc", "backup", "--verify", str(archive)],
                 _env(live, PLANBLANC_BACKUP_PASSPHRASE="pas la bonne phrase de passe"), ok=False)
    assert wrong.returncode == 1 and "cannot be decrypted" in wrong.stderr
    # An altered archive is refused.
    broken = tmp_path / "broken.pbbackup"
    # One byte flipped in the middle, inside the encrypted payload (the end of the file
    # is the tar's zero padding, which carries nothing).
    middle = len(raw) // 2
    broken.write_bytes(raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1:])
    assert _run(["-m", "planblanc", "backup", "--verify", str(broken)], env, ok=False).returncode == 1

    # A drill restores elsewhere, verifies, and is recorded in the live platform.
    drill = _run(["-m", "planblanc", "backup", "--drill", str(archive)], env)
    assert "Restore drill OK." in drill.stdout
    db = sqlite3.connect(live / "planblanc.sqlite3")
    records = db.execute("SELECT kind, ok FROM core_backuprecord ORDER BY id").fetchall()
    db.close()
    assert records == [("backup", 1), ("restore_drill", 1)]


def test_it_writes_to_a_directory_and_keeps_the_newest_with_a_key_file(tmp_path, migrated_sqlite):
    live = tmp_path / "live"
    live.mkdir()
    (live / "planblanc.sqlite3").write_bytes(migrated_sqlite.read_bytes())
    key = tmp_path / "backup.key"
    env = _env(live, PLANBLANC_BACKUP_PASSPHRASE="")
    assert "public: age1" in _run(["-m", "planblanc", "backup", "--new-key", str(key)], env).stdout
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    usb = tmp_path / "usb"
    usb.mkdir()
    for name in ("planblanc-20260101-000000.pbbackup", "planblanc-20260102-000000.pbbackup"):
        (usb / name).write_bytes(b"old")
    _run(["-m", "planblanc", "backup", "--to-dir", str(usb), "--keep", "2", "--key-file", str(key)], env)
    kept = sorted(p.name for p in usb.iterdir())
    assert len(kept) == 2 and kept[0] == "planblanc-20260102-000000.pbbackup"
    newest = usb / kept[1]
    assert _run(["-m", "planblanc", "backup", "--verify", str(newest), "--key-file", str(key)], env).returncode == 0
    # Without the key it cannot be opened with a passphrase.
    refused = _run(["-m", "planblanc", "backup", "--verify", str(newest)],
                   _env(live, PLANBLANC_BACKUP_PASSPHRASE=PASSPHRASE), ok=False)
    assert "key file" in refused.stderr


def _pg_url(name: str) -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="run with DATABASE_URL=postgres://… for the PostgreSQL variant",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("logbook_guards_allow_flush")
def test_it_backs_up_during_writes_and_restores_elsewhere_with_every_row_postgresql(tmp_path):
    import psycopg

    live_url = _pg_url(connection.settings_dict["NAME"])
    scratch = f"{connection.settings_dict['NAME']}_restored"
    admin = psycopg.connect(_pg_url("postgres"), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
    admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        env = _env(tmp_path / "live", live_url)
        _run(["-m", "tests.core.backup_script", "populate"], env)
        archive = tmp_path / "platform.pbbackup"
        _backup_during_writes(env, archive)
        from planblanc.core.models import BackupRecord
        from planblanc.crisis.models import LogbookEntry

        tables = BackupRecord.objects.get(kind="backup").tables
        assert LogbookEntry.objects.count() > tables["crisis_logbookentry"] > 100
        assert _run(["-m", "planblanc", "backup", "--verify", str(archive)], env).stdout.startswith("OK ")
        elsewhere = _env(tmp_path / "elsewhere", _pg_url(scratch))
        _run(["-m", "planblanc", "restore", str(archive)], elsewhere)
        with psycopg.connect(_pg_url(scratch)) as restored:
            names = [r[0] for r in restored.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()]
            counts = {n: restored.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}  # noqa: S608
        assert counts == tables
        assert _run(["-m", "planblanc", "logbook", "verify", "--all"], elsewhere).stdout.startswith("OK   crisis")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.close()


@pytest.mark.django_db
def test_it_shows_the_last_backup_and_drill_to_national_and_establishment_administrators(client_for):
    from datetime import timedelta

    from django.utils import timezone

    from planblanc.core.models import BackupRecord

    now = timezone.now()
    BackupRecord.objects.create(kind="backup", started_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=3))
    BackupRecord.objects.create(kind="restore_drill", ok=False, started_at=now, finished_at=now)
    for persona in ("national_admin", "establishment_admin"):
        page = client_for(persona).get("/").content.decode()
        assert 'id="backup-status"' in page
        assert "3\xa0hours" in page or "3 hours" in page or "3\xa0heures" in page
        # A failed drill is not a successful one.
        assert "planblanc backup --drill" in page
    for persona in ("regional_officer", "crisis_member", "auditor"):
        assert 'id="backup-status"' not in client_for(persona).get("/").content.decode()
