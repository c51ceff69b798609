"""`planblanc referentials_load [paths…]`: load referential files (ours or CISO Assistant's).

Without paths, loads the bundled files of readiness/data/referentials/. All files are
checked first; if one has a problem, every problem is printed and nothing is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from planblanc.accounts.audit import request_context
from planblanc.actors import command
from planblanc.readiness import loader, services
from planblanc.readiness.loader import ReferentialFileError
from planblanc.readiness.models import AppliesTo


class Command(BaseCommand):
    help = "Load referential files (Plan Blanc Numérique format or CISO Assistant library)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path)
        parser.add_argument(
            "--ciso-applies-to", default=AppliesTo.ALL, choices=AppliesTo.values,
            help="Which establishments the CISO Assistant frameworks given apply to.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = options["paths"] or loader.bundled_paths()
        try:
            with request_context(via="cli"):
                referentials, warnings = services.referentials_load(
                    paths=paths, actor=command("referentials_load"), ciso_applies_to=options["ciso_applies_to"],
                )
        except ReferentialFileError as exc:
            raise CommandError("\n".join([_("Nothing was loaded:"), *exc.messages])) from exc
        for warning in warnings:
            self.stderr.write(self.style.WARNING(warning))
        for referential in referentials:
            self.stdout.write(
                _("%(name)s (%(slug)s %(version)s): %(count)d measures")
                % {"name": referential.name, "slug": referential.slug, "version": referential.version,
                   "count": referential.measures.filter(is_active=True).count()}
            )
