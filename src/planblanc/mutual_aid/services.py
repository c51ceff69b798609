"""Writes of mutual aid: the catalogue, help requests and their offers, alerts and their
escalation, situation reports and the regional crisis cell. Every write checks the
actor's right, writes the audit log and, for help requests, the logbooks of both
establishments' crises and of the regional crisis (crisis.services.logbook_record_event)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import MUTUAL_AID, Actor
from planblanc.crisis.models import Crisis, CrisisKind, CrisisStatus, EntryKind, Severity
from planblanc.crisis.services import logbook_record_event
from planblanc.directory.models import Establishment, Group, Person, Region
from planblanc.mutual_aid.models import (
    OPEN_REQUEST_STATUSES,
    AidAlert,
    AidOffer,
    AlertPurpose,
    EdStatus,
    HelpRequest,
    OfferStatus,
    OwnerLevel,
    RegionalCrisis,
    RegionalLink,
    RequestStatus,
    Resource,
    ResourceKind,
    ResponderRoute,
    SituationReport,
    TargetKind,
    Urgency,
)
from planblanc.tenancy import Role, user_label

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = MUTUAL_AID
MAX_QUANTITY = 100_000
DEFAULT_ANSWER_MINUTES = 30
# Escalation levels: 0 = the addressee's on-call; 1 = the region's (ARS) on-call; then
# the request is flagged on the regional board as unanswered.
LAST_LEVEL = 1


# Rights ---------------------------------------------------------------------------------


def may_offer_for(*, actor: Actor, level: str, establishment: Establishment | None = None,
                  group: Group | None = None, region: Region | None = None) -> bool:
    """Whether `actor` acts for this establishment, group or region (rights.may_act_for)."""
    return rights.may_act_for(actor, level=level, establishment=establishment, group=group, region=region)


def acting_levels(*, actor: Actor, request: HelpRequest) -> list[tuple[str, Any]]:
    """The sides `actor` may answer a request for: (level, owner) pairs."""
    sides: list[tuple[str, Any]] = []
    requester = request.requester
    if (request.target_kind == TargetKind.ESTABLISHMENT and request.target_establishment_id
            and may_offer_for(actor=actor, level=OwnerLevel.ESTABLISHMENT, establishment=request.target_establishment)):
        sides.append((OwnerLevel.ESTABLISHMENT, request.target_establishment))
    if requester.group_id and may_offer_for(actor=actor, level=OwnerLevel.GROUP, group=requester.group):
        sides.append((OwnerLevel.GROUP, requester.group))
    if may_offer_for(actor=actor, level=OwnerLevel.REGION, region=requester.region):
        sides.append((OwnerLevel.REGION, requester.region))
    return sides


def may_request_for(*, actor: Actor, establishment: Establishment) -> bool:
    """The establishment's crisis cell asks for help (rights.may_request_aid)."""
    return rights.may_request_aid(actor, establishment)


def _require(condition: bool) -> None:
    if not condition:
        raise PermissionDenied(_("You are not allowed to do this here."))


def _label(actor: Actor) -> str:
    return (user_label(actor) if hasattr(actor, "pk") else str(actor))[:200]


def _clean_text(data: dict[str, Any], name: str, *, max_length: int, required: bool = False,
                errors: dict[str, list[str]]) -> str:
    value = str(data.get(name) or "").strip()
    if required and not value:
        errors.setdefault(name, []).append(_("This field is required."))
    elif len(value) > max_length:
        errors.setdefault(name, []).append(_("At most %(max)d characters.") % {"max": max_length})
    return value


def _clean_quantity(value: Any, errors: dict[str, list[str]], name: str = "quantity") -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors.setdefault(name, []).append(_("Give a whole number."))
        return 0
    if number < 1 or number > MAX_QUANTITY:
        errors.setdefault(name, []).append(_("Between 1 and %(max)d.") % {"max": MAX_QUANTITY})
    return number


# Catalogue ------------------------------------------------------------------------------


RESOURCE_TEXT_FIELDS = {
    "name": 200, "description": 2000, "location": 200, "contact": 200, "contact_phone": 30, "delay": 100,
    "cost": 100, "agreement": 100,
}


def resource_clean(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        name: _clean_text(data, name, max_length=length, required=name == "name", errors=errors)
        for name, length in RESOURCE_TEXT_FIELDS.items()
    }
    kind = str(data.get("kind") or "")
    if kind not in ResourceKind.values:
        errors.setdefault("kind", []).append(_("Choose people and skills, equipment or a service."))
    values["kind"] = kind
    values["quantity"] = _clean_quantity(data.get("quantity", 1), errors)
    if errors:
        raise ValidationError(errors)
    return values


def owner_fields(level: str, owner: Any) -> dict[str, Any]:
    if level == OwnerLevel.ESTABLISHMENT:
        return {"establishment": owner, "group": owner.group, "region": owner.region}
    if level == OwnerLevel.GROUP:
        return {"establishment": None, "group": owner, "region": owner.region}
    return {"establishment": None, "group": None, "region": owner}


def resource_owner_check(*, actor: Actor, level: str, owner: Any) -> None:
    kwargs = {{OwnerLevel.ESTABLISHMENT: "establishment", OwnerLevel.GROUP: "group"}.get(level, "region"): owner}
    _require(owner is not None and may_offer_for(actor=actor, level=level, **kwargs))


