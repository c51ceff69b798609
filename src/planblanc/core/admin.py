"""The Django admin reads through the same tenancy layer as the pages and the API, and
only reads: writes belong to the services."""

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

    # Read-only: every write goes through the owning app's services (with their checks
    # and audit entry), from the pages, the API or the commands.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not scope_for(request.user, self.tenant_perm).is_empty and super().has_module_permission(request)  # type: ignore[misc]


def scoped_choices(db_field: Any, request: HttpRequest) -> Any:
    queryset = db_field.remote_field.model._default_manager.all()
    return queryset.visible_to(request.user) if hasattr(queryset, "visible_to") else queryset


class TenantInlineMixin:
    """An inline's rows and drop-downs, within the user's scope (read-only)."""

    tenant_perm: Perm = Perm.VIEW_DIRECTORY

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).visible_to(request.user, self.tenant_perm)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", scoped_choices(db_field, request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


admin.site.site_header = "Plan Blanc Numérique"
admin.site.site_title = "Plan Blanc Numérique"
