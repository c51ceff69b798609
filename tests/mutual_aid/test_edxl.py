"""EDXL-RM 1.0: the messages carry the standard's message types and elements in the
schemas' order; a request exported then imported is the same request; hostile or
malformed files are refused with a clear message, in bounded time."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from lxml import etree

from planblanc.mutual_aid import edxl, services
from planblanc.mutual_aid.models import AidOffer, HelpRequest, SituationReport
from tests.mutual_aid.conftest import request_data

# REFERENCES.md §1: the 16 reserved message types and the top-level elements in order.
RM_MESSAGE_TYPES = {
    "RequestResource", "ResponseToRequestResource", "RequisitionResource", "CommitResource", "RequestInformation",
    "ResponseToRequestInformation", "OfferUnsolicitedResource", "ReleaseResource", "RequestReturn",
    "ResponseToRequestReturn", "RequestQuote", "ResponseToRequestQuote", "RequestResourceDeploymentStatus",
    "ReportResourceDeploymentStatus", "RequestExtendedDeploymentDuration",
    "ResponseToRequestExtendedDeploymentDuration",
}
TOP_LEVEL_ORDER = ["MessageID", "SentDateTime", "MessageContentType", "MessageDescription", "OriginatingMessageID",
                   "PrecedingMessageID", "IncidentInformation", "MessageRecall", "Funding", "ContactInformation",
                   "ResourceInformation"]
RESOURCE_INFORMATION_CHILDREN = {"ResourceInfoElementID", "ResponseInformation", "Resource", "AssignmentInformation",
                                 "ScheduleInformation"}
SCHEDULE_TYPES = {"RequestedArrival", "EstimatedArrival", "ActualArrival", "RequestedDeparture", "EstimatedDeparture",
                  "ActualDeparture", "EstimatedReturnDeparture", "EstimatedReturnArrival", "ActualReturnArrival",
                  "RequestedReturnDeparture", "RequestedReturnArrival", "ActualReturnDeparture", "BeginAvailable",
                  "EndAvailable", "Committed", "Current", "ReportTo", "Route"}
REQUEST_SCHEDULES = {"RequestedArrival", "RequestedDeparture", "EstimatedReturnDeparture", "EstimatedReturnArrival",
                     "ReportTo", "Route"}
CONTACT_ROLES = {"Sender", "Requester", "SubjectMatterExpert", "Approver", "RespondingOrg", "Owner"}
MSG = "urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"
RM = "urn:oasis:names:tc:emergency:EDXL:RM:1.0"


def local(element):
    return etree.QName(element).localname


def check_message(xml: bytes, message_type: str) -> etree._Element:
    root = etree.fromstring(xml)
    assert etree.QName(root).namespace == MSG
    assert local(root) == message_type and message_type in RM_MESSAGE_TYPES
    names = [local(child) for child in root]
    assert set(names) <= set(TOP_LEVEL_ORDER)
    assert names == sorted(names, key=TOP_LEVEL_ORDER.index), names
    for required in ("MessageID", "SentDateTime", "MessageContentType", "OriginatingMessageID",
                     "ContactInformation", "ResourceInformation"):
        assert required in names
    assert root.findtext(f"{{{MSG}}}MessageContentType") == message_type
    sent = root.findtext(f"{{{MSG}}}SentDateTime")
    assert not sent.endswith("Z") and sent[-6] in "+-"  # explicit numeric offset
    if message_type in ("CommitResource", "ResponseToRequestResource"):
        assert "PrecedingMessageID" in names
    if message_type == "RequestResource":
        assert "PrecedingMessageID" not in names
    for role in root.iterfind(f"{{{MSG}}}ContactInformation/{{{MSG}}}ContactRole"):
        assert role.text in CONTACT_ROLES
    for info in root.iterfind(f"{{{MSG}}}ResourceInformation"):
        assert {local(c) for c in info} <= RESOURCE_INFORMATION_CHILDREN
        assert info.findtext(f"{{{MSG}}}ResourceInfoElementID")
        for schedule in info.iterfind(f"{{{MSG}}}ScheduleInformation/{{{MSG}}}ScheduleType"):
            assert schedule.text in SCHEDULE_TYPES
            if message_type == "RequestResource":
                assert schedule.text in REQUEST_SCHEDULES
        for value_list in info.iterfind(f".//{{{MSG}}}TypeStructure"):
            assert value_list.findtext(f"{{{RM}}}ValueListURN") and value_list.findtext(f"{{{RM}}}Value")
        response = info.find(f"{{{MSG}}}ResponseInformation")
        if response is not None:
            assert response.findtext(f"{{{MSG}}}ResponseType") in {"Accept", "Decline", "Provisional"}
    return root


def test_it_exports_every_step_as_its_edxl_rm_message(aid):
    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data(
        needed_until=timezone.now() + datetime.timedelta(days=10)))
    root = check_message(edxl.request_to_xml(request), "RequestResource")
    assert root.findtext(f"{{{MSG}}}OriginatingMessageID") == request.message_id
    assert root.findtext(f".//{{{RM}}}IncidentID") == f"crisis-{aid.crisis.pk}"
    offer = services.aid_offer_create(actor=w.group_ciso, request=request, level="group",
                                      data={"quantity": 12, "conditions": "prêt"})
    response = check_message(edxl.offer_to_xml(offer), "ResponseToRequestResource")
    assert response.findtext(f"{{{MSG}}}PrecedingMessageID") == request.message_id
    assert response.findtext(f"{{{MSG}}}OriginatingMessageID") == request.message_id
    services.aid_offer_accept(actor=w.crisis_member, offer=offer)
    commit = check_message(edxl.offer_to_xml(offer, "CommitResource"), "CommitResource")
    assert commit.findtext(f"{{{MSG}}}PrecedingMessageID") == offer.message_id
    services.aid_offer_mark_delivered(actor=w.group_ciso, offer=offer)
    status = check_message(edxl.offer_to_xml(offer, "ReportResourceDeploymentStatus"),
                           "ReportResourceDeploymentStatus")
    assert status.findtext(f".//{{{MSG}}}DeploymentStatus/{{{RM}}}Value") == "Deployed"
    check_message(edxl.offer_to_xml(offer, "RequestReturn"), "RequestReturn")
    assert set(edxl.offer_message_types(offer)) <= set(edxl.EXPORTED_TYPES)
    assert set(edxl.EXPORTED_TYPES) <= RM_MESSAGE_TYPES and set(edxl.MESSAGE_TYPES) == RM_MESSAGE_TYPES


def test_a_request_round_trips(aid):
    """Export, import (as received by mail), same request."""
    w = aid.world
    until = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    original = HelpRequest(
        requester=w.chu, region=w.region_a, target_kind="group", target_group=w.group_a, kind="people",
        what="Intervenant réponse à incident", quantity=2, urgency="immediate", deliver_to="CHU A, PC crise",
        needed_until=until, details="Analyse forensique", created_by_label="x",
    )
    xml = edxl.request_to_xml(original)
    imported = services.edxl_import(actor=w.group_ciso, content=xml)
    assert isinstance(imported, HelpRequest)
    for name in ("message_id", "requester", "kind", "what", "quantity", "urgency", "deliver_to", "needed_until",
                 "details", "target_kind", "target_group"):
        assert getattr(imported, name) == getattr(original, name), name
    assert edxl.request_to_xml(imported).replace(b"\n", b"").split(b"<SentDateTime>")[0] == \
        xml.replace(b"\n", b"").split(b"<SentDateTime>")[0]
    with pytest.raises(ValidationError, match="already recorded"):
        services.edxl_import(actor=w.group_ciso, content=xml)


def test_an_offer_received_by_mail_is_imported_on_its_request(aid):
    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    offer = AidOffer(request=request, level="region", offerer_label="ARS", what="PC autonomes", quantity=8,
                     conditions="sans frais", arrives_at=timezone.now().replace(microsecond=0))
    imported = services.edxl_import(actor=w.regional_officer, content=edxl.offer_to_xml(offer))
    assert (imported.request, imported.quantity, imported.conditions, imported.message_id, imported.level) == (
        request, 8, "sans frais", offer.message_id, "group")  # the officer acts first for the group of the region


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"<a>", "not well-formed"),
    (b"<x xmlns='urn:other'/>", "not an EDXL-RM"),
    (b"<Foo xmlns='urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg'/>", "Unknown EDXL-RM message"),
    (b"<RequestQuote xmlns='urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg'/>", "Only RequestResource"),
    (b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
     b"<RequestResource xmlns='urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg'>&e;</RequestResource>", "DTD"),
    (b"<RequestResource xmlns='urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg'>" + b"x" * 300_000
     + b"</RequestResource>", "larger than"),
])
def test_it_refuses_bad_or_hostile_files_with_a_message(aid, content, message):
    with pytest.raises(ValidationError, match=message):
        services.edxl_import(actor=aid.world.group_ciso, content=content)


def test_billion_laughs_costs_nothing(aid):
    bomb = (b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
            + b"".join(b"<!ENTITY lol%d '%s'>" % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10)
                       for i in range(1, 10))
            + b"]><RequestResource xmlns='urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg'>&lol9;</RequestResource>")
    with pytest.raises(ValidationError):
        edxl.parse_message(bomb)


def test_it_exports_the_hospital_status(aid):
    w = aid.world
    report = services.situation_report_create(actor=w.crisis_member, crisis=aid.crisis, data={
        "ed_status": "diverted", "beds_deprogrammed": 40, "surgeries_deprogrammed": 12, "lab_on_paper": True,
        "patients_transferred": 6, "needs": "PC autonomes", "next_report_at": timezone.now() + datetime.timedelta(hours=4),
    })
    root = etree.fromstring(edxl.hospital_status_xml([SituationReport.objects.get(pk=report.pk)]))
    have = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"
    assert local(root) == "HospitalStatus"
    hospital = root.find(f"{{{have}}}Hospital")
    assert hospital.find(f"{{{have}}}Organization") is not None and hospital.findtext(f"{{{have}}}LastUpdateTime")
    assert hospital.findtext(f".//{{{have}}}EMSTrafficStatus") == "Closed"
    assert {b.text for b in hospital.iterfind(f".//{{{have}}}BedType")} <= {
        "AdultICU", "Burn", "MedicalSurgical", "NegativeFlowIsolation", "OperatingRooms", "OtherIsolation",
        "PediatricICU", "Pediatrics", "Psychiatric"}
