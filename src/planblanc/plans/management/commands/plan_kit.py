"""`planblanc plan_kit FINESS [--version N] [--out kit.pdf] [--bundle kit.zip] [--by NAME]`

Prints the paper kit (PDF) and/or writes the offline bundle (ZIP) of an establishment's
white plan from the command line: for the day the web interface is down. Without
--version, the latest approved version (the draft if none is approved yet; --version 0
asks for the draft explicitly). Each file written is recorded as an export done by this
command, and audited with "cli" as its origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError

from planblanc.accounts.audit import request_context
from planblanc.actors import command
from planblanc.directory.validators import finess_normalize
from planblanc.plans.exports import OFFLINE_BUNDLE, PAPER_KIT, kit_version, plan_kit_export
from planblanc.plans.models import Plan
from planblanc.plans.selectors import plan_latest_version


class Command(BaseCommand):
    help = "Write the paper kit (PDF) and/or the offline bundle (ZIP) of an establishment's white plan."

    def add_base_argument(self, parser: Any, *args: Any, **kwargs: Any) -> None:
        # --version here is the plan's version, not the program's.
        if "--version" in args:
            return
        super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("finess", help="FINESS number of the establishment")
        parser.add_argument("--version", dest="plan_version", help="approved version number (0: the draft); default: the latest")
        parser.add_argument("--out", type=Path, help="where to write the paper kit PDF")
        parser.add_argument("--bundle", type=Path, help="where to write the offline bundle ZIP")
        parser.add_argument("--by", default="", help="who is printing (recorded with the export)")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path | None = options["out"]
        bundle: Path | None = options["bundle"]
        if out is None and bundle is None:
            out = Path("kit-papier.pdf")
        try:
            finess = finess_normalize(options["finess"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        plan = Plan.objects.select_related("establishment").filter(establishment__finess=finess).first()
        if plan is None:
            raise CommandError(f"no white plan for the establishment with FINESS {finess}")
        try:
            if options["plan_version"] is None:
                version = plan_latest_version(plan=plan)
            elif str(options["plan_version"]).strip() == "0":
                version = None
            else:
                version = kit_version(plan=plan, number=options["plan_version"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        actor = command("plan_kit", by=options["by"])
        which = f"version {version.number}" if version else "draft"
        with request_context(via="cli"):
            for kind, path in ((PAPER_KIT, out), (OFFLINE_BUNDLE, bundle)):
                if path is None:
                    continue
                self._check_writable(path)
                exported = plan_kit_export(actor=actor, plan=plan, version=version, kind=kind, printed_by=actor.label)
                path.write_bytes(exported.content)
                self.stdout.write(self.style.SUCCESS(
                    f"{path}: {exported.export.get_kind_display()}, {plan.establishment.name}, {which}, "
                    f"{len(exported.content) // 1024} KiB"
                ))

    def _check_writable(self, path: Path) -> None:
        if path.is_dir():
            raise CommandError(f"{path} is a directory: give a file name")
        if not path.parent.exists():
            raise CommandError(f"the folder {path.parent} does not exist")