def resource_create(*, actor: Actor, level: str, owner: Any, data: dict[str, Any]) -> Resource:
    resource_owner_check(actor=actor, level=level, owner=owner)
    values = resource_clean(data)
    with transaction.atomic():
        resource = Resource.objects.create(**owner_fields(level, owner), **values)
        audit_record(actor=actor, action="mutual_aid.resource_create", obj=resource,
                     establishment=resource.establishment, changes={"name": resource.name, "level": level})
    return resource


def resource_update(*, actor: Actor, resource: Resource, data: dict[str, Any]) -> Resource:
    owner = resource.establishment or resource.group or resource.region
    resource_owner_check(actor=actor, level=resource.level, owner=owner)
    values = resource_clean(data)
    with transaction.atomic():
        for name, value in values.items():
            setattr(resource, name, value)
        resource.updated_at = timezone.now()
        resource.save()
        audit_record(actor=actor, action="mutual_aid.resource_update", obj=resource,
                     establishment=resource.establishment, changes=values)
    return resource


def resource_delete(*, actor: Actor, resource: Resource) -> None:
    owner = resource.establishment or resource.group or resource.region
    resource_owner_check(actor=actor, level=resource.level, owner=owner)
    with transaction.atomic():
        audit_record(actor=actor, action="mutual_aid.resource_delete", obj=resource,
                     establishment=resource.establishment, changes={"name": resource.name})
        resource.delete()


# Alerts ---------------------------------------------------------------------------------


def _people_with_role(role: str, **scope: Any) -> list[Person]:
    return list(
        Person.objects.filter(user__role_assignments__role=role, **{f"user__role_assignments__{k}": v
                                                                    for k, v in scope.items()})
        .distinct().order_by("last_name", "first_name")
    )


def responders(*, region: Region, group: Group | None, when: datetime.datetime | None = None) -> tuple[
    list[Person], int, str
]:
    """Who is alerted for a group (its CISO on call) or a region (the ARS on call): the
    person on call in the route's rotation, or else the holders of the role. Returns the
    people, the answer delay in minutes and a label of the audience."""
    from planblanc.alerting.selectors import person_on_call

    route = ResponderRoute.objects.filter(region=region, group=group).select_related("rotation").first()
    minutes = route.answer_within_minutes if route else DEFAULT_ANSWER_MINUTES
    if route and route.rotation_id:
        person = person_on_call(rotation=route.rotation, when=when or timezone.now())
        if person is not None:
            return [person], minutes, _("on call: %(rotation)s") % {"rotation": route.rotation.name}
    if group is not None:
        return (_people_with_role(Role.GROUP_CISO, group=group), minutes,
                _("CISO of %(group)s") % {"group": group.name})
    return (_people_with_role(Role.REGIONAL_OFFICER, region=region), minutes,
            _("ARS on call, %(region)s") % {"region": region.name})


def _alert(*, region: Region, request: HelpRequest | None, purpose: str, people: list[Person], audience: str,
           title: str, message: str, level: int = 0, is_exercise: bool = False,
           regional_crisis: RegionalCrisis | None = None) -> AidAlert:
    """Send through the alerting engine (a campaign for the region, sent by the workers)
    and keep a row of it; a failure to send is recorded on the row, never raised."""
    from planblanc.alerting.services import campaign_create, recipients_from_people

    campaign = None
    problem = ""
    if not people:
        problem = _("Nobody to alert: no on-call rotation and no one holding the role.")
    else:
        try:
            campaign = campaign_create(
                actor=SYSTEM_ACTOR, title=title[:200], message_fr=message.replace("{", "(").replace("}", ")"),
                recipients=recipients_from_people(people), channels=["email", "sms"], region=region,
                is_exercise=is_exercise,
            )
        except ValidationError as exc:
            problem = "; ".join(exc.messages)[:300]
    return AidAlert.objects.create(
        region=region, request=request, purpose=purpose, level=level, audience=audience[:200], campaign=campaign,
        problem=problem, regional_crisis=regional_crisis,
    )


# Logbooks -------------------------------------------------------------------------------


def open_regional_crisis(*, region_id: int, is_exercise: bool) -> RegionalCrisis | None:
    return (
        RegionalCrisis.objects.filter(region_id=region_id, is_exercise=is_exercise, crisis__status=CrisisStatus.ACTIVE)
        .select_related("crisis").order_by("-opened_at").first()
    )


def _active_crisis(establishment: Establishment | None, *, is_exercise: bool) -> Crisis | None:
    if establishment is None:
        return None
    return Crisis.objects.filter(
        establishment=establishment, status=CrisisStatus.ACTIVE, is_exercise=is_exercise
    ).order_by("-declared_at").first()


def _log_step(*, request: HelpRequest, text: str, author: str, other: Establishment | None = None,
              actor: Actor | None = None) -> None:
    """The step in the requester's crisis logbook, the other establishment's (if in
    crisis) and the regional crisis cell's."""
    line = _("Mutual aid — %(what)s (%(qty)d), %(requester)s: %(text)s") % {
        "what": request.what, "qty": request.quantity, "requester": request.requester.name, "text": text,
    }
    crises: list[Crisis] = []
    if request.crisis_id:
        crises.append(request.crisis)
    else:
        found = _active_crisis(request.requester, is_exercise=request.is_exercise)
        if found:
            crises.append(found)
    other_crisis = _active_crisis(other, is_exercise=request.is_exercise) if other else None
    if other_crisis and other_crisis not in crises:
        crises.append(other_crisis)
    regional = open_regional_crisis(region_id=request.region_id, is_exercise=request.is_exercise)
    if regional:
        crises.append(regional.crisis)
    actor_user = actor if getattr(actor, "is_authenticated", False) else SYSTEM_ACTOR
    for crisis in crises:
        logbook_record_event(crisis=crisis, author_label=author, text=line, kind=EntryKind.EVENT, actor=actor_user)


