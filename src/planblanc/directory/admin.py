from django.contrib import admin

from planblanc.core.admin import TenantAdminMixin, TenantInlineMixin
from planblanc.directory.models import Department, Establishment, Group, Membership, Person, Region


@admin.register(Region)
class RegionAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "agency_name"]
    search_fields = ["code", "name"]


@admin.register(Group)
class GroupAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "region"]
    list_filter = ["region"]
    search_fields = ["code", "name"]


@admin.register(Establishment)
class EstablishmentAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["finess", "name", "category", "region", "group", "is_priority", "is_essential_operator"]
    list_filter = ["category", "region", "is_priority", "is_essential_operator"]
    search_fields = ["finess", "name", "city"]


@admin.register(Department)
class DepartmentAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "establishment"]
    list_filter = ["kind"]
    search_fields = ["name", "establishment__name"]


class MembershipInline(TenantInlineMixin, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["establishment"]


@admin.register(Person)
class PersonAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["last_name", "first_name", "job_title", "email", "mobile_phone"]
    search_fields = ["last_name", "first_name", "email"]
    inlines = [MembershipInline]
