"""Every mutual-aid route: an outsider (the clinic of region B) gets a 404 for the CHU's
objects, on GET and POST, and nothing changes; the pages answer for their own users."""

from __future__ import annotations

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, reverse
from django.utils import timezone

from planblanc.mutual_aid import edxl, services
from planblanc.mutual_aid.models import (
    AidOffer,
    HelpRequest,
    Resource,
    ResourceImport,
    SituationReport,
)
from tests.conftest import verified_client
from tests.mutual_aid.conftest import request_data

# Routes with no object of anyone in them: the outsider gets its own (empty) page.
OWN_PAGES = {"index", "catalogue", "resource_create", "catalogue_export", "catalogue_import", "edxl_import",
             "regional_list"}


def object_urls(aid, request, offer, resource, batch):
    return {
        "resource_edit": reverse("mutual_aid:resource_edit", args=[resource.pk]),
        "catalogue_import_preview": reverse("mutual_aid:catalogue_import_preview", args=[batch.pk]),
        "request_create": reverse("mutual_aid:request_create", args=[aid.crisis.pk]),
        "situation_report": reverse("mutual_aid:situation_report", args=[aid.crisis.pk]),
        "hospital_status": reverse("mutual_aid:hospital_status", args=[aid.crisis.pk]),
        "request_detail": reverse("mutual_aid:request_detail", args=[request.pk]),
        "request_cancel": reverse("mutual_aid:request_cancel", args=[request.pk]),
        "request_edxl": reverse("mutual_aid:request_edxl", args=[request.pk]),
        "offer_action": reverse("mutual_aid:offer_action", args=[offer.pk, "accept"]),
        "offer_edxl": reverse("mutual_aid:offer_edxl", args=[offer.pk, "ResponseToRequestResource"]),
        "regional_board": reverse("mutual_aid:regional_board", args=[aid.regional.pk]),
        "regional_link": reverse("mutual_aid:regional_link", args=[aid.regional.pk]),
        "regional_alert": reverse("mutual_aid:regional_alert", args=[aid.regional.pk]),
        "regional_logbook": reverse("mutual_aid:regional_logbook", args=[aid.regional.pk]),
    }


def state():
    return [list(model.objects.order_by("pk").values()) for model in
            (HelpRequest, AidOffer, Resource, SituationReport, ResourceImport)]


def test_every_route_is_a_404_for_an_outsider(aid):
    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data(what="Postes autonomes CHU"))
    offer = services.aid_offer_create(actor=w.group_ciso, request=request, level="group", data={"quantity": 5})
    resource = services.resource_create(actor=w.establishment_admin, level="establishment", owner=w.chu,
                                        data={"kind": "equipment", "name": "Routeur 4G CHU", "quantity": 2})
    batch = ResourceImport.objects.create(region=w.region_a, establishment=w.chu, uploaded_by=w.establishment_admin,
                                          filename="x.csv")
    services.situation_report_create(actor=w.crisis_member, crisis=aid.crisis, data={
        "ed_status": "open", "next_report_at": timezone.now() + datetime.timedelta(hours=2)})
    urls = object_urls(aid, request, offer, resource, batch)
    names = {p.name for p in get_resolver().url_patterns if getattr(p, "namespace", "") == "mutual_aid"
             for p in p.url_patterns}
    assert names == set(urls) | OWN_PAGES | {"responder_routes"}, "a new route must be added to this test"
    # Only a group or a region has an on-call route: an establishment's administrator has none.
    assert verified_client(w.outsider_admin).get(reverse("mutual_aid:responder_routes")).status_code == 404
    outsider = verified_client(w.outsider_admin)
    before = state()
    for name, url in urls.items():
        for method in ("get", "post"):
            response = getattr(outsider, method)(url, {"crisis": aid.crisis.pk, "message": "x", "confirm": "on"})
            # A POST-only route answers GET with 405 whoever asks (it says nothing of the object).
            post_only = name in ("request_cancel", "offer_action", "regional_link", "regional_alert")
            allowed = {404, 405} if method == "get" and post_only else {404}
            assert response.status_code in allowed, f"{method} {name}"
            assert "Routeur 4G CHU" not in response.content.decode() and "Postes autonomes CHU" not in response.content.decode()
    assert state() == before
    for name in OWN_PAGES:
        url = reverse(f"mutual_aid:{name}", args=["csv"] if name == "catalogue_export" else [])
        response = outsider.get(url)
        assert response.status_code == 200, name
        body = response.content.decode() if name != "catalogue_export" else b"".join(response.streaming_content).decode()
        assert "Routeur 4G CHU" not in body and "Postes autonomes CHU" not in body, name


