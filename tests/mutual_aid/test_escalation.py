"""A request nobody answers is escalated to the region's on-call, then flagged; an
answered one is not; two workers never take the same step twice."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from planblanc.crisis.models import LogbookEntry
from planblanc.mutual_aid import services
from planblanc.mutual_aid.models import AidAlert, HelpRequest
from planblanc.mutual_aid.selectors import regional_board
from tests.mutual_aid.conftest import request_data
from tests.support.concurrency import run_together


def test_it_escalates_an_unanswered_request_to_the_region_then_flags_it(aid):
    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    assert services.help_requests_escalate() == 0  # not due yet
    later = request.answer_due_at + datetime.timedelta(seconds=1)
    assert services.help_requests_escalate(now=later) == 1
    assert services.help_requests_escalate(now=later) == 0  # the step is taken once
    request.refresh_from_db()
    assert request.escalation_level == 1
    escalation = AidAlert.objects.get(request=request, purpose="escalation")
    assert list(escalation.campaign.recipients.values_list("person_id", flat=True)) == [aid.officer_person.pk]
    assert LogbookEntry.objects.filter(crisis=aid.crisis, text__contains="escalated to ARS on call").exists()

    last = request.answer_due_at + datetime.timedelta(seconds=1)
    assert services.help_requests_escalate(now=last) == 1
    request.refresh_from_db()
    assert request.escalation_exhausted and request.answer_due_at is None
    assert LogbookEntry.objects.filter(crisis=aid.regional.crisis, text__contains="flagged to the regional board").exists()
    assert regional_board(regional=aid.regional).unanswered == 1
    assert services.help_requests_escalate(now=last + datetime.timedelta(hours=5)) == 0


def test_it_does_not_escalate_an_answered_request(aid):
    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    services.aid_offer_create(actor=w.group_ciso, request=request, level="group", data={"quantity": 5})
    assert services.help_requests_escalate(now=timezone.now() + datetime.timedelta(days=1)) == 0
    assert HelpRequest.objects.get(pk=request.pk).escalation_level == 0


def test_the_worker_task_escalates(aid):
    from planblanc.mutual_aid.tasks import help_requests_escalate

    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu, data=request_data())
    HelpRequest.objects.filter(pk=request.pk).update(answer_due_at=timezone.now() - datetime.timedelta(minutes=1))
    assert help_requests_escalate.call() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent workers need PostgreSQL's row locks")
def test_parallel_workers_take_each_step_once(logbook_guards_allow_flush, aid):
    w = aid.world
    requests = [services.help_request_create(actor=w.crisis_member, requester=w.chu,
                                             data=request_data(what=f"Ressource {i}")) for i in range(10)]
    later = timezone.now() + datetime.timedelta(hours=1)
    taken = run_together(lambda: services.help_requests_escalate(now=later), workers=4)
    assert sum(taken) == len(requests)
    assert AidAlert.objects.filter(purpose="escalation").count() == len(requests)
    assert set(HelpRequest.objects.values_list("escalation_level", flat=True)) == {1}


def test_a_request_from_the_page_queues_its_escalation_for_when_the_answer_is_due(aid):
    from django.urls import reverse
    from django_tasks_db.models import DBTaskResult

    from tests.conftest import verified_client

    response = verified_client(aid.world.crisis_member).post(
        reverse("mutual_aid:request_create", args=[aid.crisis.pk]),
        {"target_kind": "group", "kind": "equipment", "what": "PC autonomes", "quantity": "20", "urgency": "urgent",
         "deliver_to": "CHU A"})
    assert response.status_code == 302
    request = HelpRequest.objects.get()
    queued = DBTaskResult.objects.filter(task_path__endswith="help_requests_escalate")
    assert [task.run_after for task in queued] == [request.answer_due_at]
