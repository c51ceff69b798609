from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from planblanc.accounts.models import ApiToken, AuditEntry, RoleAssignment, User
from planblanc.core.admin import TenantAdminMixin, TenantInlineMixin
from planblanc.tenancy import Perm


class RoleAssignmentInline(TenantInlineMixin, admin.TabularInline):
    model = RoleAssignment
    tenant_perm = Perm.MANAGE_ACCESS
    extra = 0


@admin.register(User)
class UserAdmin(TenantAdminMixin, DjangoUserAdmin):
    tenant_perm = Perm.MANAGE_ACCESS
    inlines = [RoleAssignmentInline]
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Plan Blanc", {"fields": ("preferred_language",)}))  # type: ignore[operator]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_hint", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "key_hint", "user", "created_at", "last_used_at"]

    def get_queryset(self, request: HttpRequest) -> Any:
        # Tokens are personal: the admin shows one's own.
        return super().get_queryset(request).filter(user=request.user)

    # Tokens are made and revoked from the account page (accounts.services).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_perm = Perm.VIEW_AUDIT
    list_display = ["at", "actor_label", "action", "object_label", "establishment", "ip_address", "via"]
    list_filter = ["via"]
    search_fields = ["action", "object_label", "actor_label"]
