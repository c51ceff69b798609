"""Indicators of compromise (IOCs) of a crisis: IP addresses, domain names, URLs, file
hashes and email addresses, each with a traffic-light (TLP) level, exported as a STIX 2.1
bundle (OASIS) and as a MISP event, both marked with their TLP level. Every write and
export is written to the logbook and the audit."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.crisis.chain import nfc
from planblanc.crisis.models import Crisis, EntryKind, Indicator, IndicatorKind, StixIdentity, Tlp
from planblanc.crisis.notifications import export_record
from planblanc.crisis.services import logbook_append
from planblanc.tenancy import user_label

HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
STIX_HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)([a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-f]+$", re.IGNORECASE)

# TLP 2.0 marking definitions published by OASIS (cti-stix-common-objects, extension
# definition 60a3c5c5-…), so that a TLP:CLEAR or TLP:AMBER+STRICT indicator keeps its level.
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_MARKINGS = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_ORDER: list[str] = ["clear", "green", "amber", "amber+strict", "red"]
FIRST_IDENTITY = "identity--e50ab59c-5c4f-4d40-bf6a-d58418d89bcd"
# MISP organisation and event ids: a UUIDv5 of the FINESS number (MISP takes any UUID).
IDENTITY_NAMESPACE = uuid.UUID("9a3f1f8e-7a55-4c43-9f0a-5b4c1d6e2f10")

MISP_TYPES = {
    IndicatorKind.IPV4: ("ip-dst", "Network activity"),
    IndicatorKind.IPV6: ("ip-dst", "Network activity"),
    IndicatorKind.DOMAIN: ("domain", "Network activity"),
    IndicatorKind.URL: ("url", "Network activity"),
    IndicatorKind.EMAIL: ("email-src", "Payload delivery"),
}


# Validation ---------------------------------------------------------------------------------


def indicator_normalise(*, kind: str, value: str) -> tuple[str, str]:
    """(normalised value, hash algorithm) or ValidationError saying why the value does
    not match its type."""
    value = nfc(value or "").strip()
    if kind not in IndicatorKind.values:
        raise ValidationError({"kind": [_("Choose the type of indicator: IP address, domain, URL, file hash or "
                                          "email address.")]})
    if not value:
        raise ValidationError({"value": [_("Give the value of the indicator.")]})
    if len(value) > 2000:
        raise ValidationError({"value": [_("At most %(max)d characters.") % {"max": 2000}]})
    if kind in (IndicatorKind.IPV4, IndicatorKind.IPV6):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            address = None
        wanted = 4 if kind == IndicatorKind.IPV4 else 6
        if address is None or address.version != wanted:
            raise ValidationError({"value": [_("“%(value)s” is not an IPv%(version)d address.") % {
                "value": value, "version": wanted}]})
        return str(address), ""
    if kind == IndicatorKind.DOMAIN:
        domain = value.rstrip(".").lower()
        with contextlib.suppress(UnicodeError):
            domain = domain.encode("idna").decode("ascii")
        if not _DOMAIN.match(domain):
            raise ValidationError({"value": [_("“%(value)s” is not a domain name.") % {"value": value}]})
        return domain, ""
    if kind == IndicatorKind.URL:
        try:
            URLValidator(schemes=["http", "https", "ftp", "ftps"])(value)
        except ValidationError:
            raise ValidationError({"value": [_("“%(value)s” is not a URL (http://… or https://…).") % {
                "value": value}]}) from None
        return value, ""
    if kind == IndicatorKind.FILE_HASH:
        digest = value.lower()
        if not _HEX.match(digest) or len(digest) not in HASH_LENGTHS:
            raise ValidationError({"value": [_(
                "“%(value)s” is not a file hash: an MD5 (32), SHA-1 (40) or SHA-256 (64) hexadecimal digest is "
                "expected.") % {"value": value[:80]}]})
        return digest, HASH_LENGTHS[len(digest)]
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError({"value": [_("“%(value)s” is not an email address.") % {"value": value}]}) from None
    local, _at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}", ""


def _clean(kind: str, value: str, tlp: str, description: str) -> tuple[str, str, str]:
    if tlp not in Tlp.values:
        raise ValidationError({"tlp": [_("Choose the TLP level: CLEAR, GREEN, AMBER, AMBER+STRICT or RED.")]})
    description = nfc(description or "").strip()
    if len(description) > 1000:
        raise ValidationError({"description": [_("At most %(max)d characters.") % {"max": 1000}]})
    value, algorithm = indicator_normalise(kind=kind, value=value)
    return value, algorithm, description


def _duplicate() -> ValidationError:
    return ValidationError({"value": [_("This indicator is already recorded for this crisis.")]})


# Writes -----------------------------------------------------------------------------------


def indicator_create(
    *, actor: Actor, crisis: Crisis, kind: str, value: str, tlp: str = "amber", description: str = "",
) -> Indicator:
    rights.require_run_crisis(actor, crisis)
    value, algorithm, description = _clean(kind, value, tlp, description)
    if Indicator.objects.filter(crisis=crisis, kind=kind, value=value).exists():
        raise _duplicate()
    try:
        with transaction.atomic():
            indicator = Indicator.objects.create(
                crisis=crisis, kind=kind, value=value, hash_algorithm=algorithm, tlp=tlp, description=description,
                created_by_label=user_label(actor)[:200])
            logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.INFORMATION),
                           text=_("Indicator of compromise recorded: %(kind)s %(value)s (%(tlp)s)") % {
                               "kind": indicator.get_kind_display(), "value": value, "tlp": indicator.get_tlp_display()})
            audit_record(actor=actor, action="crisis.indicator_create", obj=indicator,
                         establishment=crisis.establishment, changes={"kind": kind, "value": value, "tlp": tlp})
    except IntegrityError:
        raise _duplicate() from None
    return indicator


def indicator_update(
    *, actor: Actor, indicator: Indicator, kind: str, value: str, tlp: str, description: str = "",
) -> Indicator:
    crisis = indicator.crisis
    rights.require_run_crisis(actor, crisis)
    value, algorithm, description = _clean(kind, value, tlp, description)
    if Indicator.objects.filter(crisis=crisis, kind=kind, value=value).exclude(pk=indicator.pk).exists():
        raise _duplicate()
    before = {"kind": indicator.kind, "value": indicator.value, "tlp": indicator.tlp,
              "description": indicator.description}
    after = {"kind": kind, "value": value, "tlp": tlp, "description": description}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return indicator
    with transaction.atomic():
        Indicator.objects.filter(pk=indicator.pk).update(
            kind=kind, value=value, hash_algorithm=algorithm, tlp=tlp, description=description,
            updated_at=timezone.now())
        indicator.refresh_from_db()
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.INFORMATION),
                       text=_("Indicator of compromise changed: %(kind)s %(value)s (%(tlp)s)") % {
                           "kind": indicator.get_kind_display(), "value": value, "tlp": indicator.get_tlp_display()})
        audit_record(actor=actor, action="crisis.indicator_update", obj=indicator,
                     establishment=crisis.establishment, changes=changes)
    return indicator


def indicator_delete(*, actor: Actor, indicator: Indicator) -> None:
    """Withdraw an indicator recorded by mistake; the logbook keeps the trace."""
    crisis = indicator.crisis
    rights.require_run_crisis(actor, crisis)
    with transaction.atomic():
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.INFORMATION),
                       text=_("Indicator of compromise withdrawn: %(kind)s %(value)s") % {
                           "kind": indicator.get_kind_display(), "value": indicator.value})
        audit_record(actor=actor, action="crisis.indicator_delete", obj=indicator,
                     establishment=crisis.establishment, changes={"kind": indicator.kind, "value": indicator.value})
        indicator.delete()


# Reads ------------------------------------------------------------------------------------


def indicators_of(*, crisis: Crisis) -> QuerySet[Indicator]:
    return Indicator.objects.filter(crisis=crisis).order_by("created_at", "id")


# STIX 2.1 ---------------------------------------------------------------------------------


def _stix_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def stix_pattern(indicator: Indicator) -> str:
    value = _quote(indicator.value)
    if indicator.kind == IndicatorKind.IPV4:
        return f"[ipv4-addr:value = '{value}']"
    if indicator.kind == IndicatorKind.IPV6:
        return f"[ipv6-addr:value = '{value}']"
    if indicator.kind == IndicatorKind.DOMAIN:
        return f"[domain-name:value = '{value}']"
    if indicator.kind == IndicatorKind.URL:
        return f"[url:value = '{value}']"
    if indicator.kind == IndicatorKind.FILE_HASH:
        return f"[file:hashes.'{STIX_HASH_NAMES[indicator.hash_algorithm]}' = '{value}']"
    return f"[email-addr:value = '{value}']"


def _tlp_marking(tlp: str) -> dict[str, Any]:
    """The OASIS TLP 2.0 marking definition object, as published."""
    level = Tlp(tlp)
    return {
        "type": "marking-definition", "spec_version": "2.1", "id": TLP_MARKINGS[level],
        "created": "2022-10-01T00:00:00.000Z", "name": str(level.label), "created_by_ref": FIRST_IDENTITY,
        "extensions": {TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level.value}},
    }


def stix_identity_uuid(*, establishment: Any) -> uuid.UUID:
    """The establishment's STIX identity id: a UUIDv4 drawn at its first export and kept
    (STIX 2.1 wants version 4 for domain objects; a stored one keeps re-exports stable)."""
    row, _created = StixIdentity.objects.get_or_create(establishment=establishment)
    return row.uuid


def stix_bundle(*, crisis: Crisis, indicators: list[Indicator] | None = None) -> str:
    """A STIX 2.1 bundle: the establishment's identity, one indicator per IOC with its
    pattern and TLP marking, the TLP marking definitions, and a report grouping them."""
    import stix2

    rows = indicators if indicators is not None else list(indicators_of(crisis=crisis))
    establishment = crisis.establishment
    identity = stix2.Identity(
        id=f"identity--{stix_identity_uuid(establishment=establishment)}",
        name=establishment.name, identity_class="organization", sectors=["healthcare"],
        created=_stix_time(crisis.declared_at), modified=_stix_time(crisis.declared_at),
    )
    objects: list[Any] = [identity]
    used: set[str] = set()
    for row in rows:
        used.add(row.tlp)
        objects.append(stix2.Indicator(
            id=f"indicator--{row.uuid}", created=_stix_time(row.created_at), modified=_stix_time(row.updated_at),
            name=f"{row.get_kind_display()}: {row.value}"[:250], description=row.description or f"{row.get_kind_display()} ({row.get_tlp_display()})",
            pattern=stix_pattern(row), pattern_type="stix", valid_from=_stix_time(row.created_at),
            indicator_types=["malicious-activity"], created_by_ref=identity.id,
            object_marking_refs=[TLP_MARKINGS[Tlp(row.tlp)]], allow_custom=False,
        ))
    # The report carries the most restrictive level of what it groups.
    report_tlp: str = max(used, key=lambda t: TLP_ORDER.index(Tlp(t))) if used else "clear"
    if rows:
        objects.append(stix2.Report(
            id=f"report--{crisis.stix_report_uuid}",
            name=f"{crisis.get_kind_display()} — {establishment.name}", report_types=["threat-report"],
            published=_stix_time(timezone.now()), created=_stix_time(crisis.declared_at),
            modified=_stix_time(timezone.now()), created_by_ref=identity.id,
            object_refs=[obj.id for obj in objects[1:]], object_marking_refs=[TLP_MARKINGS[Tlp(report_tlp)]],
        ))
    used.add(report_tlp)
    serialised = [json.loads(obj.serialize()) for obj in objects]
    serialised += [_tlp_marking(t) for t in TLP_ORDER if t in used]
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": serialised}
    return json.dumps(bundle, ensure_ascii=False, indent=1)


# MISP -------------------------------------------------------------------------------------


def _misp_tag(tlp: str) -> dict[str, str]:
    return {"name": f"tlp:{Tlp(tlp).value}"}


def misp_event(*, crisis: Crisis, indicators: list[Indicator] | None = None) -> str:
    """A MISP event (format 2.4) with one attribute per IOC, each tagged with its TLP
    level; the event carries the most restrictive level."""
    rows = indicators if indicators is not None else list(indicators_of(crisis=crisis))
    establishment = crisis.establishment
    org_uuid = str(uuid.uuid5(IDENTITY_NAMESPACE, str(establishment.finess)))
    levels = {row.tlp for row in rows} or {"clear"}
    event_tlp = max(levels, key=lambda t: TLP_ORDER.index(Tlp(t)))
    attributes = []
    for row in rows:
        if row.kind == IndicatorKind.FILE_HASH:
            misp_type, category = row.hash_algorithm, "Payload delivery"
        else:
            misp_type, category = MISP_TYPES[IndicatorKind(row.kind)]
        attributes.append({
            "uuid": str(row.uuid), "type": misp_type, "category": category, "value": row.value, "to_ids": True,
            "comment": row.description, "distribution": "5",
            "timestamp": str(int(row.updated_at.timestamp())), "Tag": [_misp_tag(row.tlp)],
        })
    event = {
        "Event": {
            "uuid": str(uuid.uuid5(IDENTITY_NAMESPACE, f"misp-crisis-{crisis.pk}-{establishment.finess}")),
            "info": f"{crisis.get_kind_display()} — {establishment.name}"
                    + (" [EXERCICE]" if crisis.is_exercise else ""),
            "date": timezone.localtime(crisis.declared_at).date().isoformat(),
            "threat_level_id": "1", "analysis": "1", "distribution": "0", "published": False,
            "timestamp": str(int(timezone.now().timestamp())),
            "Orgc": {"name": establishment.name, "uuid": org_uuid},
            "Tag": [_misp_tag(event_tlp)],
            "Attribute": attributes,
        }
    }
    return json.dumps(event, ensure_ascii=False, indent=1)


IOC_EXPORTS = {"stix": ("application/stix+json;version=2.1", "json"), "misp": ("application/json", "json")}


def indicators_export(*, actor: Actor, crisis: Crisis, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name); the export is logged."""
    if fmt not in IOC_EXPORTS:
        raise ValidationError(_("Unknown export format."))
    rows = list(indicators_of(crisis=crisis))
    text = stix_bundle(crisis=crisis, indicators=rows) if fmt == "stix" else misp_event(crisis=crisis,
                                                                                          indicators=rows)
    content = text.encode("utf-8")
    what = _("indicators of compromise, %(format)s") % {"format": "STIX 2.1" if fmt == "stix" else "MISP"}
    export_record(actor=actor, crisis=crisis, what=what, fmt=fmt, content=content,
                  action=f"crisis.indicators_export.{fmt}")
    content_type, extension = IOC_EXPORTS[fmt]
    return content, content_type, f"ioc-{fmt}-crise-{crisis.pk}.{extension}"
