"""Background work: the Django tasks API on the database backend, run by `planblanc worker`."""

import pytest
from django.core.management import CommandError, call_command
from django_tasks_db.models import DBTaskResult

from planblanc.core.models import WorkerHeartbeat
from planblanc.core.selectors import worker_status
from planblanc.core.tasks import ping


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_queued_task_and_records_its_result():
    result = ping.enqueue("jeton-123")
    assert worker_status().queued == 1
    assert worker_status().oldest_queued_at is not None

    call_command("worker", "--batch", verbosity=0)

    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == "jeton-123"
    assert worker_status().queued == 0


@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_heartbeat_after_a_clean_stop():
    call_command("worker", "--batch", verbosity=0)
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_it_reports_a_stopped_worker_on_every_page(client_for, world):
    body = client_for("crisis_member").get("/etat-du-service/").content.decode()
    assert "text-bg-danger" in body


@pytest.mark.django_db
def test_it_reports_a_live_worker(client_for, world):
    from django.utils import timezone

    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, started_at=timezone.now(), last_seen_at=timezone.now()
    )
    body = client_for("crisis_member").get("/etat-du-service/").content.decode()
    assert "text-bg-success" in body
    assert worker_status().workers_alive == 1


@pytest.mark.django_db(transaction=True)
def test_it_fails_the_platform_check_when_no_worker_answers():
    with pytest.raises(CommandError, match="no worker ran a queued task"):
        call_command("platform_check", "--worker", "--timeout", "0.5")
    # The probe stays queued for the next worker: nothing is lost.
    assert DBTaskResult.objects.filter(status="READY").count() == 1


def test_it_exposes_health_for_monitoring(client, db, settings):
    # Without the token: only ok or degraded (no worker here, so degraded), nothing else.
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (503, {"status": "degraded"})
    settings.PLANBLANC_HEALTHZ_TOKEN = "jeton-de-supervision"
    assert client.get("/healthz?token=mauvais").json() == {"status": "degraded"}
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer mauvais").json() == {"status": "degraded"}
    payload = client.get("/healthz", HTTP_AUTHORIZATION="Bearer jeton-de-supervision").json()
    assert payload["status"] == "degraded"
    assert payload["database"] == "ok"
    assert payload["workers_alive"] == 0
    assert client.get("/healthz?token=jeton-de-supervision").json()["workers_alive"] == 0


def test_health_is_ok_with_a_live_worker_and_an_empty_queue(client, db):
    from django.utils import timezone

    from planblanc.core.models import WorkerHeartbeat

    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="w", hostname="h", pid=1, started_at=now, last_seen_at=now)
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
