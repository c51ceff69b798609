"""core.bulk: rows streamed by COPY on PostgreSQL and by executemany elsewhere, read back
as the ORM wrote them (texts, JSON, datetimes, NULL), keys reserved from the sequence,
and a row that breaks a constraint gives Django's IntegrityError with nothing kept."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from planblanc.alerting.models import Delivery, Recipient
from planblanc.core import bulk
from tests.factories import EstablishmentFactory

pytestmark = pytest.mark.django_db


def _campaign():  # type: ignore[no-untyped-def]
    from planblanc.alerting.models import Campaign

    return Campaign.objects.create(establishment=EstablishmentFactory(), title="Essai", message_fr="Bonjour")


def test_rows_are_written_as_the_orm_would_and_read_back() -> None:
    campaign = _campaign()
    ids = bulk.ids_reserve(Recipient, 3)
    if connection.vendor == "postgresql":
        assert ids is not None and len(set(ids)) == 3 and ids == sorted(ids)
    else:
        assert ids is None
        ids = [900_001, 900_002, 900_003]
    columns = ("id", "campaign_id", "name", "email", "channels", "values", "standby", "answered_at", "language",
               "establishment_name", "mobile_phone", "landline_phone", "webhook_url", "matrix_id", "answer_kind")
    when = timezone.now().replace(microsecond=0)
    names = ["Zoé L'Hôte", 'Ana "Nana" <b>&', "Tab\there\nline"]
    rows = [(pk, campaign.pk, name, f"p{pk}@hopital.example", bulk.json_text(["email", "sms"]),
             bulk.json_text({"link": "https://x.example/é?a=1&b=2"}), False, when if i == 0 else None, "fr",
             "", "", "", "", "", "")
            for i, (pk, name) in enumerate(zip(ids, names, strict=True))]
    assert bulk.rows_write(Recipient, columns, rows) == 3
    read = list(Recipient.objects.filter(campaign=campaign).order_by("pk"))
    assert [r.name for r in read] == names  # nothing escaped, tabs and newlines kept
    assert read[0].channels == ["email", "sms"] and read[0].values == {"link": "https://x.example/é?a=1&b=2"}
    assert read[0].answered_at == when and read[1].answered_at is None


@pytest.mark.django_db(transaction=True)  # SQLite checks foreign keys when the transaction commits
def test_a_row_breaking_a_key_raises_djangos_error_and_keeps_nothing() -> None:
    campaign = _campaign()
    now = timezone.now()
    columns = ("campaign_id", "recipient_id", "created_at", "updated_at", "channel", "step", "status", "address",
               "provider_index", "refused_by", "provider", "attempts", "lease_owner", "idempotency_key",
               "message_id", "provider_message_id", "last_error", "reason")
    row = (campaign.pk, 987_654, now, now + datetime.timedelta(seconds=1), "email", 0, "queued", "a@b.example", 0,
           "[]", "", 0, "", "k-1", "", "", "", "")
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.rows_write(Delivery, columns, [row])
    assert not Delivery.objects.exists()
