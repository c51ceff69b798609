"""`planblanc restore FILE`: read a backup archive into an empty data directory
(PLANBLANC_DATA_DIR) and, with DATABASE_URL, an empty PostgreSQL database. Checks the
archive first and the row counts of every table after. See planblanc.core.backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import BaseCommand, CommandError

from planblanc.core import backup


class Command(BaseCommand):
    help = "Restore an encrypted backup archive into an empty data directory or database."
    # Nothing may open the database before it is in place.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("archive")
        parser.add_argument("--passphrase-file")
        parser.add_argument("--key-file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            secret = backup.secret_from(passphrase_file=options["passphrase_file"], key_file=options["key_file"])
            manifest = backup.backup_restore(archive=Path(options["archive"]), secret=secret)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored the {manifest['engine']} snapshot of {manifest['created_at']}: "
            f"{len(manifest['tables'])} tables, {sum(manifest['tables'].values())} rows, counts checked."
        )
