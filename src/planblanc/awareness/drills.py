"""Phishing drills (exercices d'hameçonnage): the French templates (data/phishing.yaml,
validated when loaded), the population chosen (all staff, departments or audiences), the
sending through the email channel marked with an allow-list header, and what is tracked.

What is kept per person is a handful of times and nothing else: delivered, opened (the
HTML part's image was fetched: approximate), clicked (a person was on the page: its
script saw a touch, a key or the mouse, or they pressed "Continue" without scripts; the
link scanners of mail gateways, which fetch every link as it arrives, are counted apart
and never as clicks), form submitted (the fact only: the
fake form's fields have no name, so nothing typed ever leaves the browser), reported
(the "signaler" link, or the message forwarded to PLANBLANC_DRILL_REPORT_ADDRESS and read
by `planblanc drill_reports`). Results go to managers per department, cells of fewer than
ANONYMITY_THRESHOLD people hidden; by name only when the platform allows it
(PLANBLANC_DRILL_NAMED_RESULTS), and never to department heads.

The targets are the drill's outbox: written with the drill, sent by a worker that claims
them (a conditional UPDATE with a lease), retried, never sent twice on purpose."""

from __future__ import annotations

import datetime
import email
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Annotated, Any

import yaml
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tasks import task
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.alerting import services as alerting
from planblanc.awareness.audiences import Audience, audiences_of_memberships
from planblanc.awareness.models import Drill, DrillTarget
from planblanc.directory.models import Establishment, Membership

DATA = Path(__file__).resolve().parent / "data" / "phishing.yaml"
LINK_SALT = "planblanc.awareness.drill"
# The proof that the look-alike page was rendered for this person (sent back by its
# script or its "Continue" button): distinct from the link, which scanners hold too.
SEEN_SALT = "planblanc.awareness.drill.seen"
SCANNERS = DATA.parent / "link_scanners.txt"
# Requests that only ask about the link (existence checks, CORS preflights).
SCANNER_METHODS = frozenset({"HEAD", "OPTIONS"})
HEADER_VALUE = "phishing-exercise"
# Results of a department counting fewer people than this are hidden (as the
# observatory's anonymised export hides cells of fewer than 5 establishments).
ANONYMITY_THRESHOLD = 5
MAX_ATTEMPTS = 5
LEASE_SECONDS = 120
BATCH = 200
MAX_FORWARD_BYTES = 2_000_000

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]

POPULATIONS = (
    ("all", gettext_lazy("All staff of the establishment")),
    ("departments", gettext_lazy("Some departments")),
    ("audiences", gettext_lazy("Some audiences")),
)


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


def drill_header() -> tuple[str, str]:
    """The header (name from PLANBLANC_DRILL_HEADER, value) the mail filters allow-list."""
    return settings.AWARENESS_DRILL_HEADER, HEADER_VALUE


# Personal links --------------------------------------------------------------------------


def target_token(target: DrillTarget) -> str:
    return signing.dumps(target.pk, salt=LINK_SALT)


