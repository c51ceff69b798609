"""The Django admin shows crises and their logbook read-only: a crisis is run from its
console, and a logbook entry is never changed nor deleted (a correction is a new entry)."""

from __future__ import annotations

from django.contrib import admin

from planblanc.core.admin import TenantAdminMixin
from planblanc.crisis.models import Crisis, LogbookAttachment, LogbookEntry


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Read-only, like every tenant admin (core/admin.py)."""


@admin.register(Crisis)
class CrisisAdmin(ReadOnlyAdmin):
    list_display = ["pk", "establishment", "kind", "severity", "status", "is_exercise", "declared_at", "head_seq"]
    list_filter = ["status", "kind", "is_exercise"]
    search_fields = ["establishment__name"]


@admin.register(LogbookEntry)
class LogbookEntryAdmin(ReadOnlyAdmin):
    list_display = ["crisis", "seq", "at", "author_label", "kind", "entry_hash"]
    list_filter = ["kind"]
    search_fields = ["text"]
    actions = None


@admin.register(LogbookAttachment)
class LogbookAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["entry", "name", "size_bytes", "sha256"]
    actions = None
