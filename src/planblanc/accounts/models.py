"""Logins, platform roles, API tokens and the append-only audit log."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from planblanc.tenancy import ROLE_SCOPE_LEVEL, Role, TenantQuerySet


class UserQuerySet(TenantQuerySet):
    # A user is visible through the establishments where they hold a role.
    tenant_kind = "user"


class PlanBlancUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=[("fr", _("French")), ("en", _("English"))],
        default="fr",
    )

    objects = PlanBlancUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class RoleAssignment(models.Model):
    """A platform role held by a user over a scope (nation, region, group or establishment)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    region = models.ForeignKey("directory.Region", on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("region"))
    group = models.ForeignKey("directory.Group", on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("hospital group (GHT)"))
    establishment = models.ForeignKey(
        "directory.Establishment", on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("establishment")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            # Coalesce: a national role (all scopes empty) is unique too, on SQLite as well.
            models.UniqueConstraint(
                "user", "role", Coalesce("region", 0), Coalesce("group", 0), Coalesce("establishment", 0),
                name="role_assignment_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} — {self.scope_label}"

    @property
    def scope_level(self) -> str:
        if self.establishment_id:
            return "establishment"
        if self.group_id:
            return "group"
        if self.region_id:
            return "region"
        return "national"

    @property
    def scope_label(self) -> str:
        target = self.establishment or self.group or self.region
        return str(target) if target else str(_("National"))

    def clean(self) -> None:
        given = [name for name in ("region", "group", "establishment") if getattr(self, f"{name}_id")]
        if len(given) > 1:
            raise ValidationError(_("A role applies to one scope only: a region, a group or an establishment."))
        allowed = ROLE_SCOPE_LEVEL.get(self.role, ())
        if self.scope_level not in allowed:
            raise ValidationError(
                _("The role “%(role)s” is given over: %(levels)s.")
                % {"role": self.get_role_display(), "levels": ", ".join(str(LEVEL_LABELS[level]) for level in allowed)}
            )


LEVEL_LABELS = {
    "national": _("the whole country"),
    "region": _("a region"),
    "group": _("a hospital group"),
    "establishment": _("an establishment"),
}


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once."""

    PREFIX = "pbn_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    key_hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def new_key(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        if self.revoked_at:
            return False
        return not (self.expires_at and self.expires_at <= timezone.now())


class AppendOnlyQuerySet(TenantQuerySet):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("audit entries are append-only")

    def delete(self):  # type: ignore[no-untyped-def]
        raise PermissionError("audit entries are append-only")


class AuditEntry(models.Model):
    """Who did what, when and from where. Never updated, never deleted (also enforced by
    database triggers, see the migration)."""

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    # PROTECT, not SET_NULL: clearing the link would be an UPDATE, which the guards refuse
    # (a database error). Deleting a login or an establishment with history is refused
    # with Django's message instead; deactivate the login.
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_label = models.CharField(_("who"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(_("object"), max_length=300, blank=True)
    establishment = models.ForeignKey(
        "directory.Establishment", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("establishment"),
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("from"), null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    via = models.CharField(_("via"), max_length=10, blank=True)

    objects = AppendOnlyQuerySet.as_manager_for("establishment", path="establishment")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_label}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("audit entries are append-only")
