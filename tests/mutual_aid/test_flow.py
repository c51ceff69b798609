"""A help request from the CHU in crisis to its group, through offers, the choice,
delivery and return: every step in both logbooks and the regional cell's, alerted
through the alerting engine, and the rights of each side."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from planblanc.alerting.models import Campaign
from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import LogbookEntry
from planblanc.mutual_aid import services
from planblanc.mutual_aid.models import AidAlert, HelpRequest, OfferStatus, RequestStatus
from tests.mutual_aid.conftest import declare, request_data


def test_it_runs_a_request_from_ask_to_return(aid):
    w = aid.world
    ch_crisis = declare(w.ch)
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    assert request.crisis == aid.crisis and request.target_group == w.group_a
    alert = AidAlert.objects.get(request=request, purpose="new_request")
    assert alert.campaign is not None and not alert.problem
    assert list(alert.campaign.recipients.values_list("person_id", flat=True)) == [aid.ciso_person.pk]

    ghtoffer = services.aid_offer_create(actor=w.group_ciso, request=request, level="group",
                                         data={"what": "PC autonomes", "quantity": 12, "conditions": "prêt 15 jours"})
    arsoffer = services.aid_offer_create(actor=w.regional_officer, request=request, level="region",
                                         data={"what": "PC autonomes", "quantity": 8})
    request.refresh_from_db()
    assert request.status == RequestStatus.OFFERED and request.first_offer_at is not None

    services.aid_offer_accept(actor=w.crisis_member, offer=ghtoffer)
    services.aid_offer_accept(actor=w.crisis_member, offer=arsoffer)
    accepted = AidAlert.objects.filter(request=request, purpose="accepted").order_by("pk")
    # Each offering side is told: the group's CISO, the region's officer.
    assert [list(a.campaign.recipients.values_list("person_id", flat=True)) for a in accepted] == [
        [aid.ciso_person.pk], [aid.officer_person.pk]]
    services.aid_offer_mark_delivered(actor=w.group_ciso, offer=ghtoffer)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMMITTED  # the region's 8 are still on the way
    services.aid_offer_mark_delivered(actor=w.crisis_member, offer=arsoffer)
    request.refresh_from_db()
    assert request.status == RequestStatus.DELIVERED
    services.aid_offer_mark_returned(actor=w.crisis_member, offer=ghtoffer)
    services.aid_offer_mark_returned(actor=w.regional_officer, offer=arsoffer)
    request.refresh_from_db()
    assert request.status == RequestStatus.RETURNED and request.closed_at

    chu_lines = list(LogbookEntry.objects.filter(crisis=aid.crisis).values_list("text", flat=True))
    regional_lines = list(LogbookEntry.objects.filter(crisis=aid.regional.crisis).values_list("text", flat=True))
    for lines in (chu_lines, regional_lines):
        text = "\n".join(lines)
        assert "help asked of GHT A" in text
        assert "GHT A offers 12 × PC autonomes (prêt 15 jours)" in text
        assert "accepted: 8 × PC autonomes" in text
        assert "delivered" in text and "returned to GHT A" in text
    # The CH is in crisis but neither asked nor offered as an establishment.
    assert not LogbookEntry.objects.filter(crisis=ch_crisis).exists()
    assert logbook_verify(aid.crisis, check_files=False).ok
    assert logbook_verify(aid.regional.crisis, check_files=False).ok


def test_it_writes_the_named_establishment_logbook_too(aid):
    w = aid.world
    ch_crisis = declare(w.ch)
    request = services.help_request_create(
        actor=w.crisis_member, requester=w.chu,
        data=request_data(target_kind="establishment", target_establishment=w.ch, what="Biologie", kind="service",
                          quantity=1))
    assert LogbookEntry.objects.filter(crisis=ch_crisis, text__contains="help asked of CH A").exists()
    assert request.target_establishment == w.ch


def test_it_refuses_the_wrong_side(aid):
    w = aid.world
    with pytest.raises(PermissionDenied):
        services.help_request_create(actor=w.group_ciso, requester=w.chu, data=request_data())
    with pytest.raises(PermissionDenied):
        services.help_request_create(actor=w.outsider_admin, requester=w.chu, data=request_data())
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    with pytest.raises(PermissionDenied):
        services.aid_offer_create(actor=w.outsider_admin, request=request, level="group", data={"quantity": 1})
    with pytest.raises(PermissionDenied):  # the group CISO does not speak for the region
        services.aid_offer_create(actor=w.group_ciso, request=request, level="region", data={"quantity": 1})
    offer = services.aid_offer_create(actor=w.group_ciso, request=request, level="group", data={"quantity": 3})
    with pytest.raises(PermissionDenied):  # only the requester chooses
        services.aid_offer_accept(actor=w.group_ciso, offer=offer)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OFFERED


def test_it_explains_bad_input_beside_each_field(aid):
    w = aid.world
    with pytest.raises(ValidationError) as caught:
        services.help_request_create(actor=w.crisis_member, requester=w.chu,
                                     data=request_data(what="", quantity=0, urgency="soon", target_kind="moon"))
    errors = caught.value.message_dict
    assert set(errors) >= {"what", "quantity", "urgency", "target_kind"}
    assert not HelpRequest.objects.exists()
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    with pytest.raises(ValidationError) as caught:
        services.aid_offer_create(actor=w.group_ciso, request=request, level="group", data={"quantity": 21})
    assert "quantity" in caught.value.message_dict


def test_it_records_an_alert_problem_instead_of_failing(aid):
    w = aid.world
    aid.ciso_person.user = None
    aid.ciso_person.save()
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    alert = AidAlert.objects.get(request=request)
    assert alert.campaign is None and "Nobody to alert" in alert.problem
    assert not Campaign.objects.exists()