def target_from_token(token: str) -> DrillTarget | None:
    """The target of a personal link; None when forged, altered or expired."""
    if len(token) > 200:
        return None
    try:
        pk = signing.loads(token, salt=LINK_SALT, max_age=settings.AWARENESS_LINK_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return DrillTarget.objects.select_related("drill__establishment").filter(pk=pk).first()


def seen_proof(target: DrillTarget) -> str:
    """The signed proof the look-alike page sends back once a person is there."""
    return signing.dumps(target.pk, salt=SEEN_SALT)


def seen_proof_valid(*, target: DrillTarget, proof: str) -> bool:
    if not proof or len(proof) > 200:
        return False
    try:
        pk = signing.loads(proof, salt=SEEN_SALT, max_age=settings.AWARENESS_LINK_DAYS * 86400)
    except signing.BadSignature:
        return False
    return pk == target.pk


# Link scanners ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def scanner_agents() -> tuple[re.Pattern[str], ...]:
    """The User-Agent patterns of data/link_scanners.txt (one regular expression a line)."""
    patterns = []
    for line in SCANNERS.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(re.compile(line, re.IGNORECASE))
    return tuple(patterns)


def is_link_scanner(*, method: str, user_agent: str) -> bool:
    """Whether a request on a personal link comes from a mail gateway's link scanner, a
    bot or a preview fetcher rather than a person's browser: any HEAD or OPTIONS, no
    User-Agent, or one of the known ones. A scanner posing as a browser passes here; the
    page then waits for a sign of a person before counting the click."""
    if method.upper() in SCANNER_METHODS:
        return True
    agent = user_agent.strip()
    if not agent:
        return True
    return any(pattern.search(agent) for pattern in scanner_agents())


def target_record_scan(*, target: DrillTarget) -> None:
    """A link scanner's request: counted (how many, the first time), nothing else."""
    DrillTarget.objects.filter(pk=target.pk).update(scans=F("scans") + 1,
                                                    scanned_at=Coalesce(F("scanned_at"), timezone.now()))


def _url(name: str, token: str) -> str:
    return settings.ALERTING_PUBLIC_URL + reverse(name, args=[token])


# Population and launch -------------------------------------------------------------------


def population_people(
    *, establishment: Establishment, kind: str, departments: list[int] | None = None,
    audiences: list[str] | None = None,
) -> dict[int, int | None]:
    """{person id: department id} of the people chosen who have an email address."""
    memberships: dict[int, list[tuple[str, str | None, int | None]]] = {}
    for person_id, function, dept_kind, department_id in (
        Membership.objects.filter(establishment=establishment).exclude(person__email="")
        .values_list("person_id", "function", "department__kind", "department_id")
    ):
        memberships.setdefault(person_id, []).append((function, dept_kind, department_id))
    wanted_departments = set(departments or [])
    wanted_audiences = set(audiences or [])
    chosen: dict[int, int | None] = {}
    for person_id, rows in memberships.items():
        if kind == "departments" and not wanted_departments & {d for _f, _k, d in rows}:
            continue
        if kind == "audiences" and not wanted_audiences & audiences_of_memberships((f, k) for f, k, _d in rows):
            continue
        in_chosen = [d for _f, _k, d in rows if d is not None and (kind != "departments" or d in wanted_departments)]
        chosen[person_id] = in_chosen[0] if in_chosen else next((d for _f, _k, d in rows if d is not None), None)
    return chosen


def drill_create(
    *, actor: Actor, establishment: Establishment, template: str, population: str = "all",
    departments: list[int] | None = None, audiences: list[str] | None = None,
) -> Drill:
    """Write the drill and one target per person chosen (the outbox), all or nothing; a
    worker sends them once the transaction commits (drill_deliver)."""
    rights.require_manage_awareness(actor, establishment)
    errors: dict[str, list[str]] = {}
    spec = template_get(template)
    if spec is None:
        errors.setdefault("template", []).append(_("Choose a template."))
    if population not in dict(POPULATIONS):
        errors.setdefault("population", []).append(_("Choose who receives the drill."))
    departments = [int(d) for d in departments or []]
    audiences = [a for a in audiences or [] if a in Audience.values]
    if population == "departments":
        known = set(establishment.departments.filter(pk__in=departments).values_list("pk", flat=True))
        if not departments or known != set(departments):
            errors.setdefault("departments", []).append(_("Choose at least one department of this establishment."))
    if population == "audiences" and not audiences:
        errors.setdefault("audiences", []).append(_("Choose at least one audience."))
    if errors:
        raise ValidationError(errors)
    people = population_people(establishment=establishment, kind=population, departments=departments,
                               audiences=audiences)
    if not people:
        raise ValidationError({"population": [_("Nobody chosen has an email address.")]})
    assert spec is not None
    with transaction.atomic():
        drill = Drill.objects.create(
            establishment=establishment, template=spec.slug,
            population={"kind": population, "departments": departments if population == "departments" else [],
                        "audiences": audiences if population == "audiences" else []},
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        DrillTarget.objects.bulk_create(
            [DrillTarget(drill=drill, person_id=pk, department_id=dept) for pk, dept in people.items()],
            batch_size=1000)
        audit_record(actor=actor, action="awareness.drill_create", obj=drill, establishment=establishment,
                     changes={"template": spec.slug, "population": drill.population, "people": len(people)})
        transaction.on_commit(drill_wake)
    return drill


def drill_link_exercise(*, drill: Drill, exercise_id: int) -> None:
    """Remember the establishment's exercise that records the drill."""
    Drill.objects.filter(pk=drill.pk).update(exercise_id=exercise_id)
    drill.exercise_id = exercise_id


def drill_wake() -> None:
    """Queue the sending task (the rows are the state: a lost task loses nothing, the
    worker's start and the next drill pick up what is left)."""
    try:
        drills_deliver.enqueue()
    except Exception:  # the outbox is written; the next worker start sends it
        import logging

        logging.getLogger(__name__).exception("could not queue the drill's sending")


# Sending -----------------------------------------------------------------------------------


def _message(target: DrillTarget, spec: DrillTemplate) -> alerting.OutgoingMessage:
    token = target_token(target)
    link = _url("awareness:drill_click", token)
    name = target.person.full_name
    body = spec.body.format(name=name, link=link)
    paragraphs = spec.body.format(name=escape(name), link=f'<a href="{escape(link)}">{escape(link)}</a>').split("\n\n")
    image = _url("awareness:drill_image", token)
    html = (
        "<!doctype html><html><body>"
        + "".join(f"<p>{p.strip().replace(chr(10), '<br>')}</p>" for p in paragraphs if p.strip())
        + f'<img src="{escape(image)}" width="1" height="1" alt=""></body></html>'
    )
    return alerting.OutgoingMessage(
        delivery_id=target.pk, idempotency_key=f"drill:{target.pk}", message_id=f"<drill-{target.pk}@planblanc>",
        address=target.person.email, name=name, language="fr", subject=spec.subject, body=body, html_body=html,
        short_text="", ack_url="", is_exercise=True, headers=(drill_header(),),
    )


def drill_deliver(*, limit: int = BATCH, now: datetime.datetime | None = None) -> int:
    """Claim up to `limit` due targets (any drill), send them, record the outcome.
    Returns how many were sent. Several workers may run: a row is claimed by a
    conditional UPDATE and held for LEASE_SECONDS."""
    now = now or timezone.now()
    due = (DrillTarget.objects.filter(delivered_at__isnull=True, failed_at__isnull=True)
           .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)))
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    lease = now + datetime.timedelta(seconds=LEASE_SECONDS)
    claimed = []
    for pk in ids:
        if due.filter(pk=pk).update(claimed_until=lease):
            claimed.append(pk)
    targets = list(DrillTarget.objects.filter(pk__in=claimed).select_related("person", "drill"))
    messages = []
    for target in targets:
        spec = template_get(target.drill.template)
        if spec is None:
            DrillTarget.objects.filter(pk=target.pk).update(failed_at=now, last_error="template withdrawn")
            continue
        messages.append(_message(target, spec))
    try:
        sent = alerting.email_send_direct(messages=messages) if messages else {}
    except ValidationError as exc:
        sent = {}
        error = " ".join(exc.messages)[:300]
    else:
        error = "refused or unreachable relay"
    done = timezone.now()
    ok = [pk for pk, good in sent.items() if good]
    DrillTarget.objects.filter(pk__in=ok).update(delivered_at=done, claimed_until=None)
    for target in targets:
        if target.pk in ok:
            continue
        attempts = target.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            DrillTarget.objects.filter(pk=target.pk).update(attempts=attempts, failed_at=done, last_error=error,
                                                           claimed_until=None)
        else:
            retry = done + datetime.timedelta(seconds=min(600, 10 * 2 ** attempts))
            DrillTarget.objects.filter(pk=target.pk).update(attempts=attempts, last_error=error, claimed_until=retry)
    for drill_id in {target.drill_id for target in targets}:
        if not DrillTarget.objects.filter(drill_id=drill_id, delivered_at__isnull=True, failed_at__isnull=True).exists():
            Drill.objects.filter(pk=drill_id, sent_at__isnull=True).update(sent_at=done)
    return len(ok)