# Help requests --------------------------------------------------------------------------


def help_request_create(
    *, actor: Actor, requester: Establishment, data: dict[str, Any], crisis: Crisis | None = None,
    message_id: str | None = None,
) -> HelpRequest:
    """A help request from an establishment's crisis cell, alerted to the addressee's on-call."""
    _require(may_request_for(actor=actor, establishment=requester))
    return _help_request_create(actor=actor, requester=requester, data=data, crisis=crisis, message_id=message_id)


def _help_request_create(
    *, actor: Actor, requester: Establishment, data: dict[str, Any], crisis: Crisis | None = None,
    message_id: str | None = None,
) -> HelpRequest:
    errors: dict[str, list[str]] = {}
    what = _clean_text(data, "what", max_length=200, required=True, errors=errors)
    deliver_to = _clean_text(data, "deliver_to", max_length=300, required=True, errors=errors)
    details = _clean_text(data, "details", max_length=2000, errors=errors)
    quantity = _clean_quantity(data.get("quantity"), errors)
    kind = str(data.get("kind") or "")
    if kind not in ResourceKind.values:
        errors.setdefault("kind", []).append(_("Choose people and skills, equipment or a service."))
    urgency = str(data.get("urgency") or "")
    if urgency not in Urgency.values:
        errors.setdefault("urgency", []).append(_("Choose the urgency."))
    needed_until = data.get("needed_until")
    if needed_until is not None and not isinstance(needed_until, datetime.datetime):
        errors.setdefault("needed_until", []).append(_("Give a date and time."))
    elif needed_until is not None and needed_until < timezone.now() - datetime.timedelta(minutes=5):
        errors.setdefault("needed_until", []).append(_("This date is already past."))
    target_kind = str(data.get("target_kind") or "")
    target: dict[str, Any] = {}
    if target_kind == TargetKind.GROUP:
        if requester.group_id is None:
            errors.setdefault("target_kind", []).append(_("This establishment belongs to no group: ask the region."))
        target = {"target_group": requester.group}
    elif target_kind == TargetKind.REGION:
        target = {"target_region": requester.region}
    elif target_kind == TargetKind.ESTABLISHMENT:
        other = data.get("target_establishment")
        if not isinstance(other, Establishment) or other.region_id != requester.region_id or other.pk == requester.pk:
            errors.setdefault("target_establishment", []).append(
                _("Choose another establishment of the region.")
            )
        target = {"target_establishment": other if isinstance(other, Establishment) else None}
    else:
        errors.setdefault("target_kind", []).append(_("Choose who you ask."))
    if crisis is None:
        crisis = Crisis.objects.filter(establishment=requester, status=CrisisStatus.ACTIVE).order_by(
            "-declared_at").first()
    if crisis is not None and (crisis.establishment_id != requester.pk or crisis.status != CrisisStatus.ACTIVE):
        errors.setdefault("__all__", []).append(_("This crisis is not an active crisis of the establishment."))
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    group = requester.group if target_kind == TargetKind.GROUP else None
    people, minutes, audience = responders(region=requester.region, group=group, when=now)
    if target_kind == TargetKind.ESTABLISHMENT:
        other = target["target_establishment"]
        people = list(Person.objects.filter(
            memberships__establishment=other, memberships__function__in=("director", "ciso", "on_call_manager"),
        ).distinct())
        audience = other.name
    with transaction.atomic():
        request = HelpRequest.objects.create(
            requester=requester, crisis=crisis, region=requester.region, target_kind=target_kind, kind=kind,
            what=what, quantity=quantity, urgency=urgency, deliver_to=deliver_to, needed_until=needed_until,
            details=details, is_exercise=bool(crisis and crisis.is_exercise), created_at=now,
            created_by_label=_label(actor), answer_due_at=now + datetime.timedelta(minutes=minutes),
            **({"message_id": message_id} if message_id else {}), **target,
        )
        audit_record(actor=actor, action="mutual_aid.request_create", obj=request, establishment=requester,
                     changes={"what": what, "quantity": quantity, "to": target_kind})
        _log_step(request=request, author=_label(actor), actor=actor,
                  other=target.get("target_establishment"),
                  text=_("help asked of %(to)s, urgency %(urgency)s, deliver to %(where)s.") % {
                      "to": request.target_label, "urgency": request.get_urgency_display(), "where": deliver_to})
        _alert(
            region=requester.region, request=request, purpose=AlertPurpose.NEW_REQUEST, people=people,
            audience=audience, is_exercise=request.is_exercise,
            title=_("Help request: %(qty)d × %(what)s for %(who)s") % {
                "qty": quantity, "what": what, "who": requester.name},
            message=_("%(who)s asks %(to)s for %(qty)d × %(what)s (%(urgency)s), to deliver to %(where)s. "
                      "Answer on Plan Blanc Numérique, Mutual aid.") % {
                "who": requester.name, "to": request.target_label, "qty": quantity, "what": what,
                "urgency": request.get_urgency_display(), "where": deliver_to},
        )
    return request


