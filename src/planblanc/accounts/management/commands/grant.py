"""`planblanc grant USERNAME ROLE [--region CODE | --group CODE | --establishment FINESS]`

Creates the login if needed (asks for its password) and gives it a platform role. The
first national administrator of a new installation is made this way."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError

from planblanc.accounts import services
from planblanc.accounts.audit import request_context
from planblanc.accounts.models import User
from planblanc.actors import command
from planblanc.directory.models import Establishment, Group, Region
from planblanc.directory.validators import finess_normalize
from planblanc.tenancy import Role


class Command(BaseCommand):
    help = "Give a platform role to a login (created if needed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=Role.values)
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--region", help="region code")
        scope.add_argument("--group", help="hospital group (GHT) code")
        scope.add_argument("--establishment", help="FINESS number")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-env", help="read the new login's password from this environment variable (no prompt)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scope: dict[str, Any] = {}
        try:
            if options["region"]:
                scope["region"] = Region.objects.get(code=options["region"])
            elif options["group"]:
                scope["group"] = Group.objects.get(code=options["group"])
            elif options["establishment"]:
                scope["establishment"] = Establishment.objects.get(finess=finess_normalize(options["establishment"]))
        except (Region.DoesNotExist, Group.DoesNotExist, Establishment.DoesNotExist) as exc:
            raise CommandError(f"unknown scope: {exc}") from exc
        with request_context(via="cli"):
            user = User.objects.filter(username=options["username"]).first()
            try:
                if user is None:
                    password = self._password(options)
                    user = services.user_create(
                        actor=command("grant"), username=options["username"], password=password, email=options["email"]
                    )
                    self.stdout.write(f"login {user.username} created")
                services.role_assign(actor=command("grant"), user=user, role=options["role"], **scope)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"{user.username}: {options['role']} granted"))

    def _password(self, options: dict[str, Any]) -> str:
        if options["password_env"]:
            value = os.environ.get(options["password_env"], "")
            if not value:
                raise CommandError(f"{options['password_env']} is empty")
            return value
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
        return first