def test_the_pages_answer_for_their_users(aid):
    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    ciso = verified_client(w.group_ciso)
    page = ciso.get(reverse("mutual_aid:request_detail", args=[request.pk]))
    assert page.status_code == 200 and page.context["offer_form"] is not None
    response = ciso.post(reverse("mutual_aid:request_detail", args=[request.pk]),
                         {"level": "group", "what": "PC autonomes", "quantity": "99"})
    assert response.status_code == 200 and "quantity" in response.context["offer_form"].errors
    response = ciso.post(reverse("mutual_aid:request_detail", args=[request.pk]),
                         {"level": "group", "what": "PC autonomes", "quantity": "12"})
    assert response.status_code == 302
    member = verified_client(w.crisis_member)
    offer = AidOffer.objects.get()
    assert member.post(reverse("mutual_aid:offer_action", args=[offer.pk, "accept"])).status_code == 302
    offer.refresh_from_db()
    assert offer.status == "accepted"
    xml = member.get(reverse("mutual_aid:offer_edxl", args=[offer.pk, "CommitResource"]))
    assert xml.status_code == 200 and b"<CommitResource" in xml.content
    upload = SimpleUploadedFile("m.xml", b"<not-xml", content_type="application/xml")
    response = ciso.post(reverse("mutual_aid:edxl_import"), {"file": upload})
    assert response.status_code == 200 and "file" in response.context["form"].errors
    officer = verified_client(w.regional_officer)
    response = officer.post(reverse("mutual_aid:regional_alert", args=[aid.regional.pk]), {"message": "Point à 14 h"})
    assert response.status_code == 400  # the regional send must be confirmed
    response = officer.post(reverse("mutual_aid:regional_alert", args=[aid.regional.pk]),
                            {"message": "Point à 14 h", "confirm": "on"})
    assert response.status_code == 302
    assert edxl.MAX_IMPORT_BYTES == 256 * 1024


def test_the_group_chooses_its_on_call_rotation_and_the_request_reaches_it(aid):
    import datetime as dt

    from planblanc.alerting.oncall import rotation_create
    from planblanc.mutual_aid.models import AidAlert, ResponderRoute
    from tests.factories import MembershipFactory, PersonFactory

    w = aid.world
    on_call = MembershipFactory(establishment=w.ch, person=PersonFactory(last_name="Astreinte")).person
    rotation = rotation_create(actor=w.group_ciso, establishment=w.ch, name="Astreinte DSI GHT", period="weekly",
                               handoff_time=dt.time(8, 0), starts_on=timezone.localdate() - dt.timedelta(days=3),
                               members=[on_call])
    ciso = verified_client(w.group_ciso)
    page = ciso.get(reverse("mutual_aid:responder_routes"))
    assert page.status_code == 200 and "Astreinte DSI GHT" in page.content.decode()
    prefix = f"group-{w.group_a.pk}"
    bad = ciso.post(reverse("mutual_aid:responder_routes"), {
        "owner": f"group:{w.group_a.pk}", f"{prefix}-rotation": rotation.pk, f"{prefix}-answer_within_minutes": "1"})
    assert bad.status_code == 200 and not ResponderRoute.objects.exists()
    ok = ciso.post(reverse("mutual_aid:responder_routes"), {
        "owner": f"group:{w.group_a.pk}", f"{prefix}-rotation": rotation.pk, f"{prefix}-answer_within_minutes": "15"})
    assert ok.status_code == 302
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    alert = AidAlert.objects.get(request=request)
    assert list(alert.campaign.recipients.values_list("person_id", flat=True)) == [on_call.pk]
    assert "Astreinte DSI GHT" in alert.audience
    assert (request.answer_due_at - request.created_at) == dt.timedelta(minutes=15)