def edxl_import(*, actor: Actor, content: bytes) -> HelpRequest | AidOffer:
    """Record an EDXL-RM message received by other means (mail, USB key): a
    RequestResource becomes a help request of the establishment it names (FINESS), if
    the user acts for it, its group or its region; a ResponseToRequestResource becomes
    an offer on the request it answers."""
    from planblanc.mutual_aid import edxl

    message = edxl.parse_message(content)
    if message.message_type == "RequestResource":
        if HelpRequest.objects.filter(message_id=message.message_id).exists():
            raise ValidationError({"file": [_("This request is already recorded.")]})
        requester = Establishment.objects.visible_to(actor).filter(finess=message.finess).first() if message.finess else None
        if requester is None:
            raise ValidationError({"file": [_("The requesting establishment (FINESS in ContactDescription) is unknown "
                                              "or outside your scope.")]})
        allowed = may_request_for(actor=actor, establishment=requester) or (
            requester.group_id is not None
            and may_offer_for(actor=actor, level=OwnerLevel.GROUP, group=requester.group)
        ) or may_offer_for(actor=actor, level=OwnerLevel.REGION, region=requester.region)
        _require(allowed)
        data = {
            "what": message.name, "quantity": message.quantity, "kind": message.kind, "urgency": message.urgency,
            "deliver_to": message.location, "details": message.description, "needed_until": message.until,
            "target_kind": TargetKind.GROUP if requester.group_id else TargetKind.REGION,
        }
        try:
            return _help_request_create(actor=actor, requester=requester, data=data, message_id=message.message_id)
        except ValidationError as exc:
            raise ValidationError({"file": [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]}) from None
    request = HelpRequest.objects.visible_to(actor).filter(message_id=message.preceding_id).first()
    if request is None:
        raise ValidationError({"file": [_("The request this message answers is unknown here or outside your scope.")]})
    if AidOffer.objects.filter(message_id=message.message_id).exists():
        raise ValidationError({"file": [_("This offer is already recorded.")]})
    sides = acting_levels(actor=actor, request=request)
    _require(bool(sides))
    try:
        return aid_offer_create(actor=actor, request=request, level=sides[0][0], message_id=message.message_id,
                                data={"what": message.name, "quantity": message.quantity,
                                      "conditions": message.restrictions, "arrives_at": message.requested_arrival})
    except ValidationError as exc:
        raise ValidationError({"file": [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]}) from None


def _require_requester(actor: Actor, request: HelpRequest) -> None:
    _require(may_request_for(actor=actor, establishment=request.requester))


def help_request_cancel(*, actor: Actor, request: HelpRequest) -> HelpRequest:
    _require_requester(actor, request)
    if request.status not in (RequestStatus.OPEN, RequestStatus.OFFERED):
        raise ValidationError(_("Only a request that nobody committed to can be cancelled."))
    with transaction.atomic():
        HelpRequest.objects.filter(pk=request.pk).update(status=RequestStatus.CANCELLED, closed_at=timezone.now())
        request.status = RequestStatus.CANCELLED
        AidOffer.objects.filter(request=request, status=OfferStatus.OFFERED).update(status=OfferStatus.DECLINED)
        audit_record(actor=actor, action="mutual_aid.request_cancel", obj=request, establishment=request.requester)
        _log_step(request=request, author=_label(actor), actor=actor, text=_("request cancelled."))
    return request


def aid_offer_create(
    *, actor: Actor, request: HelpRequest, level: str, data: dict[str, Any], resource: Resource | None = None,
    message_id: str | None = None,
) -> AidOffer:
    """An offer for the group, the region or the establishment asked."""
    sides = dict(acting_levels(actor=actor, request=request))
    _require(level in sides)
    if request.status not in (RequestStatus.OPEN, RequestStatus.OFFERED, RequestStatus.COMMITTED):
        raise ValidationError(_("This request is closed."))
    owner = sides[level]
    errors: dict[str, list[str]] = {}
    what = _clean_text(data, "what", max_length=200, errors=errors) or (resource.name if resource else request.what)
    conditions = _clean_text(data, "conditions", max_length=300, errors=errors)
    quantity = _clean_quantity(data.get("quantity"), errors)
    if quantity and quantity > request.quantity:
        errors.setdefault("quantity", []).append(
            _("At most the %(qty)d asked.") % {"qty": request.quantity})
    arrives_at = data.get("arrives_at")
    if arrives_at is not None and not isinstance(arrives_at, datetime.datetime):
        errors.setdefault("arrives_at", []).append(_("Give a date and time."))
    if resource is not None and resource.region_id != request.region_id:
        errors.setdefault("resource", []).append(_("Choose a resource of the region."))
    if errors:
        raise ValidationError(errors)
    label = owner.name if level != OwnerLevel.REGION else (owner.agency_name or owner.name)
    now = timezone.now()
    with transaction.atomic():
        offer = AidOffer.objects.create(
            request=request, level=level, offerer_label=label[:200], resource=resource, what=what,
            quantity=quantity, conditions=conditions, arrives_at=arrives_at, created_by_label=_label(actor),
            offerer_establishment=owner if level == OwnerLevel.ESTABLISHMENT else None,
            offerer_group=owner if level == OwnerLevel.GROUP else None,
            offerer_region=owner if level == OwnerLevel.REGION else None,
            **({"message_id": message_id} if message_id else {}),
        )
        updates: dict[str, Any] = {}
        if request.status == RequestStatus.OPEN:
            updates["status"] = RequestStatus.OFFERED
        if request.first_offer_at is None:
            updates["first_offer_at"] = now
        if updates:
            HelpRequest.objects.filter(pk=request.pk).update(**updates)
            for name, value in updates.items():
                setattr(request, name, value)
        audit_record(actor=actor, action="mutual_aid.offer_create", obj=offer, establishment=request.requester,
                     changes={"level": level, "quantity": quantity, "what": what})
        _log_step(request=request, author=_label(actor), actor=actor,
                  other=owner if level == OwnerLevel.ESTABLISHMENT else None,
                  text=_("%(who)s offers %(qty)d × %(what)s%(cond)s.") % {
                      "who": label, "qty": quantity, "what": what,
                      "cond": f" ({conditions})" if conditions else ""})
        people = list(Person.objects.filter(user__role_assignments__role__in=(
            Role.ESTABLISHMENT_ADMIN, Role.CRISIS_MEMBER), user__role_assignments__establishment=request.requester,
        ).distinct())
        _alert(region=request.region, request=request, purpose=AlertPurpose.OFFER, people=people,
               audience=request.requester.name, is_exercise=request.is_exercise,
               title=_("Offer: %(qty)d × %(what)s from %(who)s") % {"qty": quantity, "what": what, "who": label},
               message=_("%(who)s offers %(qty)d × %(what)s for your request. Accept it on Plan Blanc Numérique.")
               % {"who": label, "qty": quantity, "what": what})
    return offer


