"""The delivery engine against a real local SMTP server: outbox, retries and back-off,
provider and channel fallback, reasons for failure, exercise marking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from planblanc.accounts.models import AuditEntry
from planblanc.actors import CRISIS_PROCESS, ESCALATION_WORKER, command
from planblanc.alerting.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Recipient,
)
from planblanc.alerting.services import (
    RecipientInput,
    campaign_create,
    deliveries_claim,
    deliveries_process,
    message_id_for,
    recipients_from_people,
)
from planblanc.directory.models import Person
from tests.support.smtp import Recorder, SmtpServer, free_port


def _people(n: int, prefix: str = "agent") -> list[RecipientInput]:
    return [RecipientInput(name=f"Agent {i}", email=f"{prefix}{i}@hopital.example") for i in range(n)]


def _campaign(actor: Any, world: Any, recipients: list[RecipientInput], **kwargs: Any) -> Campaign:
    defaults: dict[str, Any] = {
        "title": "Cyberattaque en cours", "message_fr": "Bonjour {name}, rejoignez la cellule de crise.",
        "message_en": "Hello {name}, join the crisis cell.", "establishment": world.chu,
    }
    return campaign_create(actor=actor, recipients=recipients, **{**defaults, **kwargs})


@pytest.mark.django_db
def test_it_sends_one_message_per_recipient_with_a_message_id_from_the_idempotency_key(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    campaign = _campaign(world.establishment_admin, world, _people(25))

    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.QUEUED).count() == 25
    deliveries_process(worker_id="w1")

    counts = smtp.recorder.count_by_rcpt()
    assert len(counts) == 25 and set(counts.values()) == {1}
    by_rcpt = {r.rcpt: r for r in smtp.recorder.received}
    for delivery in Delivery.objects.filter(campaign=campaign):
        assert delivery.status == DeliveryStatus.SENT
        assert delivery.idempotency_key == f"{campaign.pk}:{delivery.recipient_id}:email:0"
        assert by_rcpt[delivery.address].message_id == delivery.message_id == message_id_for(delivery.idempotency_key)
        assert delivery.attempt_log.get().outcome == "sent"
    assert "Bonjour Agent 3, rejoignez la cellule de crise." in by_rcpt["agent3@hopital.example"].body
    assert "/ack/" in by_rcpt["agent3@hopital.example"].body
    assert "Pour accuser réception, ouvrez ce lien" in by_rcpt["agent3@hopital.example"].body
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert AuditEntry.objects.filter(action="alerting.campaign_create", object_id=str(campaign.pk)).exists()


@pytest.mark.django_db
def test_it_writes_english_text_for_english_speakers(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    _campaign(world.establishment_admin, world, [
        RecipientInput(name="Sam", email="sam@hopital.example", language="en"),
    ])
    deliveries_process(worker_id="w1")
    body = smtp.recorder.received[0].body
    assert smtp.recorder.received[0].subject == "Cyberattaque en cours"
    assert "Hello Sam, join the crisis cell." in body
    assert "To acknowledge" in body


@pytest.mark.django_db
def test_it_marks_exercise_campaigns_in_subject_and_body(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    _campaign(world.establishment_admin, world, _people(1), is_exercise=True)
    _campaign(world.establishment_admin, world, _people(1, prefix="real"), is_exercise=False)
    deliveries_process(worker_id="w1")
    by_rcpt = {r.rcpt: r for r in smtp.recorder.received}
    exercise, real = by_rcpt["agent0@hopital.example"], by_rcpt["real0@hopital.example"]
    assert exercise.subject == "EXERCICE EXERCICE EXERCICE Cyberattaque en cours"
    assert exercise.body.startswith("EXERCICE EXERCICE EXERCICE")
    assert exercise.body.rstrip().endswith("EXERCICE EXERCICE EXERCICE")
    assert "EXERCICE" not in real.subject and "EXERCICE" not in real.body


@pytest.mark.django_db(transaction=True)
def test_it_leaves_nothing_behind_when_the_campaign_cannot_be_written(world, settings):
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 1}]}
    ghost = Person(pk=987654, first_name="Nobody", last_name="Here")  # never saved: its row does not exist
    recipients = [*_people(50), RecipientInput(name="Ghost", email="ghost@hopital.example", person=ghost)]
    with pytest.raises(IntegrityError):
        _campaign(world.establishment_admin, world, recipients)
    assert not Campaign.objects.exists()
    assert not Recipient.objects.exists()
    assert not Delivery.objects.exists()
    assert not AuditEntry.objects.filter(action="alerting.campaign_create").exists()
    # Workers are woken only after a commit.
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_wakes_a_worker_once_the_campaign_is_committed(world, settings):
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 1}]}
    _campaign(world.establishment_admin, world, _people(3))
    task = DBTaskResult.objects.get()
    assert task.task_path == "planblanc.alerting.tasks.deliveries_process"


@pytest.mark.django_db
def test_it_rejects_bad_input_with_clear_messages_and_writes_nothing(world, settings):
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 1}]}
    with pytest.raises(ValidationError) as caught:
        _campaign(world.establishment_admin, world, _people(2), message_fr="Bonjour {prenom}", channels=["pigeon"])
    errors = caught.value.message_dict
    assert "{prenom}" in errors["message_fr"][0] and "{name}" in errors["message_fr"][0]
    assert "pigeon" in errors["channels"][0]
    with pytest.raises(ValidationError) as caught:
        _campaign(world.establishment_admin, world, [], message_fr="Accolade { ouverte")
    assert "recipients" in caught.value.message_dict and "message_fr" in caught.value.message_dict
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_it_lets_only_senders_of_the_scope_create_a_campaign(world, settings):
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 1}]}
    for persona in ("outsider_admin", "crisis_member", "auditor"):
        with pytest.raises(PermissionDenied):
            _campaign(world.users[persona], world, _people(1))
    with pytest.raises(PermissionDenied):
        _campaign(world.establishment_admin, world, _people(1), establishment=None, region=world.region_a)
    assert _campaign(world.regional_officer, world, _people(1), establishment=None, region=world.region_a)
    assert _campaign(world.group_ciso, world, _people(1))
    assert Campaign.objects.count() == 2



@pytest.mark.django_db
def test_it_lets_only_the_processes_that_send_alerts_send_them(world, settings):
    """A string that merely starts with "system", or a process without the right (an
    import command), is refused; the escalation worker and a declared crisis send."""
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 1}]}
    for actor in ("system:anything", "system", None, command("import_people", by="Alice")):
        with pytest.raises(PermissionDenied):
            _campaign(actor, world, _people(1))
    assert _campaign(ESCALATION_WORKER, world, _people(1))
    campaign = _campaign(CRISIS_PROCESS, world, _people(1))
    assert AuditEntry.objects.filter(action="alerting.campaign_create", object_id=str(campaign.pk),
                                     actor=None, actor_label="system:crisis").exists()


@pytest.mark.django_db
def test_it_fails_a_recipient_without_usable_channel_at_creation_with_the_reason(world, settings):
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 1}]}
    campaign = _campaign(world.establishment_admin, world, [
        RecipientInput(name="Sans adresse", mobile_phone="+33639980000"),
        RecipientInput(name="Adresse fausse", email="pas-une-adresse"),
        RecipientInput(name="Bonne adresse", email="ok@hopital.example"),
    ])
    failed = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.FAILED)
    assert sorted(d.recipient.name for d in failed) == ["Adresse fausse", "Sans adresse"]
    assert {d.reason for d in failed} == {"no channel"}
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.QUEUED).count() == 1


@pytest.mark.django_db
def test_it_retries_a_temporary_refusal_with_exponential_backoff_then_sends(world, settings):
    answers: dict[str, int] = {}

    def greylist(address: str) -> str | None:
        answers[address] = answers.get(address, 0) + 1
        return "451 4.7.1 Try again later" if answers[address] <= 2 else None

    settings.ALERTING_RETRY_BASE_SECONDS = 10
    with SmtpServer(Recorder(rcpt_answer=greylist)) as smtp:
        settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
        campaign = _campaign(world.establishment_admin, world, _people(1))
        delivery = Delivery.objects.get(campaign=campaign)

        before = timezone.now()
        deliveries_process(worker_id="w1")
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.QUEUED and delivery.attempts == 1
        assert "451" in delivery.last_error
        assert timedelta(seconds=9) < delivery.next_attempt_at - before < timedelta(seconds=11)
        # Not due yet: a worker passing by leaves it alone.
        assert deliveries_process(worker_id="w1") == 0

        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        before = timezone.now()
        deliveries_process(worker_id="w1")
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert timedelta(seconds=19) < delivery.next_attempt_at - before < timedelta(seconds=21)

        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        deliveries_process(worker_id="w1")
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3
        assert list(delivery.attempt_log.values_list("outcome", flat=True)) == ["transient", "transient", "sent"]
        assert smtp.recorder.count_by_rcpt() == {"agent0@hopital.example": 1}


@pytest.mark.django_db
def test_it_gives_up_after_the_maximum_attempts_with_the_reason(world, fast_retries):
    with SmtpServer(Recorder(rcpt_answer=lambda a: "452 4.2.2 Mailbox full")) as smtp:
        fast_retries.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
        campaign = _campaign(world.establishment_admin, world, _people(1))
        deliveries_process(worker_id="w1")
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 4
    assert "gave up after 4 attempts" in delivery.reason and "452" in delivery.reason
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 4


@pytest.mark.django_db
def test_it_moves_a_permanent_refusal_to_the_next_provider_then_fails_with_the_reason(world, fast_retries):
    refuse = Recorder(rcpt_answer=lambda a: "550 5.1.1 User unknown" if a.startswith("inconnu") else None)
    with SmtpServer(refuse) as first, SmtpServer(refuse) as second:
        fast_retries.ALERTING_CHANNELS = {"email": [first.provider("relay-a"), second.provider("relay-b")]}
        campaign = _campaign(world.establishment_admin, world, [
            RecipientInput(name="Inconnu", email="inconnu@hopital.example"),
            RecipientInput(name="Connu", email="connu@hopital.example"),
        ])
        deliveries_process(worker_id="w1")
    unknown = Delivery.objects.get(campaign=campaign, recipient__name="Inconnu")
    assert unknown.status == DeliveryStatus.FAILED
    assert unknown.reason.startswith("relay-b: 550")
    assert list(unknown.attempt_log.values_list("provider", "outcome")) == [
        ("relay-a", "permanent"), ("relay-b", "permanent"),
    ]
    known = Delivery.objects.get(campaign=campaign, recipient__name="Connu")
    assert known.status == DeliveryStatus.SENT and known.provider == "relay-a"
    assert refuse.count_by_rcpt() == {"connu@hopital.example": 1}


@pytest.mark.django_db
def test_it_falls_back_to_the_next_provider_when_the_relay_is_down(world, smtp, fast_retries):
    fast_retries.ALERTING_CHANNELS = {
        "email": [{"name": "down", "kind": "smtp", "host": "127.0.0.1", "port": free_port()}, smtp.provider("up")]
    }
    campaign = _campaign(world.establishment_admin, world, _people(30))
    deliveries_process(worker_id="w1")
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", "provider")) == {("sent", "up")}
    assert len(smtp.recorder.count_by_rcpt()) == 30
    first_try = DeliveryAttempt.objects.filter(provider="down")
    assert first_try.count() == 30 and "unreachable" in first_try.first().error


@pytest.mark.django_db
def test_it_moves_to_the_next_channel_when_a_channel_is_exhausted(world, fast_retries):
    from tests.support.webhook import HookServer

    with SmtpServer(Recorder(rcpt_answer=lambda a: "550 5.1.1 User unknown")) as smtp, HookServer() as hook:
        fast_retries.ALERTING_CHANNELS = {
            "email": [smtp.provider("relay")], "webhook": [{"name": "hook", "kind": "webhook"}],
        }
        campaign = _campaign(world.establishment_admin, world, [
            RecipientInput(name="Poste de garde", email="garde@hopital.example", webhook_url=hook.url),
        ], channels=["email", "webhook"])
        steps = list(Delivery.objects.filter(campaign=campaign).order_by("step").values_list("channel", "status"))
        assert steps == [("email", "queued"), ("webhook", "held")]
        deliveries_process(worker_id="w1")
    email, webhook = Delivery.objects.filter(campaign=campaign).order_by("step")
    assert email.status == DeliveryStatus.FAILED and "550" in email.reason
    assert webhook.status == DeliveryStatus.SENT
    assert len(hook.received) == 1


@pytest.mark.django_db
def test_it_cancels_later_channels_once_one_has_sent(world, smtp, fast_retries):
    fast_retries.ALERTING_CHANNELS = {"email": [smtp.provider("relay")], "webhook": [{"name": "hook", "kind": "webhook"}]}
    campaign = _campaign(world.establishment_admin, world, [
        RecipientInput(name="Garde", email="garde@hopital.example", webhook_url="http://127.0.0.1:9/hook"),
    ], channels=["email", "webhook"])
    deliveries_process(worker_id="w1")
    email, webhook = Delivery.objects.filter(campaign=campaign).order_by("step")
    assert email.status == DeliveryStatus.SENT
    assert webhook.status == DeliveryStatus.CANCELLED and webhook.reason == "reached by email"


@pytest.mark.django_db
def test_it_reclaims_rows_whose_worker_lease_expired(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    campaign = _campaign(world.establishment_admin, world, _people(5))
    claimed = deliveries_claim(worker_id="dead", limit=5, lease_seconds=60)
    assert len(claimed.deliveries) == 5
    # Leased to a worker that died: nobody else may take them before the lease ends.
    assert deliveries_claim(worker_id="alive", limit=5).deliveries == []
    Delivery.objects.filter(campaign=campaign).update(lease_until=timezone.now() - timedelta(seconds=1))
    deliveries_process(worker_id="alive")
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"sent"}
    assert all(a.after_lost_lease for a in DeliveryAttempt.objects.all())
    assert len(smtp.recorder.count_by_rcpt()) == 5


@pytest.mark.django_db
def test_it_snapshots_people_as_they_were_at_send_time(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    person = world.chu_person
    campaign = _campaign(world.establishment_admin, world, recipients_from_people([person]))
    Person.objects.filter(pk=person.pk).update(email="changed@hopital.example")
    deliveries_process(worker_id="w1")
    recipient = Recipient.objects.get(campaign=campaign)
    assert recipient.person == person and recipient.email == smtp.recorder.received[0].rcpt != "changed@hopital.example"


@pytest.mark.django_db
def test_it_wakes_again_when_a_retry_falls_due(world, settings):
    from planblanc.alerting.tasks import deliveries_process as task

    settings.ALERTING_RETRY_BASE_SECONDS = 30
    with SmtpServer(Recorder(rcpt_answer=lambda a: "451 4.3.0 Busy")) as smtp:
        settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
        campaign = _campaign(world.establishment_admin, world, _people(1))
        assert task.call() == 1
    delivery = Delivery.objects.get(campaign=campaign)
    wake_up = DBTaskResult.objects.get()
    assert wake_up.task_path == "planblanc.alerting.tasks.deliveries_process"
    assert abs((wake_up.run_after - delivery.next_attempt_at).total_seconds()) < 1


@pytest.mark.parametrize("eight_bit", [True, False])
def test_it_writes_a_valid_utf8_email_in_8bit_or_quoted_printable(eight_bit):
    from email import message_from_bytes, policy

    from planblanc.alerting.channels.base import OutgoingMessage
    from planblanc.alerting.channels.email import SmtpProvider

    provider = SmtpProvider(name="relay", options={"host": "127.0.0.1"})
    long_line = "é" * 600
    raw = provider.build(OutgoingMessage(
        delivery_id=1, idempotency_key="1:2:email:0", message_id="<1.2.email.0.abc@planblanc.invalid>",
        address="a@hopital.example", name="Amélie Bérénice", language="fr", subject="Réunion de crise à 14 h",
        body=f"Rendez-vous salle B, 2ᵉ étage.\n{long_line}\n", short_text="", ack_url="", is_exercise=False,
    ), eight_bit=eight_bit)
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Réunion de crise à 14 h"
    assert message["To"].addresses[0].display_name == "Amélie Bérénice"
    assert message["Message-ID"] == "<1.2.email.0.abc@planblanc.invalid>"
    assert message.get_content().replace("\r\n", "\n") == f"Rendez-vous salle B, 2ᵉ étage.\n{long_line}\n"
    # A 1,200-octet line would break SMTP's 998 limit: it goes quoted-printable.
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(len(line) for line in raw.splitlines()) <= 998
    short = provider.build(OutgoingMessage(
        delivery_id=1, idempotency_key="k", message_id="<k@planblanc.invalid>", address="a@hopital.example",
        name="A", language="fr", subject="S", body="Salle B, 2ᵉ étage.\n", short_text="", ack_url="",
        is_exercise=False,
    ), eight_bit=eight_bit)
    parsed = message_from_bytes(short, policy=policy.default)
    assert parsed["Content-Transfer-Encoding"] == ("8bit" if eight_bit else "quoted-printable")
    assert parsed.get_content().replace("\r\n", "\n") == "Salle B, 2ᵉ étage.\n"