def drill_deliver_all() -> int:
    """Send every due target, batch after batch (the worker's task)."""
    total = 0
    while sent := drill_deliver():
        total += sent
    return total


@task()
def drills_deliver() -> int:
    """The worker's task: send every due drill message; if retries fall due later, queue
    another run for then."""
    sent = drill_deliver_all()
    due = drill_next_due()
    if due is not None:
        drills_deliver.using(run_after=due).enqueue()
    return sent


def drill_wake_if_due() -> None:
    """At a worker's start: queue the sending if a drill was left half sent."""
    if drill_next_due() is not None:
        drill_wake()


def drill_next_due() -> datetime.datetime | None:
    row = (DrillTarget.objects.filter(delivered_at__isnull=True, failed_at__isnull=True)
           .order_by("claimed_until").values_list("claimed_until", flat=True).first())
    if row is None and not DrillTarget.objects.filter(delivered_at__isnull=True, failed_at__isnull=True).exists():
        return None
    return row or timezone.now()


# What happened -----------------------------------------------------------------------------

EVENTS = {"open": "opened_at", "click": "clicked_at", "submit": "submitted_at", "report": "reported_at"}


def target_record(*, target: DrillTarget, event: str) -> bool:
    """Record the first opening, click, form submission or report: a time, nothing else.
    A click or a submission implies the message was opened and the link clicked.
    Returns whether it was new."""
    now = timezone.now()
    field_name = EVENTS[event]
    new = bool(DrillTarget.objects.filter(pk=target.pk, **{f"{field_name}__isnull": True}).update(**{field_name: now}))
    implied = {"click": ["opened_at"], "submit": ["opened_at", "clicked_at"]}.get(event, [])
    for name in implied:
        DrillTarget.objects.filter(pk=target.pk, **{f"{name}__isnull": True}).update(**{name: now})
    return new


