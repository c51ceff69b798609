"""The mailbox provider (the demo's email): one .eml file per message, named after its
Message-ID, so a message sent again replaces its own file; the demo uses it unless a
relay is configured."""

from __future__ import annotations

import email
from email import policy

import pytest

from planblanc.alerting.channels.base import OutgoingMessage
from planblanc.alerting.channels.mailbox import MailboxProvider
from planblanc.alerting.models import Delivery
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from planblanc.core.management.commands.demo import DEMO_CHANNELS, demo_alerting_env


@pytest.mark.django_db
def test_it_writes_one_eml_file_per_recipient_with_the_ack_link(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.ALERTING_CHANNELS = {"email": [{"name": "box", "kind": "mailbox"}]}
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Cellule de crise",
        message_fr="Rejoignez la salle B, {name}.", is_exercise=True, channels=["email"],
        recipients=[RecipientInput(name=f"Agent {n}", email=f"agent{n}@hopital.example") for n in range(3)],
    )
    deliveries_process(worker_id="w1")
    files = sorted((tmp_path / "demo-mailbox").glob("*.eml"))
    assert len(files) == 3
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"sent"}
    parsed = [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in files]
    assert {str(m["To"]).split("<")[1].rstrip(">") for m in parsed} == {f"agent{n}@hopital.example" for n in range(3)}
    for message in parsed:
        assert message["Subject"].startswith("EXERCICE EXERCICE EXERCICE")
        assert "/ack/" in message.get_content()
    ids = {str(m["Message-ID"]) for m in parsed}
    assert ids == set(Delivery.objects.filter(campaign=campaign).values_list("provider_message_id", flat=True))


def test_it_replaces_its_own_file_when_the_same_message_is_sent_again(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    provider = MailboxProvider(name="box", options={})
    message = OutgoingMessage(
        delivery_id=1, idempotency_key="c:1:email:0", message_id="<c1.r1@planblanc.invalid>",
        address="agent@hopital.example", name="Agent", language="fr", subject="Alerte", body="Texte",
        short_text="Texte", ack_url="http://127.0.0.1/ack/x/", is_exercise=False,
    )
    assert [r.outcome for r in provider.send([message])] == ["sent"]
    assert [r.outcome for r in provider.send([message])] == ["sent"]
    assert [p.name for p in (tmp_path / "demo-mailbox").iterdir()] == [provider.path_for(message).name]


def test_the_demo_uses_the_mailbox_unless_channels_are_configured():
    defaults = demo_alerting_env({}, "http://127.0.0.1:8000/")
    assert defaults == {"PLANBLANC_CHANNELS": DEMO_CHANNELS, "PLANBLANC_PUBLIC_URL": "http://127.0.0.1:8000"}
    given = demo_alerting_env({"PLANBLANC_CHANNELS": '{"email": []}', "PLANBLANC_PUBLIC_URL": "https://x"}, "u")
    assert given == {"PLANBLANC_CHANNELS": '{"email": []}', "PLANBLANC_PUBLIC_URL": "https://x"}
