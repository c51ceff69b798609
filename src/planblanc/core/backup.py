"""Backups and restore drills (what the CaRE programme asks of hospitals, practised by
the platform that helps them).

An archive is one file, an uncompressed tar of two members:
- `payload.tar.gz.age`: the payload, encrypted with age (the `pyrage` binding of the
  Rust age library: X25519 + ChaCha20-Poly1305, streamed, authenticated) to one
  recipient;
- `identity.age`: with a passphrase, the matching age identity, itself encrypted with
  the passphrase (age's scrypt recipient). With a key file (an age identity,
  `planblanc backup --new-key FILE`), this member is absent: the key file decrypts.

The payload holds `manifest.json` (format, engine, time, row counts of every table in
the snapshot, SHA-256 of every other member), the database snapshot, the uploads
(`media/`) and the secret key (`secret_key`: signed links and two-factor secrets
depend on it).

The snapshot is consistent while the platform runs: on SQLite, the online backup API
copies the database page by page under its own read transaction; on PostgreSQL, a
REPEATABLE READ transaction exports its snapshot, `pg_dump --snapshot` dumps exactly
that, and the row counts are taken in the same snapshot. Uploads are copied after the
snapshot: a file uploaded meanwhile may come along without its row, never a row
without its file (files are written before their row and never rewritten).

A restore drill restores an archive elsewhere (a temporary data directory, or a
scratch PostgreSQL database), compares the row counts with the manifest, runs
`logbook verify --all` there, and records the result in the live platform."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from planblanc.core.models import BackupKind, BackupRecord

FORMAT = "planblanc-backup/1"
PAYLOAD = "payload.tar.gz.age"
IDENTITY = "identity.age"


class BackupError(Exception):
    """The archive cannot be written, read, trusted or restored; the message says why."""


@dataclass(frozen=True)
class Secret:
    """What unlocks an archive: a passphrase, or an age identity in a key file."""

    passphrase: str | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if bool(self.passphrase) == bool(self.key_file):
            raise BackupError("Give either a passphrase or a key file.")


def secret_from(*, passphrase_file: str | None, key_file: str | None) -> Secret:
    """From the command's options, else PLANBLANC_BACKUP_KEY_FILE,
    PLANBLANC_BACKUP_PASSPHRASE_FILE or PLANBLANC_BACKUP_PASSPHRASE. Never from the
    command line itself (it would show in the process list)."""
    key_file = key_file or settings.BACKUP_KEY_FILE or None
    passphrase_file = passphrase_file or settings.BACKUP_PASSPHRASE_FILE or None
    if key_file:
        return Secret(key_file=Path(key_file))
    if passphrase_file:
        passphrase = Path(passphrase_file).read_text().strip()
    else:
        passphrase = settings.BACKUP_PASSPHRASE or ""
    if len(passphrase) < 12:
        raise BackupError("The backup passphrase must have at least 12 characters.")
    return Secret(passphrase=passphrase)


def key_generate(path: Path) -> str:
    """Write a new age identity to `path` (mode 600); returns its public recipient."""
    # pyrage is loaded only when a backup is made or read.
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"# planblanc backup key, public: {identity.to_public()}\n{identity}\n")
    return str(identity.to_public())


def _identity_from_key_file(path: Path) -> Any:
    # pyrage is loaded only when a backup is made or read.
    import pyrage

    for line in path.read_text().splitlines():
        if line.startswith("AGE-SECRET-KEY-"):
            return pyrage.x25519.Identity.from_str(line.strip())
    raise BackupError(f"{path}: no age identity (AGE-SECRET-KEY-…) in this file.")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Snapshot -----------------------------------------------------------------------------------


def _is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def _sqlite_counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        names = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )]
        return {name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}  # noqa: S608
    finally:
        db.close()


def _pg_env() -> dict[str, str]:
    db = connections["default"].settings_dict
    env = {**os.environ, "PGDATABASE": str(db["NAME"])}
    for key, variable in (("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"), ("HOST", "PGHOST"), ("PORT", "PGPORT")):
        if db.get(key):
            env[variable] = str(db[key])
    return env


def _program(name: str) -> str:
    """PostgreSQL's client programs, of the server's major version or newer."""
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client).")
    return found


def _snapshot_database(directory: Path) -> tuple[str, dict[str, int]]:
    """The database as one consistent snapshot in `directory`; its member name and the
    row count of every table in that snapshot."""
    if _is_sqlite():
        target = directory / "database.sqlite3"
        source = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=30)
        copy = sqlite3.connect(target)
        try:
            # Pages in steps, so that writers are not held up for the whole copy.
            source.backup(copy, pages=1024)
        finally:
            copy.close()
            source.close()
        return target.name, _sqlite_counts(target)
    target = directory / "database.pgdump"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        dumped = subprocess.run(  # noqa: S603 - fixed program, our own arguments
            [_program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
             f"--file={target}"],
            env=_pg_env(), capture_output=True, text=True, check=False,
        )
        if dumped.returncode != 0:
            raise BackupError(f"pg_dump failed: {dumped.stderr.strip()[-2000:]}")
        counts = {}
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 - names from the catalogue
            counts[table] = cursor.fetchone()[0]
    return target.name, counts


# Writing ------------------------------------------------------------------------------------


def _encrypt(payload: Path, archive: Path, secret: Secret) -> None:
    # pyrage is loaded only when a backup is made or read.
    import pyrage

    with tempfile.TemporaryDirectory(dir=archive.parent) as scratch:
        encrypted = Path(scratch) / PAYLOAD
        members = [encrypted]
        if secret.key_file is not None:
            recipient = _identity_from_key_file(secret.key_file).to_public()
        else:
            identity = pyrage.x25519.Identity.generate()
            recipient = identity.to_public()
            wrapped = Path(scratch) / IDENTITY
            wrapped.write_bytes(pyrage.passphrase.encrypt(str(identity).encode(), secret.passphrase))
            members.append(wrapped)
        pyrage.encrypt_file(str(payload), str(encrypted), [recipient])
        partial = archive.with_name(f".{archive.name}.partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            for member in members:
                tar.add(member, arcname=member.name)
        os.chmod(partial, 0o600)
        partial.replace(archive)


def backup_write(*, archive: Path, secret: Secret) -> BackupRecord:
    """Write one encrypted archive of the running platform to `archive`."""
    started = timezone.now()
    archive = archive.resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="planblanc-backup-") as work:
        root = Path(work) / "payload"
        root.mkdir()
        database, counts = _snapshot_database(root)
        media = Path(settings.MEDIA_ROOT)
        if media.is_dir():
            shutil.copytree(media, root / "media", symlinks=False)
        (root / "secret_key").write_text(settings.SECRET_KEY)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT, "created_at": started.isoformat(), "engine": connection.vendor,
            "database": database, "tables": counts,
            "files": {str(p.relative_to(root)): _sha256(p) for p in files},
        }
        (root / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        payload = Path(work) / "payload.tar.gz"
        with tarfile.open(payload, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as tar:
            tar.add(root / "manifest.json", arcname="manifest.json")
            for path in files:
                tar.add(path, arcname=str(path.relative_to(root)))
        _encrypt(payload, archive, secret)
    return BackupRecord.objects.create(
        kind=BackupKind.BACKUP, ok=True, archive=str(archive), size_bytes=archive.stat().st_size,
        started_at=started, finished_at=timezone.now(), tables=counts,
    )


def backups_prune(*, directory: Path, keep: int) -> list[Path]:
    """Keep the `keep` newest archives written by `backup --to-dir`; returns the removed."""
    archives = sorted(directory.glob("planblanc-*.pbbackup"), key=lambda p: p.name, reverse=True)
    removed = archives[max(keep, 1):]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def archive_name(now: datetime.datetime | None = None) -> str:
    now = now or timezone.now()
    return f"planblanc-{now:%Y%m%d-%H%M%S}.pbbackup"


# Reading ------------------------------------------------------------------------------------


@contextmanager
def _opened(archive: Path, secret: Secret) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The payload decrypted and unpacked in a temporary directory, with its manifest,
    after checking every member against the manifest."""
    # pyrage is loaded only when a backup is made or read.
    import pyrage

    with tempfile.TemporaryDirectory(prefix="planblanc-restore-") as work:
        scratch = Path(work)
        try:
            with tarfile.open(archive, "r:") as tar:
                names = set(tar.getnames())
                if PAYLOAD not in names:
                    raise BackupError(f"{archive}: not a Plan Blanc backup archive.")
                tar.extractall(scratch / "outer", members=[m for m in tar.getmembers() if m.name in (PAYLOAD, IDENTITY)],
                               filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{archive}: unreadable archive ({exc}).") from exc
        wrapped = scratch / "outer" / IDENTITY
        try:
            if secret.key_file is not None:
                identity = _identity_from_key_file(secret.key_file)
            elif wrapped.exists():
                identity = pyrage.x25519.Identity.from_str(
                    pyrage.passphrase.decrypt(wrapped.read_bytes(), secret.passphrase).decode()
                )
            else:
                raise BackupError("This archive was made with a key file: give --key-file.")
            payload = scratch / "payload.tar.gz"
            pyrage.decrypt_file(str(scratch / "outer" / PAYLOAD), str(payload), [identity])
        except pyrage.DecryptError as exc:
            raise BackupError("Wrong passphrase or key, or the archive was altered: it cannot be decrypted.") from exc
        root = scratch / "payload"
        try:
            with tarfile.open(payload, "r:gz") as tar:
                tar.extractall(root, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"The decrypted payload is unreadable ({exc}).") from exc
        try:
            manifest = json.loads((root / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise BackupError("The archive has no readable manifest.") from exc
        if manifest.get("format") != FORMAT:
            raise BackupError(f"Unknown archive format {manifest.get('format')!r}.")
        found = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
        if found != set(manifest["files"]):
            raise BackupError("The archive's files differ from its manifest.")
        for name, digest in manifest["files"].items():
            if _sha256(root / name) != digest:
                raise BackupError(f"{name}: its checksum differs from the manifest.")
        yield root, manifest


def backup_verify(*, archive: Path, secret: Secret) -> dict[str, Any]:
    """Check an archive without restoring it: it decrypts, every member matches the
    manifest, and the database snapshot reads back with the counts of the manifest
    (SQLite) or as a valid dump (PostgreSQL). Returns the manifest."""
    with _opened(archive, secret) as (root, manifest):
        database = root / manifest["database"]
        if manifest["engine"] == "sqlite":
            db = sqlite3.connect(database)
            try:
                integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                db.close()
            if integrity != "ok":
                raise BackupError(f"The database snapshot is damaged: {integrity}")
            if _sqlite_counts(database) != manifest["tables"]:
                raise BackupError("The database snapshot's row counts differ from the manifest.")
        else:
            listed = subprocess.run(  # noqa: S603
                [_program("pg_restore"), "--list", str(database)], capture_output=True, text=True, check=False
            )
            if listed.returncode != 0:
                raise BackupError(f"The database dump is unreadable: {listed.stderr.strip()[-1000:]}")
            missing = [t for t in manifest["tables"] if f"TABLE DATA public {t} " not in listed.stdout]
            if missing:
                raise BackupError(f"The dump lacks the data of {', '.join(missing[:5])}.")
        return manifest


def _database_is_empty() -> bool:
    with connection.cursor() as cursor:
        return not connection.introspection.table_names(cursor)


def backup_restore(*, archive: Path, secret: Secret) -> dict[str, Any]:
    """Read an archive into this process's data directory and database, both empty.
    Returns the manifest; raises BackupError when the target is not empty, the archive
    does not decrypt or check, or the restored counts differ."""
    media = Path(settings.MEDIA_ROOT)
    if media.is_dir() and any(media.iterdir()):
        raise BackupError(f"{media} is not empty: restore into an empty data directory.")
    with _opened(archive, secret) as (root, manifest):
        engine = manifest["engine"]
        if engine != connection.vendor:
            raise BackupError(f"This archive holds a {engine} database; this platform runs on {connection.vendor}.")
        if engine == "sqlite":
            target = Path(settings.DATABASES["default"]["NAME"])
            connection.close()
            if target.exists() and _sqlite_counts(target):
                raise BackupError(f"{target} already holds data: restore into an empty data directory.")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(root / manifest["database"], target)
        else:
            if not _database_is_empty():
                raise BackupError("The database already has tables: restore into an empty database.")
            connection.close()
            restored = subprocess.run(  # noqa: S603
                [_program("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                 f"--dbname={_pg_env()['PGDATABASE']}", str(root / manifest["database"])],
                env=_pg_env(), capture_output=True, text=True, check=False,
            )
            if restored.returncode != 0:
                raise BackupError(f"pg_restore failed: {restored.stderr.strip()[-2000:]}")
        if (root / "media").is_dir():
            shutil.copytree(root / "media", media, dirs_exist_ok=True)
        key_file = Path(settings.DATA_DIR) / "secret_key"
        key_file.write_text((root / "secret_key").read_text())
        os.chmod(key_file, 0o600)
    counts = restored_counts()
    if counts != manifest["tables"]:
        differ = sorted(t for t in set(counts) | set(manifest["tables"]) if counts.get(t) != manifest["tables"].get(t))
        raise BackupError(f"Row counts differ after restoring: {', '.join(differ[:10])}.")
    return manifest


def restored_counts() -> dict[str, int]:
    if _is_sqlite():
        connection.close()
        return _sqlite_counts(Path(settings.DATABASES["default"]["NAME"]))
    with connection.cursor() as cursor:
        counts = {}
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608
            counts[table] = cursor.fetchone()[0]
        return counts


# Drills -------------------------------------------------------------------------------------


def restore_drill(*, archive: Path, secret: Secret, database_url: str | None = None) -> BackupRecord:
    """Restore `archive` into a temporary data directory (and `database_url`, an empty
    scratch PostgreSQL database, for a PostgreSQL archive), check it there (row counts,
    `logbook verify --all`), and record the outcome here. Never touches this platform's
    own data."""
    started = timezone.now()
    detail: list[str] = []
    ok = False
    with tempfile.TemporaryDirectory(prefix="planblanc-drill-") as data_dir:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env.update({"PLANBLANC_DATA_DIR": data_dir, "PLANBLANC_SECRET_KEY": ""})
        if database_url:
            env["DATABASE_URL"] = database_url
        if secret.key_file is not None:
            env["PLANBLANC_BACKUP_KEY_FILE"] = str(secret.key_file)
        else:
            env["PLANBLANC_BACKUP_PASSPHRASE"] = secret.passphrase or ""
        for step in (["restore", str(archive)], ["logbook_verify", "--all"]):
            done = subprocess.run(  # noqa: S603 - this very program
                [sys.executable, "-m", "planblanc", *step], env=env, capture_output=True, text=True, check=False,
                timeout=3600,
            )
            detail.append(f"$ planblanc {' '.join(step[:1])}\n{(done.stdout + done.stderr).strip()[-3000:]}")
            if done.returncode != 0:
                break
        else:
            ok = True
    return BackupRecord.objects.create(
        kind=BackupKind.RESTORE_DRILL, ok=ok, archive=str(archive),
        size_bytes=archive.stat().st_size if archive.exists() else 0, started_at=started,
        finished_at=timezone.now(), detail="\n".join(detail)[-10000:],
    )


@dataclass(frozen=True)
class BackupStatus:
    last_backup: BackupRecord | None
    last_drill: BackupRecord | None


def backup_status() -> BackupStatus:
    """The last backup written and the last successful restore drill."""
    ok = BackupRecord.objects.filter(ok=True)
    return BackupStatus(
        last_backup=ok.filter(kind=BackupKind.BACKUP).first(),
        last_drill=ok.filter(kind=BackupKind.RESTORE_DRILL).first(),
    )
