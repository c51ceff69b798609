"""`planblanc backup`: write, check or drill an encrypted archive of the platform.

    planblanc backup FILE                  one archive (database snapshot, uploads, secret key)
    planblanc backup --to-dir DIR --keep N a timestamped archive in DIR, keeping the N newest
                                           (for cron or a systemd timer; DIR may be a USB disk)
    planblanc backup --verify FILE         check an archive without restoring it
    planblanc backup --drill FILE [--drill-database-url URL]
                                           restore it elsewhere, check it, record the drill
    planblanc backup --new-key FILE        make an age key file (keep it off this machine)

The archive is locked with --key-file FILE (an age identity) or a passphrase read from
--passphrase-file FILE or PLANBLANC_BACKUP_PASSPHRASE (never from the command line).
See planblanc.core.backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandError

from planblanc.core import backup


class Command(BaseCommand):
    help = "Write, verify or drill an encrypted backup archive."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("archive", nargs="?", help="archive to write")
        parser.add_argument("--to-dir", help="write a timestamped archive into this directory")
        parser.add_argument("--keep", type=int, default=None, help="with --to-dir: archives to keep")
        parser.add_argument("--verify", metavar="FILE", help="check this archive without restoring it")
        parser.add_argument("--drill", metavar="FILE", help="restore this archive elsewhere and check it")
        parser.add_argument("--drill-database-url", help="an empty scratch PostgreSQL database for --drill")
        parser.add_argument("--passphrase-file")
        parser.add_argument("--key-file")
        parser.add_argument("--new-key", metavar="FILE", help="write a new age key file and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc

    def _handle(self, options: dict[str, Any]) -> None:
        if options["new_key"]:
            recipient = backup.key_generate(Path(options["new_key"]))
            self.stdout.write(f"Key written to {options['new_key']} (public: {recipient}).")
            return
        secret = backup.secret_from(passphrase_file=options["passphrase_file"], key_file=options["key_file"])
        if options["verify"]:
            manifest = backup.backup_verify(archive=Path(options["verify"]), secret=secret)
            rows = sum(manifest["tables"].values())
            self.stdout.write(
                f"OK {options['verify']}: {manifest['engine']} snapshot of {manifest['created_at']}, "
                f"{len(manifest['tables'])} tables, {rows} rows, {len(manifest['files'])} files checked."
            )
            return
        if options["drill"]:
            record = backup.restore_drill(
                archive=Path(options["drill"]), secret=secret, database_url=options["drill_database_url"]
            )
            self.stdout.write(record.detail)
            if not record.ok:
                raise CommandError("Restore drill FAILED.")
            self.stdout.write("Restore drill OK.")
            return
        directory = options["to_dir"] or getattr(settings, "BACKUP_DIR", "")
        if options["archive"]:
            archive = Path(options["archive"])
        elif directory:
            archive = Path(directory) / backup.archive_name()
        else:
            raise CommandError("Give the archive to write, or --to-dir DIR.")
        record = backup.backup_write(archive=archive, secret=secret)
        self.stdout.write(
            f"Backup written: {record.archive} ({record.size_bytes} bytes, {sum(record.tables.values())} rows)."
        )
        keep = options["keep"] if options["keep"] is not None else getattr(settings, "BACKUP_KEEP", 0)
        if directory and not options["archive"] and keep:
            for path in backup.backups_prune(directory=Path(directory), keep=keep):
                self.stdout.write(f"Removed old archive {path}.")
