"""The `planblanc` command: Django's management commands plus a few short names.

    planblanc demo      migrate, load the demo region, serve web + worker (one process group)
    planblanc serve     production web server (gunicorn)
    planblanc worker    background worker (any number may run)
    planblanc check     is everything working (database, migrations, worker round-trip)
    planblanc logbook verify [ID…|--all]
                        check a crisis logbook's hash chain (same as logbook_verify)
"""

from __future__ import annotations

import os
import sys

ALIASES = {"check": "platform_check"}
# Two-word commands: `planblanc logbook verify` → `logbook_verify`.
SUBCOMMANDS = {("logbook", "verify"): "logbook_verify"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    args = list(sys.argv if argv is None else argv)
    args[0] = "planblanc"
    if len(args) > 2 and (args[1], args[2]) in SUBCOMMANDS:
        args[1:3] = [SUBCOMMANDS[(args[1], args[2])]]
    elif len(args) > 1 and args[1] in ALIASES:
        args[1] = ALIASES[args[1]]
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
