"""Audit once: every important write calls `audit_record` in the same transaction.

"From where" comes from the request being served (set by RequestContextMiddleware), or
from the command line (`request_context(via="cli")`).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.duration import duration_iso_string

from planblanc.accounts.models import AuditEntry, User
from planblanc.actors import AuditActor


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None = None
    user_agent: str = ""
    via: str = "system"


_NO_REQUEST = RequestMeta()
_current: ContextVar[RequestMeta | None] = ContextVar("planblanc_request_meta", default=None)


@contextmanager
def request_context(*, ip_address: str | None = None, user_agent: str = "", via: str) -> Iterator[None]:
    token = _current.set(RequestMeta(ip_address=ip_address, user_agent=user_agent[:300], via=via))
    try:
        yield
    finally:
        _current.reset(token)


def current_request_meta() -> RequestMeta:
    return _current.get() or _NO_REQUEST


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.timedelta):
        # RTO, RPO… of the plan's critical processes; JSON has no duration type.
        return duration_iso_string(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The concrete field values of a row, JSON-ready, to diff before and after a write."""
    return {
        field.attname: _plain(getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
        if field.attname not in {"created_at", "updated_at", "password"}
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def audit_record(
    *,
    actor: AuditActor | None,
    action: str,
    obj: models.Model | None = None,
    establishment: Any = None,
    changes: dict[str, Any] | None = None,
    label: str = "",
) -> AuditEntry:
    """`actor` is who acts: a user, a process, or an outside party identified otherwise
    (a recipient's acknowledgement link); None an anonymous request (a failed login)."""
    meta = current_request_meta()
    actor_user = actor if isinstance(actor, User) and actor.is_authenticated else None
    return AuditEntry.objects.create(
        actor=actor_user,
        actor_label=(actor_user.get_username() if actor_user else str(actor or "system"))[:200],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_label=(label or (str(obj) if obj is not None else ""))[:300],
        establishment=establishment,
        changes=changes or {},
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
        via=meta.via,
    )


def audit_record_many(*, actor: AuditActor, action: str,
                      items: list[tuple[models.Model, Any, dict[str, Any]]]) -> list[AuditEntry]:
    """Several entries of one action by one actor, written in one INSERT: each item is
    (object, establishment, changes). The same rows as audit_record, one per item (the
    exercise worker fires hundreds of injects due at the same instant)."""
    meta = current_request_meta()
    actor_user = actor if isinstance(actor, User) and actor.is_authenticated else None
    label = (actor_user.get_username() if actor_user else str(actor or "system"))[:200]
    return AuditEntry.objects.bulk_create([
        AuditEntry(
            actor=actor_user, actor_label=label, action=action, object_type=obj._meta.label_lower,
            object_id=str(obj.pk) if obj.pk is not None else "", object_label=str(obj)[:300],
            establishment=establishment, changes=changes or {}, ip_address=meta.ip_address,
            user_agent=meta.user_agent, via=meta.via,
        )
        for obj, establishment, changes in items
    ])
