"""`planblanc logbook_verify CRISIS_ID [CRISIS_ID …] | --all`

Recomputes the hash chain of each crisis's logbook (main courante) and says whether it
is intact, with its head hash (to compare with the one written on paper or in the
digests), or names the first bad entry and why. Then checks every RFC 3161 timestamp
token against the chain at its position (crisis/anchoring.py): a chain recomputed
after a token was issued fails. Exit code 1 when any logbook fails."""

from __future__ import annotations

from typing import Any

from django.core.management import BaseCommand, CommandError

from planblanc.crisis.anchoring import anchors_verify
from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import Crisis


class Command(BaseCommand):
    help = "Verify the hash chain of crisis logbooks; exit code 1 names the first bad entry."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("crisis_ids", nargs="*", type=int, help="crisis numbers")
        parser.add_argument("--all", action="store_true", help="every crisis")

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] = options["crisis_ids"]
        if options["all"] == bool(ids):
            raise CommandError("Give crisis numbers, or --all.")
        crises = Crisis.objects.select_related("establishment").order_by("pk")
        if ids:
            crises = crises.filter(pk__in=ids)
            missing = sorted(set(ids) - set(crises.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"No crisis {', '.join(map(str, missing))}.")
        failed = 0
        for crisis in crises:
            result = logbook_verify(crisis)
            name = f"crisis {crisis.pk} ({crisis.establishment.name})"
            anchors = anchors_verify(crisis) if result.ok else None
            if anchors is not None and not anchors.ok:
                failed += 1
                where = f" entry #{anchors.first_changed_seq}" if anchors.first_changed_seq else f" entry #{anchors.seq}"
                self.stdout.write(f"FAIL {name}:{where}: {anchors.describe()}")
            elif result.ok:
                self.stdout.write(
                    f"OK   {name}: {result.count} entries, head {result.head_hash}, "
                    f"{anchors.checked if anchors else 0} timestamp(s) checked"
                )
            else:
                failed += 1
                where = f" entry #{result.bad_seq} (id {result.bad_entry_id})" if result.bad_seq is not None else ""
                self.stdout.write(f"FAIL {name}:{where}: {result.describe()}")
        if failed:
            raise CommandError(f"{failed} logbook(s) failed verification.", returncode=1)
