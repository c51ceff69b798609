"""Actors: who acts, and how the audit log names them."""

from __future__ import annotations

from typing import Any

import pytest

from planblanc import actors
from planblanc.accounts.audit import audit_record
from planblanc.accounts.models import AuditEntry


def test_it_names_an_outside_party_by_its_kind_and_name() -> None:
    party = actors.recipient("Jeanne Martin")
    assert party.label == "recipient:Jeanne Martin"
    assert str(party) == party.label
    assert actors.actor_label(party) == "recipient:Jeanne Martin"
    assert actors.cell_member(12).label == "person:12"
    assert actors.learner(7).label == "learner:7"
    assert actors.PUBLIC_QUESTIONNAIRE.label == "public:questionnaire"
    assert not party.is_authenticated
    assert not actors.is_system(party)


@pytest.mark.django_db
def test_it_records_an_outside_party_in_the_audit_log_without_a_user(world: Any) -> None:
    entry = audit_record(actor=actors.recipient("Jeanne Martin"), action="alerting.acknowledge")
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor is None
    assert entry.actor_label == "recipient:Jeanne Martin"