def aid_offer_accept(*, actor: Actor, offer: AidOffer) -> AidOffer:
    """The requester's choice: this offer is accepted (EDXL-RM CommitResource follows)."""
    request = offer.request
    _require_requester(actor, request)
    if offer.status != OfferStatus.OFFERED:
        raise ValidationError(_("This offer is no longer open."))
    if request.status not in (RequestStatus.OFFERED, RequestStatus.COMMITTED):
        raise ValidationError(_("This request is closed."))
    now = timezone.now()
    with transaction.atomic():
        if AidOffer.objects.filter(pk=offer.pk, status=OfferStatus.OFFERED).update(
                status=OfferStatus.ACCEPTED, accepted_at=now) != 1:
            raise ValidationError(_("This offer is no longer open."))
        offer.status, offer.accepted_at = OfferStatus.ACCEPTED, now
        HelpRequest.objects.filter(pk=request.pk).update(status=RequestStatus.COMMITTED)
        request.status = RequestStatus.COMMITTED
        audit_record(actor=actor, action="mutual_aid.offer_accept", obj=offer, establishment=request.requester)
        _log_step(request=request, author=_label(actor), actor=actor, other=offer.offerer_establishment,
                  text=_("offer of %(who)s accepted: %(qty)d × %(what)s, committed.") % {
                      "who": offer.offerer_label, "qty": offer.quantity, "what": offer.what})
        # The offering side is told to send what it committed.
        if offer.offerer_establishment_id:
            people = list(Person.objects.filter(
                memberships__establishment=offer.offerer_establishment,
                memberships__function__in=("director", "ciso", "on_call_manager"),
            ).distinct())
            audience = offer.offerer_label
        else:
            people, _minutes, audience = responders(region=request.region, group=offer.offerer_group)
        _alert(region=request.region, request=request, purpose=AlertPurpose.ACCEPTED, people=people,
               audience=audience, is_exercise=request.is_exercise,
               title=_("Accepted: %(qty)d × %(what)s for %(who)s") % {
                   "qty": offer.quantity, "what": offer.what, "who": request.requester.name},
               message=_("%(who)s accepts your offer of %(qty)d × %(what)s: deliver to %(where)s.") % {
                   "who": request.requester.name, "qty": offer.quantity, "what": offer.what,
                   "where": request.deliver_to})
    return offer


def aid_offer_decline(*, actor: Actor, offer: AidOffer) -> AidOffer:
    request = offer.request
    _require_requester(actor, request)
    if offer.status != OfferStatus.OFFERED:
        raise ValidationError(_("This offer is no longer open."))
    with transaction.atomic():
        AidOffer.objects.filter(pk=offer.pk).update(status=OfferStatus.DECLINED)
        offer.status = OfferStatus.DECLINED
        audit_record(actor=actor, action="mutual_aid.offer_decline", obj=offer, establishment=request.requester)
        _log_step(request=request, author=_label(actor), actor=actor, other=offer.offerer_establishment,
                  text=_("offer of %(who)s not retained.") % {"who": offer.offerer_label})
    return offer


def may_mark(actor: Actor, offer: AidOffer) -> bool:
    if may_request_for(actor=actor, establishment=offer.request.requester):
        return True
    owner = offer.offerer_establishment or offer.offerer_group or offer.offerer_region
    kwargs = {{OwnerLevel.ESTABLISHMENT: "establishment", OwnerLevel.GROUP: "group"}.get(offer.level, "region"): owner}
    return may_offer_for(actor=actor, level=offer.level, **kwargs)


