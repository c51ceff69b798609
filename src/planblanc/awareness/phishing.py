"""Phishing drills: the French templates (data/phishing.yaml, validated when loaded), the
sending through the email channel with an allow-list header, and what is tracked:
delivered, clicked, form submitted (the fact only: the page's fields are never read),
reported. Results are shown per department, never per person."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.alerting import services as alerting
from planblanc.awareness.models import Drill, DrillTarget
from planblanc.directory.models import Establishment, Membership

DATA = Path(__file__).resolve().parent / "data" / "phishing.yaml"
LINK_SALT = "planblanc.awareness.drill"
# The header the hospital's mail filters allow-list (and its value).
DRILL_HEADER = ("X-PlanBlanc-Drill", "phishing-exercise")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class DrillTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,50}$")]
    title: Text
    sender: Text
    subject: Text
    body: Text
    clues: Annotated[list[Text], Field(min_length=1)]
    module: str


@lru_cache(maxsize=1)
def templates() -> tuple[DrillTemplate, ...]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    found = TypeAdapter(list[DrillTemplate]).validate_python(data)
    for template in found:
        if "{link}" not in template.body:
            raise ValueError(f"{DATA.name}: {template.slug}.body: no {{link}}")
    return tuple(found)


def template_get(slug: str) -> DrillTemplate | None:
    return next((t for t in templates() if t.slug == slug), None)


def target_token(target: DrillTarget) -> str:
    return signing.dumps(target.pk, salt=LINK_SALT)


def target_from_token(token: str) -> DrillTarget | None:
    if len(token) > 200:
        return None
    try:
        pk = signing.loads(token, salt=LINK_SALT, max_age=settings.AWARENESS_LINK_DAYS * 86400)
    except signing.BadSignature:
        return None
    return DrillTarget.objects.select_related("drill__establishment").filter(pk=pk).first()


def drill_send(*, actor: Actor, establishment: Establishment, template: str) -> Drill:
    """Write the drill and its targets (every person of the establishment with an email),
    then send each their message through the email channel, marked with DRILL_HEADER."""
    rights.require_manage_awareness(actor, establishment)
    spec = template_get(template)
    if spec is None:
        raise ValidationError({"template": [_("Choose a template.")]})
    people: dict[int, tuple[object, int | None]] = {}
    for membership in Membership.objects.filter(establishment=establishment).exclude(person__email="").select_related("person"):
        if membership.person_id not in people or people[membership.person_id][1] is None:
            people[membership.person_id] = (membership.person, membership.department_id)
    if not people:
        raise ValidationError({"template": [_("Nobody in this establishment has an email address.")]})
    with transaction.atomic():
        drill = Drill.objects.create(establishment=establishment, template=spec.slug,
                                     created_by=actor if getattr(actor, "is_authenticated", False) else None)
        DrillTarget.objects.bulk_create(
            [DrillTarget(drill=drill, person_id=pk, department_id=dept) for pk, (_p, dept) in people.items()])
        audit_record(actor=actor, action="awareness.drill_send", obj=drill, establishment=establishment,
                     changes={"template": spec.slug, "people": len(people)})
    base = settings.ALERTING_PUBLIC_URL
    messages = []
    for target in DrillTarget.objects.filter(drill=drill).select_related("person"):
        link = base + reverse("awareness:drill_click", args=[target_token(target)])
        messages.append(alerting.OutgoingMessage(
            delivery_id=target.pk, idempotency_key=f"drill:{target.pk}", message_id=f"<drill-{target.pk}@planblanc>",
            address=target.person.email, name=target.person.full_name, language="fr", subject=spec.subject,
            body=spec.body.format(name=target.person.full_name, link=link), short_text="", ack_url="",
            is_exercise=True, headers=(DRILL_HEADER,),
        ))
    sent = alerting.email_send_direct(messages=messages)
    now = timezone.now()
    DrillTarget.objects.filter(pk__in=[pk for pk, ok in sent.items() if ok]).update(delivered_at=now)
    Drill.objects.filter(pk=drill.pk).update(sent_at=now)
    drill.refresh_from_db()
    return drill


def target_record(*, target: DrillTarget, event: str) -> None:
    """Record the first click, form submission or report (a time, nothing else)."""
    field = {"click": "clicked_at", "submit": "submitted_at", "report": "reported_at"}[event]
    DrillTarget.objects.filter(pk=target.pk, **{f"{field}__isnull": True}).update(**{field: timezone.now()})
    if event == "submit":
        DrillTarget.objects.filter(pk=target.pk, clicked_at__isnull=True).update(clicked_at=timezone.now())


def drill_results(*, drill: Drill, departments: frozenset[int] | None = None) -> list[dict[str, object]]:
    """Per department: sent, delivered, clicked, submitted, reported (counts only)."""
    rows = DrillTarget.objects.filter(drill=drill)
    if departments is not None:
        rows = rows.filter(department_id__in=departments)
    counts = rows.values("department__name").annotate(
        sent=Count("pk"), delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
        reported=Count("pk", filter=Q(reported_at__isnull=False)),
    ).order_by("department__name")
    return [dict(row, department=row.pop("department__name") or "—") for row in counts]