@lru_cache(maxsize=1)
def _token_in_text() -> re.Pattern[str]:
    """Links to the drill as they appear in a forwarded message (the click link, the
    report link or the image), wherever the site mounts them."""
    prefix = reverse("awareness:drill_click", args=["TOKEN"]).split("TOKEN", 1)[0]
    return re.compile(re.escape(prefix) + r"([A-Za-z0-9_\-:.]{10,200})/")


def _texts(message: Message) -> list[str]:
    texts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_type() == "message/rfc822":
            continue
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
        for name, value in part.items():
            texts.append(f"{name}: {value}")
    return texts


def forwarded_tokens(raw: bytes) -> list[str]:
    """The drill tokens found in a forwarded message: in its text and HTML parts, in an
    attached original (message/rfc822) and in its headers. Quoted-printable and base64 are
    decoded by the email parser; a link folded across lines by a mail reader is joined."""
    message = email.message_from_bytes(raw[:MAX_FORWARD_BYTES], policy=policy.compat32)
    found: list[str] = []
    for text in _texts(message):
        flat = re.sub(r"=\r?\n", "", text)
        for token in _token_in_text().findall(flat):
            if token not in found:
                found.append(token)
    return found


@dataclass
class ForwardOutcome:
    reported: int = 0
    already: int = 0
    unknown: int = 0


