"""Personas in several tenants, so that cross-tenant tests are cheap.

    world.region_a ── world.group_a ── world.chu, world.ch
                  └── world.ehpad (no group)
    world.region_b ── world.clinic

Personas (users): national_admin, regional_officer (region A), group_ciso (group A),
establishment_admin / crisis_member / exercise_animator / auditor (CHU), and
outsider_admin (administrator of the clinic in region B).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from planblanc.tenancy import Role
from tests.factories import (
    DepartmentFactory,
    EstablishmentFactory,
    GroupFactory,
    MembershipFactory,
    PersonFactory,
    RegionFactory,
    RoleAssignmentFactory,
    UserFactory,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def english_messages() -> Iterator[None]:
    """Messages in English (the msgids, which the assertions read); the platform's
    default language is French and its catalogue is checked on its own."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Argon2 is the production hasher (tested on its own); tests log in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _audit_guards_allow_test_flush(request: Any) -> Any:
    """Transactional tests end by wiping every table, which the audit log's triggers
    refuse: empty the audit log first, with the guards lifted for that one statement.
    On PostgreSQL the wipe is a TRUNCATE, which the append-only tables refuse even to
    their owner: those guards stand during the test and are lifted for the wipe only."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    if not transactional:
        yield
        return
    from django.db import connection

    from planblanc.accounts.db_guards import GUARDED_TABLES as AUDIT
    from planblanc.accounts.db_guards import purge_audit_for_tests
    from planblanc.core.db_guards import truncate_guard_statements
    from planblanc.crisis.db_guards import GUARDED_TABLES as LOGBOOK

    request.getfixturevalue("transactional_db")
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        with connection.cursor() as cursor:
            for table in (*AUDIT, *LOGBOOK):
                for statement in truncate_guard_statements(table):
                    cursor.execute(statement)
    yield
    purge_audit_for_tests(connection)
    if postgresql:
        with connection.cursor() as cursor:
            for table in (*AUDIT, *LOGBOOK):
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


@dataclass
class World:
    region_a: Any
    region_b: Any
    group_a: Any
    chu: Any
    ch: Any
    ehpad: Any
    clinic: Any
    chu_emergency: Any
    clinic_surgery: Any
    chu_person: Any
    ch_person: Any
    clinic_person: Any
    users: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        users = self.__dict__.get("users", {})
        if name in users:
            return users[name]
        raise AttributeError(name)


PERSONAS = {
    "national_admin": (Role.NATIONAL_ADMIN, None),
    "regional_officer": (Role.REGIONAL_OFFICER, "region_a"),
    "group_ciso": (Role.GROUP_CISO, "group_a"),
    "establishment_admin": (Role.ESTABLISHMENT_ADMIN, "chu"),
    "crisis_member": (Role.CRISIS_MEMBER, "chu"),
    "exercise_animator": (Role.EXERCISE_ANIMATOR, "chu"),
    "auditor": (Role.AUDITOR, "chu"),
    "outsider_admin": (Role.ESTABLISHMENT_ADMIN, "clinic"),
}


@pytest.fixture
def world(db: Any) -> World:
    region_a = RegionFactory(code="RA", name="Région A")
    region_b = RegionFactory(code="RB", name="Région B")
    group_a = GroupFactory(code="GHT-A", name="GHT A", region=region_a)
    chu = EstablishmentFactory(name="CHU A", category="chu", region=region_a, group=group_a, is_priority=True)
    ch = EstablishmentFactory(name="CH A", region=region_a, group=group_a)
    ehpad = EstablishmentFactory(name="EHPAD A", category="ehpad", region=region_a)
    clinic = EstablishmentFactory(name="Clinique B", category="clinic", region=region_b)
    chu_emergency = DepartmentFactory(establishment=chu, name="Urgences CHU")
    clinic_surgery = DepartmentFactory(establishment=clinic, name="Bloc Clinique", kind="surgery")
    chu_person = MembershipFactory(establishment=chu, person=PersonFactory(last_name="Chuperson")).person
    ch_person = MembershipFactory(establishment=ch, person=PersonFactory(last_name="Chperson")).person
    clinic_person = MembershipFactory(establishment=clinic, person=PersonFactory(last_name="Cliniqueperson")).person
    scopes = {"region_a": region_a, "group_a": group_a, "chu": chu, "clinic": clinic}
    users = {}
    for name, (role, scope_name) in PERSONAS.items():
        user = UserFactory(username=name)
        scope: dict[str, Any] = {}
        if scope_name:
            target = scopes[scope_name]
            scope[{"region_a": "region", "group_a": "group"}.get(scope_name, "establishment")] = target
        RoleAssignmentFactory(user=user, role=role, **scope)
        users[name] = user
    return World(
        region_a=region_a, region_b=region_b, group_a=group_a, chu=chu, ch=ch, ehpad=ehpad, clinic=clinic,
        chu_emergency=chu_emergency, clinic_surgery=clinic_surgery, chu_person=chu_person, ch_person=ch_person,
        clinic_person=clinic_person, users=users,
    )


def verified_client(user: Any) -> Client:
    """A logged-in browser session that has passed two-factor authentication."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="test", defaults={"confirmed": True})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def client_for(world: World):  # type: ignore[no-untyped-def]
    """client_for("regional_officer") → a verified, logged-in test client."""

    def make(persona: str) -> Client:
        return verified_client(world.users[persona])

    return make


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file, made once per run: a test copies it for the
    worker processes it starts and kills."""
    data_dir = tmp_path_factory.mktemp("pb-sqlite-template")
    env = {**os.environ, "PLANBLANC_DATA_DIR": str(data_dir), "PLANBLANC_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "planblanc", "migrate", "-v", "0"], env=env,
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return data_dir / "planblanc.sqlite3"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test on a SQLite file of its own (the `migrated_sqlite` fixture, or the `own_sqlite`
    mark) does the same thing whatever DATABASE_URL says. `scripts/test` runs it in its
    SQLite pass and leaves it out of the PostgreSQL pass, instead of running it twice."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return
    own = [item for item in items
           if "migrated_sqlite" in getattr(item, "fixturenames", ()) or item.get_closest_marker("own_sqlite")]
    if own:
        config.hook.pytest_deselected(items=own)
        items[:] = [item for item in items if item not in own]


# Fixtures of the shared fakes, available to every test module.
from tests.support.kannel import kannel_installed  # noqa: E402, F401