def _refresh_request_status(request: HelpRequest) -> None:
    statuses = set(AidOffer.objects.filter(request=request).values_list("status", flat=True))
    engaged = statuses & {OfferStatus.ACCEPTED, OfferStatus.DELIVERED, OfferStatus.RETURNED}
    if not engaged:
        return
    if engaged == {OfferStatus.RETURNED}:
        status = RequestStatus.RETURNED
    elif OfferStatus.ACCEPTED in engaged:
        status = RequestStatus.COMMITTED
    else:
        status = RequestStatus.DELIVERED
    closed = timezone.now() if status == RequestStatus.RETURNED else None
    HelpRequest.objects.filter(pk=request.pk).update(status=status, closed_at=closed)
    request.status = status


def aid_offer_mark_delivered(*, actor: Actor, offer: AidOffer) -> AidOffer:
    """Delivery status (EDXL-RM ReportResourceDeploymentStatus): either side marks it."""
    _require(may_mark(actor, offer))
    if offer.status != OfferStatus.ACCEPTED:
        raise ValidationError(_("Only an accepted offer can be delivered."))
    with transaction.atomic():
        now = timezone.now()
        AidOffer.objects.filter(pk=offer.pk).update(status=OfferStatus.DELIVERED, delivered_at=now)
        offer.status, offer.delivered_at = OfferStatus.DELIVERED, now
        _refresh_request_status(offer.request)
        audit_record(actor=actor, action="mutual_aid.offer_delivered", obj=offer,
                     establishment=offer.request.requester)
        _log_step(request=offer.request, author=_label(actor), actor=actor, other=offer.offerer_establishment,
                  text=_("%(qty)d × %(what)s from %(who)s delivered.") % {
                      "qty": offer.quantity, "what": offer.what, "who": offer.offerer_label})
    return offer


def aid_offer_mark_returned(*, actor: Actor, offer: AidOffer) -> AidOffer:
    """The resource went back to its owner (EDXL-RM RequestReturn)."""
    _require(may_mark(actor, offer))
    if offer.status != OfferStatus.DELIVERED:
        raise ValidationError(_("Only a delivered resource can be returned."))
    with transaction.atomic():
        now = timezone.now()
        AidOffer.objects.filter(pk=offer.pk).update(status=OfferStatus.RETURNED, returned_at=now)
        offer.status, offer.returned_at = OfferStatus.RETURNED, now
        _refresh_request_status(offer.request)
        audit_record(actor=actor, action="mutual_aid.offer_returned", obj=offer,
                     establishment=offer.request.requester)
        _log_step(request=offer.request, author=_label(actor), actor=actor, other=offer.offerer_establishment,
                  text=_("%(qty)d × %(what)s returned to %(who)s.") % {
                      "qty": offer.quantity, "what": offer.what, "who": offer.offerer_label})
    return offer


# Escalation -----------------------------------------------------------------------------


def help_request_escalate(*, request_id: int, now: datetime.datetime | None = None) -> bool:
    """One escalation step of an unanswered request, if it is still due and still ours
    (a conditional UPDATE is the claim, so several workers may run). Level 0 → the
    region's on-call is alerted; past the last level the request is flagged."""
    now = now or timezone.now()
    with transaction.atomic():
        request = HelpRequest.objects.filter(
            pk=request_id, status=RequestStatus.OPEN, first_offer_at=None, answer_due_at__lte=now,
            escalation_exhausted=False,
        ).select_related("requester", "region").first()
        if request is None:
            return False
        level = request.escalation_level
        if level >= LAST_LEVEL:
            claimed = HelpRequest.objects.filter(pk=request.pk, escalation_level=level, escalation_exhausted=False).update(
                escalation_exhausted=True, answer_due_at=None) == 1
            if claimed:
                _log_step(request=request, author=SYSTEM_ACTOR.label,
                          text=_("still no answer after every escalation: flagged to the regional board."))
            return claimed
        people, minutes, audience = responders(region=request.region, group=None, when=now)
        claimed = HelpRequest.objects.filter(pk=request.pk, escalation_level=level).update(
            escalation_level=level + 1, answer_due_at=now + datetime.timedelta(minutes=minutes)) == 1
        if not claimed:
            return False
        request.escalation_level = level + 1
        _alert(
            region=request.region, request=request, purpose=AlertPurpose.ESCALATION, people=people,
            audience=audience, level=level + 1, is_exercise=request.is_exercise,
            title=_("No answer: %(qty)d × %(what)s for %(who)s") % {
                "qty": request.quantity, "what": request.what, "who": request.requester.name},
            message=_("Nobody has answered the help request of %(who)s (%(qty)d × %(what)s, %(urgency)s) "
                      "addressed to %(to)s. Answer on Plan Blanc Numérique, Mutual aid.") % {
                "who": request.requester.name, "qty": request.quantity, "what": request.what,
                "urgency": request.get_urgency_display(), "to": request.target_label},
        )
        audit_record(actor=SYSTEM_ACTOR, action="mutual_aid.request_escalate", obj=request,
                     establishment=request.requester, changes={"level": level + 1})
        _log_step(request=request, author=SYSTEM_ACTOR.label,
                  text=_("no answer in time: escalated to %(audience)s.") % {"audience": audience})
    return True


# The steps of an offer, by the name the pages and the API use.
def offer_step(name: str) -> Any:
    return {
        "accept": aid_offer_accept, "decline": aid_offer_decline,
        "delivered": aid_offer_mark_delivered, "returned": aid_offer_mark_returned,
    }.get(name)


