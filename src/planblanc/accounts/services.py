"""Writes about logins, roles, tokens and two-factor devices."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from planblanc.accounts.audit import audit_record
from planblanc.accounts.models import ApiToken, RoleAssignment, User
from planblanc.actors import Actor, is_command
from planblanc.tenancy import Perm, Role, can, forget_cached_roles, scope_for


def user_create(*, actor: Actor, username: str, password: str | None, email: str = "",
                first_name: str = "", last_name: str = "", preferred_language: str = "fr") -> User:
    user = User(
        username=username, email=email, first_name=first_name, last_name=last_name,
        preferred_language=preferred_language,
    )
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    with transaction.atomic():
        user.save()
        audit_record(actor=actor, action="user.create", obj=user)
    return user


def role_assign(*, actor: Actor, user: User, role: str, region: Any = None, group: Any = None,
                establishment: Any = None) -> RoleAssignment:
    """Give a platform role. A national administrator may give any role; an establishment
    administrator only the establishment-level roles over their own establishment."""
    assignment = RoleAssignment(user=user, role=role, region=region, group=group, establishment=establishment)
    assignment.full_clean(validate_constraints=False)
    if not is_command(actor):  # a command is run by whoever controls the server
        national = scope_for(actor, Perm.MANAGE_ACCESS).national
        local_ok = (
            establishment is not None
            and role in {Role.CRISIS_MEMBER, Role.EXERCISE_ANIMATOR, Role.AUDITOR, Role.ESTABLISHMENT_ADMIN}
            and can(actor, Perm.MANAGE_ACCESS, establishment)
        )
        if not (national or local_ok):
            raise PermissionDenied(_("You are not allowed to give this role."))
    with transaction.atomic():
        assignment, _created = RoleAssignment.objects.get_or_create(
            user=user, role=role, region=region, group=group, establishment=establishment
        )
        if role == Role.NATIONAL_ADMIN and not user.is_superuser:
            # The Django admin is for national administrators only (and still reads through tenancy).
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        audit_record(
            actor=actor, action="role.assign", obj=user, establishment=establishment,
            changes={"role": [None, f"{role}@{assignment.scope_label}"]},
        )
    forget_cached_roles(user)
    return assignment


def api_token_create(*, actor: User, name: str, valid_days: int | None = 365) -> tuple[ApiToken, str]:
    """Returns the token row and the clear key, which is never stored and shown once."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name, for example the script that uses it.")})
    key = ApiToken.new_key()
    expires = timezone.now() + datetime.timedelta(days=valid_days) if valid_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor, name=name[:100], key_hash=ApiToken.hash_key(key), key_hint=key[:10], expires_at=expires
        )
        audit_record(actor=actor, action="api_token.create", obj=token)
    return token, key


def api_token_revoke(*, actor: User, token: ApiToken) -> None:
    if token.user_id != actor.pk:
        raise PermissionDenied(_("You are not allowed to make this change."))
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="api_token.revoke", obj=token)


def api_token_authenticate(key: str) -> User | None:
    if not key or not key.startswith(ApiToken.PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key), revoked_at=None).first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    # Avoid a write per request: the "last used" time is precise to the minute.
    if token.last_used_at is None or now - token.last_used_at > datetime.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def totp_device_start(*, user: User) -> TOTPDevice:
    """An unconfirmed authenticator for enrolment; replaced if enrolment is restarted."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)


def totp_device_confirm(*, user: User, device: TOTPDevice, token: str) -> bool:
    if not device.verify_token(token.strip().replace(" ", "")):
        return False
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(actor=user, action="two_factor.enrol", obj=user)
    return True


def role_revoke(*, actor: Actor, assignment: RoleAssignment) -> None:
    national = scope_for(actor, Perm.MANAGE_ACCESS).national
    local_ok = assignment.establishment is not None and can(actor, Perm.MANAGE_ACCESS, assignment.establishment)
    if not (national or local_ok):
        raise PermissionDenied(_("You are not allowed to make this change."))
    if assignment.user_id == getattr(actor, "pk", None) and assignment.role in {
        Role.NATIONAL_ADMIN, Role.ESTABLISHMENT_ADMIN
    }:
        raise ValidationError(_("You cannot remove your own administrator role."))
    with transaction.atomic():
        audit_record(
            actor=actor, action="role.revoke", obj=assignment.user, establishment=assignment.establishment,
            changes={"role": [f"{assignment.role}@{assignment.scope_label}", None]},
        )
        assignment.delete()
    forget_cached_roles(assignment.user)


def _login_in_scope(actor: Actor, user: User) -> bool:
    """May the actor give this existing login a role? Only when every role it holds is
    over establishments the actor manages access for (a national administrator: always).
    A login without any role, or with one elsewhere, belongs to someone else."""
    if is_command(actor) or scope_for(actor, Perm.MANAGE_ACCESS).national:
        return True
    if user.pk == getattr(actor, "pk", None):
        return False
    assignments = list(RoleAssignment.objects.filter(user=user).select_related("establishment"))
    return bool(assignments) and all(
        a.establishment is not None and can(actor, Perm.MANAGE_ACCESS, a.establishment) for a in assignments
    )


def access_grant(*, actor: Actor, username: str, role: str, establishment: Any, password: str = "",
                 email: str = "", first_name: str = "", last_name: str = "") -> RoleAssignment:
    """Give a role over an establishment to a login, creating the login if it is new.
    All or nothing: a refused role leaves no half-created login behind."""
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is not None and not _login_in_scope(actor, user):
            # Another tenant's login is never attached, and the answer is the one a free name
            # without a password gets, then the one any taken name gets: nothing tells in
            # which establishment, or whether, the login is used elsewhere.
            if not password:
                raise ValidationError({"password": _("A new login needs an initial password.")})
            raise ValidationError({"username": _("This login name is not available: choose another one.")})
        if user is None:
            if not password:
                raise ValidationError({"password": _("A new login needs an initial password.")})
            user = user_create(
                actor=actor, username=username, password=password, email=email,
                first_name=first_name, last_name=last_name,
            )
        return role_assign(actor=actor, user=user, role=role, establishment=establishment)
