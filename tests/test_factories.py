"""Every factory builds a row that the database accepts (the suite runs this on SQLite
and on PostgreSQL), and every model of the tenant apps has a factory, or is listed below
with the reason it has none."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps

from tests.support import factories

APPS = ("directory", "accounts", "plans", "alerting", "crisis", "exercises", "readiness", "mutual_aid", "awareness")

# Rows only a service writes as a by-product (attempts, receipts, chained or timestamped
# records, audit): a test makes them by calling that service.
WITHOUT_FACTORY = {
    "accounts.ApiToken": "accounts.services.api_token_create returns the only copy of the key",
    "accounts.AuditEntry": "accounts.audit.audit_record, append-only",
    "directory.ImportBatch": "directory.importing.directory_import_upload",
    "alerting.DeliveryAttempt": "written by the alert worker for each try",
    "alerting.PendingReceipt": "written by the SMS receipt callback",
    "alerting.RecipientAnswer": "written by alerting.services when a recipient answers",
    "alerting.EscalationStep": "written by the escalation worker",
    "alerting.ChatRoom": "written by the chat bridge for a crisis",
    "alerting.ProviderPace": "bookkeeping of the alert worker",
    "alerting.ChatSyncPoint": "the Matrix reader's resume point, written after each sync (alerting.matrix_bot)",
    "crisis.LogbookAttachment": "crisis.services.logbook_append with attachments (chained entry)",
    "crisis.LogbookTimestamp": "written by the timestamping task",
    "crisis.Decision": "crisis.services.decision_record (chained logbook entry)",
    "crisis.StatusChange": "crisis.services.department_status_change / system_status_change",
    "crisis.DamageAssessmentRevision": "crisis.services, on each change of the damage assessment",
    "crisis.SituationSubscriber": "written when someone subscribes on the staff situation page",
    "awareness.CampaignLaunch": "awareness.services, when a group, region or national campaign is launched",
    "exercises.RegionalExercise": "exercises.regional, which prepares one exercise per establishment on one clock",
    "exercises.RegionalMember": "exercises.regional, one row per establishment of a regional exercise",
    "exercises.InjectAttachment": "exercises.attachments, which checks the file's type and stores its SHA-256",
    "mutual_aid.ResourceImport": "mutual_aid.catalogue_io, the staged catalogue import",
}


def _factories() -> list[Any]:
    return [getattr(factories, name) for name in sorted(factories.__all__)]


def test_every_model_of_the_tenant_apps_has_a_factory_or_a_reason() -> None:
    covered = {f._meta.model._meta.label for f in _factories()}
    models = {m._meta.label for label in APPS for m in apps.get_app_config(label).get_models()}
    assert sorted(models - covered - set(WITHOUT_FACTORY)) == []
    assert sorted(set(WITHOUT_FACTORY) & covered) == []
    assert set(WITHOUT_FACTORY) <= models


@pytest.mark.django_db
@pytest.mark.parametrize("factory_class", _factories(), ids=lambda f: f.__name__)
def test_each_factory_saves_a_row_the_database_accepts(factory_class: Any) -> None:
    made = factory_class()
    model = factory_class._meta.model
    assert made.pk is not None
    stored = model._default_manager.get(pk=made.pk)
    assert stored == made
    # A second one, without any clash of unique values.
    other = factory_class()
    assert other.pk != made.pk