def help_requests_escalate(*, now: datetime.datetime | None = None, limit: int = 200) -> int:
    """Every due escalation step (the worker task calls this)."""
    now = now or timezone.now()
    due = list(
        HelpRequest.objects.filter(status=RequestStatus.OPEN, first_offer_at=None, answer_due_at__lte=now,
                                   escalation_exhausted=False)
        .order_by("answer_due_at", "id").values_list("id", flat=True)[:limit]
    )
    taken = 0
    for request_id in due:
        try:
            taken += help_request_escalate(request_id=request_id, now=now)
        except Exception:  # one broken request must not stop the others
            logger.exception("help request %s: escalation failed", request_id)
    return taken


def help_requests_next_due_at() -> datetime.datetime | None:
    return (
        HelpRequest.objects.filter(status=RequestStatus.OPEN, first_offer_at=None, escalation_exhausted=False)
        .exclude(answer_due_at=None).order_by("answer_due_at").values_list("answer_due_at", flat=True).first()
    )


# Situation reports ----------------------------------------------------------------------


SITREP_INT_FIELDS = ("beds_deprogrammed", "surgeries_deprogrammed", "patients_transferred")


def situation_report_create(*, actor: Actor, crisis: Crisis, data: dict[str, Any]) -> SituationReport:
    """A point de situation of the establishment in crisis (its crisis cell writes it)."""
    establishment = crisis.establishment
    _require(establishment is not None and may_request_for(actor=actor, establishment=establishment))
    if crisis.status != CrisisStatus.ACTIVE:
        raise ValidationError(_("This crisis has ended."))
    errors: dict[str, list[str]] = {}
    ed_status = str(data.get("ed_status") or "")
    if ed_status not in EdStatus.values:
        errors.setdefault("ed_status", []).append(_("Choose open, restricted or diverted."))
    numbers: dict[str, int] = {}
    for name in SITREP_INT_FIELDS:
        try:
            numbers[name] = int(data.get(name) or 0)
        except (TypeError, ValueError):
            errors.setdefault(name, []).append(_("Give a whole number."))
            continue
        if not 0 <= numbers[name] <= MAX_QUANTITY:
            errors.setdefault(name, []).append(_("Between 0 and %(max)d.") % {"max": MAX_QUANTITY})
    needs = _clean_text(data, "needs", max_length=2000, errors=errors)
    now = timezone.now()
    next_at = data.get("next_report_at")
    if not isinstance(next_at, datetime.datetime):
        errors.setdefault("next_report_at", []).append(_("Give the time of the next report."))
    elif next_at <= now or next_at > now + datetime.timedelta(days=3):
        errors.setdefault("next_report_at", []).append(_("Within the next three days."))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        report = SituationReport.objects.create(
            establishment=establishment, crisis=crisis, region=establishment.region, at=now,
            author_label=_label(actor), ed_status=ed_status, needs=needs, next_report_at=next_at,
            lab_on_paper=bool(data.get("lab_on_paper")), imaging_on_paper=bool(data.get("imaging_on_paper")),
            **numbers,
        )
        audit_record(actor=actor, action="mutual_aid.situation_report", obj=report, establishment=establishment)
        summary = _("Situation report: ED %(ed)s; %(beds)d beds and %(surg)d surgeries deprogrammed; "
                    "%(transferred)d patients transferred; lab %(lab)s, imaging %(img)s; next report at %(next)s.") % {
            "ed": report.get_ed_status_display(), "beds": report.beds_deprogrammed,
            "surg": report.surgeries_deprogrammed, "transferred": report.patients_transferred,
            "lab": _("on paper") if report.lab_on_paper else _("running"),
            "img": _("on paper") if report.imaging_on_paper else _("running"),
            "next": timezone.localtime(next_at).strftime("%d/%m %H:%M"),
        }
        if needs:
            summary += " " + _("Needs: %(needs)s") % {"needs": needs}
        actor_user = actor if getattr(actor, "is_authenticated", False) else SYSTEM_ACTOR
        logbook_record_event(crisis=crisis, author_label=_label(actor), text=summary,
                             kind=EntryKind.INFORMATION, actor=actor_user)
        regional = open_regional_crisis(region_id=establishment.region_id, is_exercise=crisis.is_exercise)
        if regional:
            logbook_record_event(crisis=regional.crisis, author_label=_label(actor),
                                 text=f"{establishment.name} — {summary}", kind=EntryKind.INFORMATION,
                                 actor=actor_user)
    return report


# Regional crisis cell -------------------------------------------------------------------


def _cell_log(crisis: Crisis, actor: Actor, kind: str, text: str) -> None:
    logbook_record_event(crisis=crisis, author_label=_label(actor), text=text, kind=kind,
                         actor=actor if getattr(actor, "is_authenticated", False) else SYSTEM_ACTOR)


def _require_regional(actor: Actor, region: Region) -> None:
    _require(rights.may_run_regional_cell(actor, region.pk))


