"""The Django admin reads through the same tenancy layer as the pages and the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from planblanc.tenancy import Perm, scope_for


class TenantAdminMixin:
    """Rows outside the staff user's scope do not exist in the admin either."""

    tenant_perm: Perm = Perm.VIEW_DIRECTORY

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).visible_to(request.user, self.tenant_perm)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # A drop-down lists rows too: only those in the user's scope.
        kwargs.setdefault("queryset", scoped_choices(db_field, request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from planblanc.accounts.audit import audit_record, diff, snapshot

        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        audit_record(
            actor=request.user, action=f"admin.{'change' if change else 'add'}", obj=obj,
            establishment=_establishment_of(obj), changes=diff(before, snapshot(obj)),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        from planblanc.accounts.audit import audit_record, diff, snapshot

        audit_record(
            actor=request.user, action="admin.delete", obj=obj, establishment=_establishment_of(obj),
            changes=diff(snapshot(obj), {}),
        )
        super().delete_model(request, obj)  # type: ignore[misc]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not scope_for(request.user, self.tenant_perm).is_empty and super().has_module_permission(request)  # type: ignore[misc]


def scoped_choices(db_field: Any, request: HttpRequest) -> Any:
    queryset = db_field.remote_field.model._default_manager.all()
    return queryset.visible_to(request.user) if hasattr(queryset, "visible_to") else queryset


class TenantInlineMixin:
    """An inline's rows and drop-downs, within the user's scope."""

    tenant_perm: Perm = Perm.VIEW_DIRECTORY

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).visible_to(request.user, self.tenant_perm)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", scoped_choices(db_field, request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


def _establishment_of(obj: Any) -> Any:
    from planblanc.directory.models import Establishment

    if isinstance(obj, Establishment):
        return obj
    return getattr(obj, "establishment", None)


admin.site.site_header = "Plan Blanc Numérique"
admin.site.site_title = "Plan Blanc Numérique"
