"""The Matrix channel, both ways, against a real Synapse started on loopback: the bot
posts the crisis alert in a room with the cell invited and in direct messages; a cell
member answers "j'arrive 15" and `!mc …`; a stranger is politely refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from planblanc.alerting.matrix_bot import MatrixListener, crisis_room_open
from planblanc.alerting.models import (
    Acknowledgement,
    ChatRoom,
    Delivery,
    DeliveryStatus,
    RecipientAnswer,
)
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from planblanc.crisis.models import LogbookEntry
from planblanc.crisis.services import crisis_declare
from tests.crisis.conftest import approved_plan, logbook_guards_allow_flush  # noqa: F401 (fixtures)
from tests.plans.conftest import complete_plan, director  # noqa: F401 (fixtures)
from tests.support.synapse import Synapse, start_synapse


@pytest.fixture(scope="session")
def synapse() -> Iterator[Synapse]:
    server = start_synapse()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def matrix(synapse: Synapse, settings: Any, tmp_path: Any) -> dict[str, Any]:
    suffix = str(time.monotonic_ns())[-8:]
    bot, bot_token = synapse.register(f"planblanc{suffix}")
    alice, alice_token = synapse.register(f"alice{suffix}")
    mallory, mallory_token = synapse.register(f"mallory{suffix}")
    settings.DATA_DIR = tmp_path
    provider = {"name": "tchap", "kind": "matrix", "homeserver": synapse.url, "user_id": bot, "access_token": bot_token}
    settings.ALERTING_CHANNELS = {"matrix": [provider]}
    return {"bot": bot, "alice": alice, "alice_token": alice_token, "mallory": mallory,
            "mallory_token": mallory_token, "provider": provider}


def _sync_until(listener: MatrixListener, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    before = listener.handled
    while listener.handled < before + count and time.monotonic() < deadline:
        listener.sync_once(timeout_ms=1000)


def _bot_said(synapse: Synapse, token: str, room_id: str, bot: str, text: str, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    said: list[str] = []
    while time.monotonic() < deadline:
        said = [body for sender, body in synapse.messages(token, room_id) if sender == bot]
        if any(text in body for body in said):
            break
        time.sleep(0.2)
    return said


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_crisis_room_both_ways(world, director, approved_plan, synapse, matrix, logbook_guards_allow_flush):  # noqa: F811
    from planblanc.directory.models import Person

    rita = Person.objects.get(last_name="Rssi")
    rita.matrix_id = matrix["alice"]
    rita.save()
    crisis = crisis_declare(
        actor=director, establishment=world.chu, kind="ransomware", severity="major",
        first_facts="Écrans de rançon sur les postes des urgences.", is_exercise=True,
    )
    listener = MatrixListener(matrix["provider"])
    listener.sync_once(timeout_ms=0)  # where reading starts

    room_id = crisis_room_open(crisis_id=crisis.pk)
    assert ChatRoom.objects.get(room_id=room_id).crisis_id == crisis.pk
    assert room_id in synapse.invites(matrix["alice_token"])
    deliveries_process(worker_id="w1")
    room_delivery = Delivery.objects.get(channel="matrix", address=room_id)
    assert room_delivery.status == DeliveryStatus.SENT
    synapse.join(matrix["alice_token"], room_id)
    alert = [body for sender, body in synapse.messages(matrix["alice_token"], room_id) if sender == matrix["bot"]]
    assert alert and "EXERCICE" in alert[0] and "j'arrive 20" in alert[0]

    synapse.say(matrix["alice_token"], room_id, "j'arrive 15")
    _sync_until(listener, 1)
    ack = Acknowledgement.objects.get(recipient__campaign=crisis.campaign, recipient__person=rita)
    assert ack.via == "matrix"
    # The cell's alert asks the question: the answer "coming in 15 min" is on the cell board.
    assert crisis.campaign.answers
    answer = RecipientAnswer.objects.get(recipient__campaign=crisis.campaign, recipient__person=rita)
    assert (answer.kind, answer.minutes, answer.via) == ("coming", 15, "matrix")
    assert any("15 min" in body for body in _bot_said(synapse, matrix["alice_token"], room_id, matrix["bot"], "15 min"))

    head = LogbookEntry.objects.filter(crisis=crisis).count()
    synapse.say(matrix["alice_token"], room_id, "!mc Patients des urgences orientés vers le CH B")
    _sync_until(listener, 1)
    entry = LogbookEntry.objects.filter(crisis=crisis).order_by("-seq").first()
    assert entry.text == "Patients des urgences orientés vers le CH B"
    assert "Rssi".upper() in entry.author_label.upper() and "Matrix" in entry.author_label
    assert entry.seq > head
    from planblanc.crisis.chain import logbook_verify  # the chain still holds

    assert logbook_verify(crisis, check_files=False).ok

    synapse.say(matrix["alice_token"], room_id, "!etat")
    _sync_until(listener, 1)
    assert _bot_said(synapse, matrix["alice_token"], room_id, matrix["bot"], "Open tasks") or _bot_said(
        synapse, matrix["alice_token"], room_id, matrix["bot"], "Tâches ouvertes")

    # A stranger in the room: refused, nothing written.
    synapse._post(f"/_matrix/client/v3/rooms/{room_id}/invite", {"user_id": matrix["mallory"]}, synapse.tokens[matrix["bot"]])
    synapse.join(matrix["mallory_token"], room_id)
    entries = LogbookEntry.objects.filter(crisis=crisis).count()
    synapse.say(matrix["mallory_token"], room_id, "!mc Fausse information")
    _sync_until(listener, 1)
    assert LogbookEntry.objects.filter(crisis=crisis).count() == entries
    refusal = _bot_said(synapse, matrix["mallory_token"], room_id, matrix["bot"], "Matrix")
    assert any("pas connu" in body or "not known" in body for body in refusal)
    listener.close()


@pytest.mark.django_db(transaction=True)
def test_it_sends_a_direct_message_and_reads_ok(world, synapse, matrix):
    person = world.chu_person
    person.matrix_id = matrix["alice"]
    person.save()
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Rappel astreinte",
        message_fr="Serveur de messagerie chiffré.", channels=["matrix"],
        recipients=[RecipientInput(name=person.full_name, person=person, matrix_id=person.matrix_id)],
    )
    listener = MatrixListener(matrix["provider"])
    listener.sync_once(timeout_ms=0)
    deliveries_process(worker_id="w1")
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.SENT, delivery.last_error
    room_id = delivery.provider_message_id.split("/")[0]
    assert room_id in synapse.invites(matrix["alice_token"])
    synapse.join(matrix["alice_token"], room_id)
    synapse.say(matrix["alice_token"], room_id, "OK")
    _sync_until(listener, 1)
    assert Acknowledgement.objects.get(recipient__campaign=campaign).via == "matrix"
    listener.close()


@pytest.mark.django_db(transaction=True)
def test_it_reads_replies_in_the_alert_worker_one_reader_at_a_time(world, synapse, matrix, tmp_path, settings):
    """What `alert_worker` starts when a Matrix provider is configured: a supervised
    reader thread holding the deployment's one reader lease. The resume point is in the
    database: a worker on another machine (another data directory) that takes the lease
    over reads what came while nobody read, and nothing twice."""
    import threading

    from planblanc.alerting.matrix_bot import ReaderLease, listener_start
    from planblanc.alerting.models import ChatSyncPoint

    person = world.chu_person
    person.matrix_id = matrix["alice"]
    person.save()
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Rappel astreinte",
        message_fr="Serveur de messagerie chiffré.", channels=["matrix"], wake_workers=False,
        recipients=[RecipientInput(name=person.full_name, person=person, matrix_id=person.matrix_id)],
    )
    stop = threading.Event()
    reader = listener_start(stop=stop)
    assert reader is not None
    try:
        resume = ChatSyncPoint.objects.filter(name=f"matrix-listener:{matrix['bot']}")
        deadline = time.monotonic() + 30
        while not resume.exists() and time.monotonic() < deadline:  # where reading starts
            time.sleep(0.1)
        assert resume.exists()
        assert not list(tmp_path.glob("matrix_sync_*"))  # nothing kept on this machine's disk
        # A second worker finds the lease held and does not read.
        other = ReaderLease(f"matrix-listener:{matrix['bot']}")
        assert not other.hold()
        deliveries_process(worker_id="w1")
        delivery = Delivery.objects.get(campaign=campaign)
        assert delivery.status == DeliveryStatus.SENT, delivery.last_error
        room_id = delivery.provider_message_id.split("/")[0]
        synapse.join(matrix["alice_token"], room_id)
        synapse.say(matrix["alice_token"], room_id, "j'arrive 15")
        deadline = time.monotonic() + 30
        while not Acknowledgement.objects.filter(recipient__campaign=campaign).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        ack = Acknowledgement.objects.get(recipient__campaign=campaign)
        assert ack.via == "matrix"
        # The bot answered in the room.
        assert _bot_said(synapse, matrix["alice_token"], room_id, matrix["bot"], "15")
    finally:
        stop.set()
        reader.join(timeout=20)
    assert not reader.is_alive()
    # Stopping gave the lease back: another worker takes it at once.
    assert other.hold()
    other.release()

    # A message while no worker reads, then a worker of another machine: it reads that
    # message (from the saved point) and answers it, and not the first one again.
    def bot_said() -> list[str]:
        return [body for sender, body in synapse.messages(matrix["alice_token"], room_id) if sender == matrix["bot"]]

    before = bot_said()
    synapse.say(matrix["alice_token"], room_id, "bonjour")
    settings.DATA_DIR = tmp_path / "other-machine"
    settings.DATA_DIR.mkdir()
    stop = threading.Event()
    reader = listener_start(stop=stop)
    assert reader is not None
    try:
        deadline = time.monotonic() + 30
        while len(bot_said()) == len(before) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything more it would (wrongly) answer
    finally:
        stop.set()
        reader.join(timeout=20)
    after = bot_said()
    assert len(after) == len(before) + 1, after  # the help for "bonjour", once
    assert "j'arrive 20" in after[-1] or "OK" in after[-1]
    assert Acknowledgement.objects.filter(recipient__campaign=campaign).count() == 1  # "j'arrive 15" once


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_reader_alive_when_the_homeserver_is_away(world, settings, tmp_path, caplog):
    import threading

    from planblanc.alerting.matrix_bot import listener_start
    from tests.support.smtp import free_port

    settings.DATA_DIR = tmp_path
    settings.ALERTING_CHANNELS = {"matrix": [{
        "name": "tchap", "kind": "matrix", "homeserver": f"http://127.0.0.1:{free_port()}",
        "user_id": "@bot:example.org", "access_token": "t",
    }]}
    stop = threading.Event()
    reader = listener_start(stop=stop)
    assert reader is not None
    deadline = time.monotonic() + 20
    while caplog.text.count("sync failed") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reader.is_alive()
    # Backed off: 1 s, then 2 s between tries.
    assert "retrying in 1 s" in caplog.text and "retrying in 2 s" in caplog.text
    stop.set()
    reader.join(timeout=20)
    assert not reader.is_alive()