def regional_crisis_open(
    *, actor: Actor, region: Region, title: str, is_exercise: bool = False, report_every_hours: int = 4,
    link: Iterable[Crisis] = (),
) -> RegionalCrisis:
    """Open the regional crisis cell: a region-owned crisis whose logbook, decisions and
    tasks are the crisis console's; the establishment crises given are linked."""
    _require_regional(actor, region)
    title = (title or "").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("Give the regional crisis a title.")]
    elif len(title) > 200:
        errors["title"] = [_("At most %(max)d characters.") % {"max": 200}]
    if not 1 <= int(report_every_hours or 0) <= 24:
        errors["report_every_hours"] = [_("Between 1 and 24 hours.")]
    if open_regional_crisis(region_id=region.pk, is_exercise=is_exercise):
        errors["__all__"] = [_("A regional crisis is already open in this region.")]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        crisis = Crisis.objects.create(
            establishment=None, region=region, kind=CrisisKind.UNKNOWN, severity=Severity.MAJOR,
            first_facts=title, is_exercise=is_exercise, declared_at=now,
            declared_by=actor if getattr(actor, "is_authenticated", False) else None,
            declared_by_label=_label(actor),
        )
        regional = RegionalCrisis.objects.create(
            region=region, crisis=crisis, title=title, is_exercise=is_exercise,
            report_every_hours=report_every_hours, opened_at=now, opened_by_label=_label(actor),
        )
        _cell_log(crisis, actor, EntryKind.EVENT, _("Regional crisis cell opened: %(title)s") % {"title": title})
        audit_record(actor=actor, action="mutual_aid.regional_open", obj=regional,
                     changes={"region": region.pk, "is_exercise": is_exercise})
    for item in link:
        regional_crisis_link(actor=actor, regional=regional, crisis=item)
    return regional


def regional_crisis_link(*, actor: Actor, regional: RegionalCrisis, crisis: Crisis) -> bool:
    """Link an establishment crisis of the region (exercises stay with exercises)."""
    _require_regional(actor, regional.region)
    if crisis.establishment_id is None or crisis.establishment.region_id != regional.region_id:
        raise ValidationError(_("Only a crisis of an establishment of the region can be linked."))
    if crisis.is_exercise != regional.is_exercise:
        raise ValidationError(_("Exercises and real crises are kept apart."))
    with transaction.atomic():
        _link, created = RegionalLink.objects.get_or_create(regional_crisis=regional, crisis=crisis)
        if created:
            _cell_log(regional.crisis, actor, EntryKind.INFORMATION, _("Crisis of %(who)s linked (declared %(when)s).") % {
                        "who": crisis.establishment.name,
                        "when": timezone.localtime(crisis.declared_at).strftime("%d/%m %H:%M")})
            audit_record(actor=actor, action="mutual_aid.regional_link", obj=regional,
                         establishment=crisis.establishment, changes={"crisis": crisis.pk})
    return created


def regional_crisis_link_all(*, actor: Actor, regional: RegionalCrisis) -> int:
    crises = Crisis.objects.filter(
        establishment__region=regional.region, status=CrisisStatus.ACTIVE, is_exercise=regional.is_exercise
    ).exclude(pk__in=RegionalLink.objects.filter(regional_crisis=regional).values("crisis_id")).select_related(
        "establishment")
    return sum(regional_crisis_link(actor=actor, regional=regional, crisis=crisis) for crisis in crises)


def regional_alert_send(*, actor: Actor, regional: RegionalCrisis, message: str) -> AidAlert:
    """A regional alert from the board to the crisis cells of the linked establishments."""
    _require_regional(actor, regional.region)
    message = (message or "").strip()
    if not message:
        raise ValidationError({"message": [_("Write the message.")]})
    if len(message) > 1000:
        raise ValidationError({"message": [_("At most %(max)d characters.") % {"max": 1000}]})
    establishment_ids = RegionalLink.objects.filter(regional_crisis=regional).values("crisis__establishment_id")
    people = list(Person.objects.filter(
        memberships__establishment_id__in=establishment_ids,
        memberships__function__in=("director", "deputy_director", "ciso", "crisis_cell", "on_call_manager"),
    ).distinct())
    with transaction.atomic():
        alert = _alert(region=regional.region, request=None, purpose=AlertPurpose.REGIONAL, people=people,
                       audience=_("crisis cells of the linked establishments"), is_exercise=regional.is_exercise,
                       title=regional.title, message=message, regional_crisis=regional)
        _cell_log(regional.crisis, actor, EntryKind.COMMUNICATION, _("Regional alert to %(count)d people: %(message)s") % {"count": len(people), "message": message})
        audit_record(actor=actor, action="mutual_aid.regional_alert", obj=regional,
                     changes={"recipients": len(people)})
    return alert


def responder_route_save(*, actor: Actor, region: Region, group: Group | None, rotation: Any,
                         answer_within_minutes: int) -> ResponderRoute:
    """Which on-call rotation answers for the group or the region, and how fast."""
    if group is not None:
        _require(may_offer_for(actor=actor, level=OwnerLevel.GROUP, group=group))
    else:
        _require_regional(actor, region)
    if rotation is not None and rotation.establishment.region_id != region.pk:
        raise ValidationError({"rotation": [_("Choose a rotation of the region.")]})
    if not 5 <= int(answer_within_minutes) <= 24 * 60:
        raise ValidationError({"answer_within_minutes": [_("Between 5 minutes and 24 hours.")]})
    with transaction.atomic():
        route, _created = ResponderRoute.objects.update_or_create(
            region=region, group=group,
            defaults={"rotation": rotation, "answer_within_minutes": answer_within_minutes},
        )
        audit_record(actor=actor, action="mutual_aid.route_save", obj=route,
                     changes={"rotation": rotation.pk if rotation else None, "minutes": answer_within_minutes})
    return route


def open_request_statuses() -> tuple[str, ...]:
    return tuple(str(s) for s in OPEN_REQUEST_STATUSES)