def forwarded_report_record(*, raw: bytes) -> ForwardOutcome:
    """A message forwarded to the report address: each valid drill token in it records
    its person's report (once). Forged or expired tokens are ignored (counted)."""
    outcome = ForwardOutcome()
    for token in forwarded_tokens(raw):
        target = target_from_token(token)
        if target is None:
            outcome.unknown += 1
        elif target_record(target=target, event="report"):
            outcome.reported += 1
        else:
            outcome.already += 1
    return outcome


# Results -------------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


@dataclass
class ResultRow:
    label: str
    people: int
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    submitted: int = 0
    reported: int = 0
    hidden: bool = False

    @property
    def click_rate(self) -> int | None:
        return _rate(self.clicked, self.delivered)

    @property
    def report_rate(self) -> int | None:
        return _rate(self.reported, self.delivered)

    @property
    def open_rate(self) -> int | None:
        return _rate(self.opened, self.delivered)


@dataclass
class DrillResults:
    rows: list[ResultRow] = field(default_factory=list)
    total: ResultRow | None = None
    # Whether the total leaves out a hidden group (so that it cannot be subtracted).
    total_partial: bool = False
    failed: int = 0
    pending: int = 0
    # Requests of link scanners on the personal links, not counted as anything.
    scans: int = 0


COUNTS = ("delivered", "opened", "clicked", "submitted", "reported")


def drill_results(*, drill: Drill, departments: frozenset[int] | None = None) -> DrillResults:
    """Counts per department (None: every department; else only these). A department of
    fewer than ANONYMITY_THRESHOLD people is pooled with the other small ones; that pool
    is hidden too when it is still under the threshold, and the total then leaves it out."""
    rows = DrillTarget.objects.filter(drill=drill)
    if departments is not None:
        rows = rows.filter(department_id__in=departments)
    counts = list(rows.order_by().values("department_id", "department__name").annotate(
        people=Count("pk"),
        delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
        reported=Count("pk", filter=Q(reported_at__isnull=False)),
        failed=Count("pk", filter=Q(failed_at__isnull=False)),
        scans=Sum("scans"),
    ))
    result = DrillResults()
    small = ResultRow(label=_("Departments of fewer than %(n)s people, together") % {"n": ANONYMITY_THRESHOLD},
                      people=0)
    for row in sorted(counts, key=lambda r: r["department__name"] or ""):
        result.failed += row["failed"]
        result.scans += row["scans"] or 0
        result.pending += row["people"] - row["delivered"] - row["failed"]
        line = ResultRow(label=row["department__name"] or _("No department"), people=row["people"],
                         **{name: row[name] for name in COUNTS})
        if line.people < ANONYMITY_THRESHOLD:
            small.people += line.people
            for name in COUNTS:
                setattr(small, name, getattr(small, name) + getattr(line, name))
        else:
            result.rows.append(line)
    if small.people:
        small.hidden = small.people < ANONYMITY_THRESHOLD
        result.rows.append(small)
    counted = [row for row in result.rows if not row.hidden]
    result.total_partial = len(counted) < len(result.rows)
    if counted:
        result.total = ResultRow(label=_("Total"), people=sum(r.people for r in counted),
                                 **{name: sum(getattr(r, name) for r in counted) for name in COUNTS})
    return result


def named_results_allowed(actor: Actor, establishment: Establishment) -> bool:
    """Results by name: only when the platform allows it, and only to those who manage
    the establishment's awareness (never to department heads)."""
    return bool(settings.AWARENESS_DRILL_NAMED_RESULTS) and rights.may_manage_awareness(actor, establishment)


def drill_named_results(*, actor: Actor, drill: Drill) -> list[dict[str, Any]]:
    if not named_results_allowed(actor, drill.establishment):
        return []
    return [
        {"name": t.person.full_name, "department": t.department.name if t.department else "",
         "delivered": t.delivered_at, "opened": t.opened_at, "clicked": t.clicked_at,
         "submitted": t.submitted_at, "reported": t.reported_at}
        for t in DrillTarget.objects.filter(drill=drill).select_related("person", "department")
        .order_by("person__last_name", "person__first_name")
    ]
