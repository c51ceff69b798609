"""OASIS EDXL-RM 1.0 (Resource Messaging) export and import of help requests and offers,
and the hospital status in EDXL-HAVE.

EDXL-RM: message roots and their children in `urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg`,
the common types (ValueListURN, Value, IncidentID, IncidentDescription) in
`urn:oasis:names:tc:emergency:EDXL:RM:1.0`, as in the 2008-01-26 schemas. Top-level
elements in the schemas' order: MessageID, SentDateTime (with an explicit offset, never
`Z`), MessageContentType, MessageDescription, OriginatingMessageID, PrecedingMessageID,
IncidentInformation, ContactInformation, ResourceInformation.

Import reads a bounded document with lxml, entities unresolved, no network, no DTD.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

RM = "urn:oasis:names:tc:emergency:EDXL:RM:1.0"
MSG = "urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"
NSMAP = {None: MSG, "rm": RM}
VALUE_LIST_KIND = "urn:planblanc:mutual-aid:resource-kind"
VALUE_LIST_URGENCY = "urn:planblanc:mutual-aid:urgency"
VALUE_LIST_DEPLOYMENT = "urn:planblanc:mutual-aid:deployment-status"

MESSAGE_TYPES = (
    "RequestResource", "ResponseToRequestResource", "RequisitionResource", "CommitResource",
    "RequestInformation", "ResponseToRequestInformation", "OfferUnsolicitedResource", "ReleaseResource",
    "RequestReturn", "ResponseToRequestReturn", "RequestQuote", "ResponseToRequestQuote",
    "RequestResourceDeploymentStatus", "ReportResourceDeploymentStatus", "RequestExtendedDeploymentDuration",
    "ResponseToRequestExtendedDeploymentDuration",
)
EXPORTED_TYPES = ("RequestResource", "ResponseToRequestResource", "CommitResource", "RequestReturn",
                  "ReportResourceDeploymentStatus")
# Where PrecedingMessageID is required (CommitResource, ResponseTo*) or absent.
PRECEDING_REQUIRED = ("CommitResource", "ResponseToRequestResource")
PRECEDING_ABSENT = ("RequestResource", "OfferUnsolicitedResource")

MAX_IMPORT_BYTES = 256 * 1024
FINESS_RE = re.compile(r"FINESS\s*(\d[0-9AB]\d{7})")


def _q(name: str, ns: str = MSG) -> str:
    return f"{{{ns}}}{name}"


def _sub(parent: Any, name: str, text: str | None = None, ns: str = MSG) -> Any:
    element = etree.SubElement(parent, _q(name, ns))
    if text is not None:
        element.text = str(text)
    return element


def rm_datetime(moment: datetime.datetime) -> str:
    """xsd:dateTime with an explicit numeric offset (the standard forbids `Z`)."""
    local = timezone.localtime(moment).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "+00:00" if text.endswith("Z") else text


def _value_list(parent: Any, name: str, urn: str, values: list[str]) -> Any:
    element = _sub(parent, name)
    _sub(element, "ValueListURN", urn, RM)
    for value in values:
        _sub(element, "Value", value, RM)
    return element


def _contact(root: Any, *, role: str, description: str) -> None:
    contact = _sub(root, "ContactInformation")
    _sub(contact, "ContactDescription", description)
    _sub(contact, "ContactRole", role)


def _establishment_label(establishment: Any) -> str:
    return f"{establishment.name} — FINESS {establishment.finess}"


def _header(message_type: str, *, message_id: str, originating: str, preceding: str | None,
            description: str, incident: Any = None, sent_at: datetime.datetime | None = None) -> Any:
    root = etree.Element(_q(message_type), nsmap=NSMAP)
    _sub(root, "MessageID", message_id)
    _sub(root, "SentDateTime", rm_datetime(sent_at or timezone.now()))
    _sub(root, "MessageContentType", message_type)
    _sub(root, "MessageDescription", description[:1000])
    _sub(root, "OriginatingMessageID", originating)
    if preceding is not None:
        _sub(root, "PrecedingMessageID", preceding)
    if incident is not None:
        info = _sub(root, "IncidentInformation")
        _sub(info, "IncidentID", f"crisis-{incident.pk}", RM)
        _sub(info, "IncidentDescription", str(incident.first_facts)[:500], RM)
    return root


def _resource(parent: Any, *, name: str, kind: str, description: str = "") -> Any:
    resource = _sub(parent, "Resource")
    _sub(resource, "Name", name)
    _value_list(resource, "TypeStructure", VALUE_LIST_KIND, [kind])
    if description:
        _sub(resource, "Description", description[:2000])
    return resource


def _quantity(parent: Any, amount: int, *, restrictions: str = "") -> Any:
    assignment = _sub(parent, "AssignmentInformation")
    quantity = _sub(assignment, "Quantity")
    measured = _sub(quantity, "MeasuredQuantity")
    _sub(measured, "Amount", str(amount))
    if restrictions:
        _sub(assignment, "Restrictions", restrictions[:300])
    return assignment


def _schedule(parent: Any, schedule_type: str, moment: datetime.datetime | None = None,
              location: str = "") -> None:
    schedule = _sub(parent, "ScheduleInformation")
    _sub(schedule, "ScheduleType", schedule_type)
    if moment is not None:
        _sub(schedule, "DateTime", rm_datetime(moment))
    if location:
        place = _sub(schedule, "Location")
        _sub(place, "LocationDescription", location[:300])


def _serialise(root: Any) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def request_to_xml(request: Any) -> bytes:
    """RequestResource: what, how many, how urgent, where to deliver, until when."""
    root = _header("RequestResource", message_id=request.message_id, originating=request.message_id,
                   preceding=None, description=request.details or request.what, incident=request.crisis,
                   sent_at=request.created_at)
    _contact(root, role="Requester", description=_establishment_label(request.requester))
    info = _sub(root, "ResourceInformation")
    _sub(info, "ResourceInfoElementID", "1")
    resource = _resource(info, name=request.what, kind=request.kind, description=request.details)
    _value_list(resource, "Keyword", VALUE_LIST_URGENCY, [request.urgency])
    _quantity(info, request.quantity)
    _schedule(info, "RequestedArrival", request.created_at, request.deliver_to)
    if request.needed_until:
        _schedule(info, "EstimatedReturnDeparture", request.needed_until)
    return _serialise(root)


def _offer_message(offer: Any, message_type: str, *, preceding: str, message_id: str,
                   response_type: str | None = None, schedule: tuple[str, datetime.datetime | None] | None = None,
                   deployment: str = "") -> bytes:
    request = offer.request
    root = _header(message_type, message_id=message_id, originating=request.message_id, preceding=preceding,
                   description=f"{offer.quantity} × {offer.what} — {offer.offerer_label}", incident=request.crisis)
    role = "Requester" if message_type == "RequestReturn" else "RespondingOrg"
    who = _establishment_label(request.requester) if role == "Requester" else offer.offerer_label
    _contact(root, role=role, description=who)
    info = _sub(root, "ResourceInformation")
    _sub(info, "ResourceInfoElementID", "1")
    if response_type:
        response = _sub(info, "ResponseInformation")
        _sub(response, "PrecedingResourceInfoElementID", "1")
        _sub(response, "ResponseType", response_type)
    resource = _resource(info, name=offer.what, kind=request.kind)
    if deployment:
        status = _sub(resource, "ResourceStatus")
        _value_list(status, "DeploymentStatus", VALUE_LIST_DEPLOYMENT, [deployment])
    _quantity(info, offer.quantity, restrictions=offer.conditions)
    if schedule is not None:
        _schedule(info, schedule[0], schedule[1], request.deliver_to)
    return _serialise(root)


def offer_to_xml(offer: Any, message_type: str = "ResponseToRequestResource") -> bytes:
    """An offer and its later steps: ResponseToRequestResource (the offer),
    CommitResource (accepted), ReportResourceDeploymentStatus (delivered or returned),
    RequestReturn (the requester gives it back)."""
    if message_type == "ResponseToRequestResource":
        return _offer_message(offer, message_type, preceding=offer.request.message_id, message_id=offer.message_id,
                              response_type="Accept", schedule=("EstimatedArrival", offer.arrives_at))
    if message_type == "CommitResource":
        return _offer_message(offer, message_type, preceding=offer.message_id, message_id=f"{offer.message_id}-commit",
                              response_type="Accept", schedule=("Committed", offer.accepted_at))
    if message_type == "ReportResourceDeploymentStatus":
        status = {"delivered": "Deployed", "returned": "Returned"}.get(offer.status, "Committed")
        moment = offer.returned_at or offer.delivered_at or offer.accepted_at
        return _offer_message(offer, message_type, preceding=f"{offer.message_id}-commit",
                              message_id=f"{offer.message_id}-status-{offer.status}", deployment=status,
                              schedule=("Current", moment))
    if message_type == "RequestReturn":
        return _offer_message(offer, message_type, preceding=f"{offer.message_id}-commit",
                              message_id=f"{offer.message_id}-return",
                              schedule=("RequestedReturnDeparture", offer.returned_at or timezone.now()))
    raise ValueError(message_type)


def offer_message_types(offer: Any) -> list[str]:
    """The messages that exist for this offer so far."""
    types = ["ResponseToRequestResource"]
    if offer.accepted_at:
        types.append("CommitResource")
    if offer.delivered_at:
        types.append("ReportResourceDeploymentStatus")
    if offer.delivered_at:
        types.append("RequestReturn")
    return types


# Import --------------------------------------------------------------------------------


@dataclass
class ParsedMessage:
    message_type: str
    message_id: str
    originating_id: str
    preceding_id: str
    sent_at: datetime.datetime | None
    contact_role: str
    contact: str
    finess: str
    name: str
    kind: str
    urgency: str
    quantity: int | None
    description: str
    location: str
    requested_arrival: datetime.datetime | None
    until: datetime.datetime | None
    restrictions: str


def _bad(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


def _parse_dt(text: str) -> datetime.datetime | None:
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise _bad(_("A date in the message is not a valid date and time: %(text)s") % {"text": text[:40]}) from None
    if timezone.is_naive(value):
        raise _bad(_("A date in the message has no time zone offset: %(text)s") % {"text": text[:40]})
    return value


def parse_message(content: bytes) -> ParsedMessage:
    """Read one EDXL-RM RequestResource or ResponseToRequestResource; any other input is a
    ValidationError saying what is wrong, in bounded time and memory."""
    if len(content) > MAX_IMPORT_BYTES:
        raise _bad(_("The file is larger than %(size)d KB.") % {"size": MAX_IMPORT_BYTES // 1024})
    if not content.strip():
        raise _bad(_("The file is empty."))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise _bad(_("This is not well-formed XML: %(error)s") % {"error": str(exc)[:200]}) from None
    if root.getroottree().docinfo.doctype:
        raise _bad(_("A document type declaration (DTD) is not accepted."))
    if etree.QName(root).namespace != MSG:
        raise _bad(_("This is not an EDXL-RM 1.0 message (namespace %(ns)s expected).") % {"ns": MSG})
    message_type = etree.QName(root).localname
    if message_type not in MESSAGE_TYPES:
        raise _bad(_("Unknown EDXL-RM message: %(name)s.") % {"name": message_type[:60]})
    if message_type not in ("RequestResource", "ResponseToRequestResource"):
        raise _bad(_("Only RequestResource and ResponseToRequestResource messages can be imported."))

    def text(path: str, element: Any = root) -> str:
        found = element.find(path, {"m": MSG, "rm": RM})
        return (found.text or "").strip() if found is not None else ""

    content_type = text("m:MessageContentType")
    if content_type != message_type:
        raise _bad(_("MessageContentType (%(ct)s) does not match the message (%(root)s).") % {
            "ct": content_type[:60], "root": message_type})
    message_id = text("m:MessageID")
    if not message_id or len(message_id) > 100:
        raise _bad(_("The message has no MessageID (or one longer than 100 characters)."))
    preceding = text("m:PrecedingMessageID")
    if message_type in PRECEDING_REQUIRED and not preceding:
        raise _bad(_("This message must name the message it answers (PrecedingMessageID)."))
    info = root.find("m:ResourceInformation", {"m": MSG})
    if info is None:
        raise _bad(_("The message has no ResourceInformation."))
    amount = text("m:AssignmentInformation/m:Quantity/m:MeasuredQuantity/m:Amount", info)
    try:
        quantity = int(float(amount)) if amount else None
    except ValueError:
        raise _bad(_("The quantity is not a number: %(text)s") % {"text": amount[:20]}) from None
    schedules = {text("m:ScheduleType", item): item for item in info.findall("m:ScheduleInformation", {"m": MSG})}
    arrival = next((schedules[t] for t in ("RequestedArrival", "EstimatedArrival") if t in schedules), None)
    until = next((schedules[t] for t in ("EstimatedReturnDeparture", "RequestedReturnDeparture") if t in schedules),
                 None)
    contact = text("m:ContactInformation/m:ContactDescription")
    finess = FINESS_RE.search(contact)
    keywords = [v.text or "" for v in info.findall("m:Resource/m:Keyword/rm:Value", {"m": MSG, "rm": RM})]
    return ParsedMessage(
        message_type=message_type, message_id=message_id, originating_id=text("m:OriginatingMessageID"),
        preceding_id=preceding, sent_at=_parse_dt(text("m:SentDateTime")),
        contact_role=text("m:ContactInformation/m:ContactRole"), contact=contact,
        finess=finess.group(1) if finess else "", name=text("m:Resource/m:Name", info),
        kind=text("m:Resource/m:TypeStructure/rm:Value", info), urgency=keywords[0] if keywords else "",
        quantity=quantity, description=text("m:Resource/m:Description", info),
        location=text("m:Location/m:LocationDescription", arrival) if arrival is not None else "",
        requested_arrival=_parse_dt(text("m:DateTime", arrival)) if arrival is not None else None,
        until=_parse_dt(text("m:DateTime", until)) if until is not None else None,
        restrictions=text("m:AssignmentInformation/m:Restrictions", info),
    )


# EDXL-HAVE -------------------------------------------------------------------------------

HAVE = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"
ED_TRAFFIC = {"open": "Normal", "restricted": "Advisory", "diverted": "Closed"}


def hospital_status_xml(reports: list[Any]) -> bytes:
    """The hospital status of establishments (their last situation reports) in the
    EDXL-HAVE element structure (HospitalStatus/Hospital/Organization,
    EmergencyDepartmentStatus/EMSTraffic/EMSTrafficStatus, HospitalBedCapacityStatus,
    HospitalFacilityStatus, LastUpdateTime) and its code lists."""
    root = etree.Element(f"{{{HAVE}}}HospitalStatus", nsmap={"have": HAVE})

    def sub(parent: Any, name: str, value: str | None = None) -> Any:
        element = etree.SubElement(parent, f"{{{HAVE}}}{name}")
        if value is not None:
            element.text = value
        return element

    for report in reports:
        hospital = sub(root, "Hospital")
        organization = sub(hospital, "Organization")
        information = sub(organization, "OrganizationInformation")
        sub(information, "OrganizationName", report.establishment.name)
        sub(information, "OrganizationID", report.establishment.finess)
        ed = sub(hospital, "EmergencyDepartmentStatus")
        traffic = sub(ed, "EMSTraffic")
        sub(traffic, "EMSTrafficStatus", ED_TRAFFIC[report.ed_status])
        if report.ed_status != "open":
            sub(traffic, "EMSTrafficReason", "Cyberattaque : mode dégradé")
        sub(ed, "CommentText", (
            f"Patients transférés : {report.patients_transferred}. "
            f"Biologie : {'papier' if report.lab_on_paper else 'informatisée'}. "
            f"Imagerie : {'papier' if report.imaging_on_paper else 'informatisée'}."
        ))
        beds = sub(hospital, "HospitalBedCapacityStatus")
        for bed_type, count in (("MedicalSurgical", report.beds_deprogrammed),
                                ("OperatingRooms", report.surgeries_deprogrammed)):
            capacity = sub(beds, "BedCapacity")
            sub(capacity, "BedType", bed_type)
            sub(capacity, "CapacityStatus", "NotAvailable" if count else "VacantAvailable")
            if count:
                sub(capacity, "AvailableCount", "0")
            sub(capacity, "CommentText", f"{count} déprogrammé(s)")
        facility = sub(hospital, "HospitalFacilityStatus")
        sub(facility, "FacilityStatus", "Compromised")
        sub(facility, "ClinicalStatus", "Level2" if report.ed_status == "diverted" else "Level1")
        if report.needs:
            sub(hospital, "CommentText", report.needs[:1000])
        sub(hospital, "LastUpdateTime", rm_datetime(report.at))
    return _serialise(root)
