"""Every persona against every directory object type, through the pages, the API and the
Django admin: what is outside a persona's scope is a 404 and never its data; what is
inside is shown; writes need the right permission and change nothing when refused.

The expected outcome is computed from `tenancy.ROLE_PERMISSIONS` and the personas'
scopes (tests/conftest.py PERSONAS), independently of `tenancy.scope_for`; a few
hard-coded spot checks catch a ROLE_PERMISSIONS that drifted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from planblanc.accounts.audit import audit_record
from planblanc.accounts.models import AuditEntry, RoleAssignment, User
from planblanc.directory.models import (
    Department,
    Establishment,
    Function,
    Group,
    Membership,
    Person,
    Region,
)
from planblanc.directory.validators import finess_with_check_digit
from planblanc.tenancy import ROLE_PERMISSIONS, Perm, Role
from tests.conftest import PERSONAS, World, verified_client
from tests.factories import (
    DepartmentFactory,
    GroupFactory,
    MembershipFactory,
    PersonFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from tests.support.api import token_client

ESTABLISHMENTS = ("chu", "ch", "ehpad", "clinic")
ALL = frozenset(ESTABLISHMENTS)


@dataclass
class Matrix:
    """The world of conftest, made uniform: each of the four establishments has a
    department, a person with two functions, a crisis-cell login and an audit entry."""

    world: World
    group_b: Any
    est: dict[str, Any] = field(default_factory=dict)
    department: dict[str, Any] = field(default_factory=dict)
    person: dict[str, Any] = field(default_factory=dict)
    membership: dict[str, Any] = field(default_factory=dict)
    assignment: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)

    def department_name(self, key: str) -> str:
        return self.department[key].name

    def person_marker(self, key: str) -> str:
        return self.person[key].last_name.lower()

    def audit_marker(self, key: str) -> str:
        return f"{key}-auditmarker"


@pytest.fixture
def matrix(world: World) -> Matrix:
    group_b = GroupFactory(code="GHT-B", name="GHT B", region=world.region_b)
    Establishment.objects.filter(pk=world.clinic.pk).update(group=group_b)
    world.clinic.refresh_from_db()
    m = Matrix(world=world, group_b=group_b)
    m.est = {"chu": world.chu, "ch": world.ch, "ehpad": world.ehpad, "clinic": world.clinic}
    m.department = {
        "chu": world.chu_emergency,
        "ch": DepartmentFactory(establishment=world.ch, name="Pharmacie CH", kind="pharmacy"),
        "ehpad": DepartmentFactory(establishment=world.ehpad, name="Soins EHPAD", kind="long_term_care"),
        "clinic": world.clinic_surgery,
    }
    ehpad_person = MembershipFactory(establishment=world.ehpad, person=PersonFactory(last_name="Ehpadperson")).person
    m.person = {"chu": world.chu_person, "ch": world.ch_person, "ehpad": ehpad_person, "clinic": world.clinic_person}
    for key in ESTABLISHMENTS:
        # A second function, so that removing one is allowed (the last one is not).
        m.membership[key] = MembershipFactory(
            establishment=m.est[key], person=m.person[key], function=Function.CRISIS_CELL
        )
        m.assignment[key] = RoleAssignmentFactory(
            user=UserFactory(username=f"{key}_member"), role=Role.CRISIS_MEMBER, establishment=m.est[key]
        )
        m.audit[key] = audit_record(
            actor=None, action="test.marker", establishment=m.est[key], label=m.audit_marker(key)
        )
    return m


# The expectation table ----------------------------------------------------------------


def covered(m: Matrix, persona: str, perm: Perm) -> frozenset[str]:
    """Which of the four establishments `persona` holds `perm` over, from ROLE_PERMISSIONS."""
    role, scope_name = PERSONAS[persona]
    if perm not in ROLE_PERMISSIONS[role]:
        return frozenset()
    if scope_name is None:
        return ALL
    if scope_name == "region_a":
        return frozenset(k for k, e in m.est.items() if e.region_id == m.world.region_a.pk)
    if scope_name == "group_a":
        return frozenset(k for k, e in m.est.items() if e.group_id == m.world.group_a.pk)
    return frozenset({scope_name})


SPOT_CHECKS = [
    ("national_admin", Perm.MANAGE_ACCESS, ALL),
    ("regional_officer", Perm.VIEW_DIRECTORY, {"chu", "ch", "ehpad"}),
    ("regional_officer", Perm.MANAGE_ESTABLISHMENTS, {"chu", "ch", "ehpad"}),
    ("regional_officer", Perm.MANAGE_PEOPLE, set()),
    ("regional_officer", Perm.MANAGE_ACCESS, set()),
    ("group_ciso", Perm.VIEW_DIRECTORY, {"chu", "ch"}),
    ("group_ciso", Perm.MANAGE_PEOPLE, {"chu", "ch"}),
    ("group_ciso", Perm.MANAGE_ESTABLISHMENTS, set()),
    ("establishment_admin", Perm.MANAGE_PEOPLE, {"chu"}),
    ("establishment_admin", Perm.MANAGE_ACCESS, {"chu"}),
    ("crisis_member", Perm.VIEW_DIRECTORY, {"chu"}),
    ("crisis_member", Perm.MANAGE_PEOPLE, set()),
    ("crisis_member", Perm.VIEW_AUDIT, set()),
    ("exercise_animator", Perm.MANAGE_ESTABLISHMENTS, set()),
    ("auditor", Perm.VIEW_AUDIT, {"chu"}),
    ("auditor", Perm.MANAGE_PEOPLE, set()),
    ("outsider_admin", Perm.VIEW_DIRECTORY, {"clinic"}),
    ("outsider_admin", Perm.MANAGE_PEOPLE, {"clinic"}),
]


@pytest.mark.parametrize(("persona", "perm", "expected"), SPOT_CHECKS, ids=lambda v: str(v))
def test_it_derives_the_expected_scopes_from_role_permissions(matrix, persona, perm, expected):
    assert covered(matrix, persona, perm) == frozenset(expected)


def test_it_gives_write_rights_only_to_administrator_roles():
    writes = {Perm.MANAGE_PEOPLE, Perm.MANAGE_ESTABLISHMENTS, Perm.MANAGE_ACCESS, Perm.EDIT_PLAN}
    for role in (Role.CRISIS_MEMBER, Role.EXERCISE_ANIMATOR, Role.AUDITOR):
        assert not ROLE_PERMISSIONS[role] & writes, role


# The routes ---------------------------------------------------------------------------


def _establishment_form(m: Matrix, key: str) -> dict[str, Any]:
    e = m.est[key]
    data = {
        "finess": e.finess, "name": f"{e.name} (renamed)", "category": e.category, "region": e.region_id,
        "group": e.group_id or "", "address": e.address, "postal_code": e.postal_code, "city": e.city,
        "switchboard_phone": e.switchboard_phone,
    }
    if e.is_priority:
        data["is_priority"] = "on"
    return data


def _person_form(m: Matrix, key: str) -> dict[str, Any]:
    p = m.person[key]
    return {
        "last_name": p.last_name, "first_name": "Renamed", "job_title": p.job_title, "email": p.email,
        "mobile_phone": p.mobile_phone, "landline_phone": p.landline_phone, "preferred_language": "fr",
    }


@dataclass(frozen=True)
class Route:
    name: str
    channel: str  # "web" or "api"
    method: str
    perm: Perm
    url: Callable[[Matrix, str], str]
    data: Callable[[Matrix, str], dict[str, Any]] | None = None
    marker: Callable[[Matrix, str], str] | None = None  # what the page shows about the object
    success: int = 200
    # A refusal inside the persona's view scope may also be this status (see its note).
    denied_in_view: frozenset[int] = frozenset({403, 404})

    @property
    def is_read(self) -> bool:
        return self.method == "get"


def _api(path: str) -> str:
    return f"/api/v1/directory{path}"


ROUTES = [
    # Web pages: reads.
    Route("web establishment detail", "web", "get", Perm.VIEW_DIRECTORY,
          lambda m, k: reverse("directory:establishment_detail", args=[m.est[k].pk]),
          marker=lambda m, k: m.est[k].finess),
    Route("web establishment edit form", "web", "get", Perm.MANAGE_ESTABLISHMENTS,
          lambda m, k: reverse("directory:establishment_edit", args=[m.est[k].pk]),
          marker=lambda m, k: m.est[k].finess),
    Route("web department form", "web", "get", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:department_edit", args=[m.department[k].pk]),
          marker=lambda m, k: m.department_name(k)),
    Route("web new department form", "web", "get", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:department_create", args=[m.est[k].pk]),
          marker=lambda m, k: m.est[k].name),
    Route("web person detail", "web", "get", Perm.VIEW_DIRECTORY,
          lambda m, k: reverse("directory:person_detail", args=[m.person[k].pk]),
          marker=lambda m, k: m.person_marker(k)),
    Route("web person edit form", "web", "get", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:person_edit", args=[m.person[k].pk]),
          marker=lambda m, k: m.person_marker(k)),
    Route("web new person form for an establishment", "web", "get", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:person_create") + f"?establishment={m.est[k].pk}",
          marker=lambda m, k: m.est[k].name),
    # Web pages: writes.
    Route("web establishment edit", "web", "post", Perm.MANAGE_ESTABLISHMENTS,
          lambda m, k: reverse("directory:establishment_edit", args=[m.est[k].pk]), _establishment_form,
          success=302),
    Route("web department create", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:department_create", args=[m.est[k].pk]),
          lambda m, k: {"kind": "imaging", "name": "Imagerie nouvelle", "phone": ""}, success=302),
    Route("web department edit", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:department_edit", args=[m.department[k].pk]),
          lambda m, k: {"kind": m.department[k].kind, "name": "Renamed department", "phone": ""}, success=302),
    Route("web department delete", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:department_delete", args=[m.department[k].pk]), lambda m, k: {},
          success=302),
    Route("web person create for an establishment", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:person_create") + f"?establishment={m.est[k].pk}",
          lambda m, k: {"last_name": "Nouvelle", "first_name": "Zoé", "preferred_language": "fr",
                        "establishment": m.est[k].pk, "function": Function.STAFF}, success=302),
    Route("web person edit", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:person_edit", args=[m.person[k].pk]), _person_form, success=302),
    Route("web person delete", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:person_delete", args=[m.person[k].pk]), lambda m, k: {}, success=302),
    # The person is looked up with the view right, then the form refuses the establishment
    # and the page comes back with the message: a redirect, nothing written.
    Route("web membership add", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:membership_add", args=[m.person[k].pk]),
          lambda m, k: {"establishment": m.est[k].pk, "function": Function.IT_STAFF}, success=302,
          denied_in_view=frozenset({302, 403, 404})),
    Route("web membership remove", "web", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: reverse("directory:membership_remove", args=[m.membership[k].pk]), lambda m, k: {},
          success=302),
    Route("web role revoke", "web", "post", Perm.MANAGE_ACCESS,
          lambda m, k: reverse("accounts:access_revoke", args=[m.assignment[k].pk]), lambda m, k: {},
          success=302),
    # API: reads.
    Route("api establishment", "api", "get", Perm.VIEW_DIRECTORY,
          lambda m, k: _api(f"/establishments/{m.est[k].pk}"), marker=lambda m, k: m.est[k].finess),
    Route("api establishment departments", "api", "get", Perm.VIEW_DIRECTORY,
          lambda m, k: _api(f"/establishments/{m.est[k].pk}/departments"),
          marker=lambda m, k: m.department_name(k)),
    Route("api department", "api", "get", Perm.VIEW_DIRECTORY,
          lambda m, k: _api(f"/departments/{m.department[k].pk}"), marker=lambda m, k: m.department_name(k)),
    Route("api person", "api", "get", Perm.VIEW_DIRECTORY,
          lambda m, k: _api(f"/people/{m.person[k].pk}"), marker=lambda m, k: m.person_marker(k)),
    # API: writes.
    Route("api establishment patch", "api", "patch", Perm.MANAGE_ESTABLISHMENTS,
          lambda m, k: _api(f"/establishments/{m.est[k].pk}"), lambda m, k: {"name": "Renamed by API"}),
    Route("api department create", "api", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: _api(f"/establishments/{m.est[k].pk}/departments"),
          lambda m, k: {"kind": "imaging", "name": "Imagerie API"}, success=201),
    Route("api department delete", "api", "delete", Perm.MANAGE_PEOPLE,
          lambda m, k: _api(f"/departments/{m.department[k].pk}"), success=204),
    Route("api person create", "api", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: _api("/people"),
          lambda m, k: {"first_name": "Zoé", "last_name": "Nouvelle",
                        "memberships": [{"establishment_id": m.est[k].pk, "function": Function.STAFF}]},
          success=201),
    Route("api person patch", "api", "patch", Perm.MANAGE_PEOPLE,
          lambda m, k: _api(f"/people/{m.person[k].pk}"), lambda m, k: {"first_name": "Renamed"}),
    Route("api person delete", "api", "delete", Perm.MANAGE_PEOPLE,
          lambda m, k: _api(f"/people/{m.person[k].pk}"), success=204),
    Route("api membership add", "api", "post", Perm.MANAGE_PEOPLE,
          lambda m, k: _api(f"/people/{m.person[k].pk}/memberships"),
          lambda m, k: {"establishment_id": m.est[k].pk, "function": Function.IT_STAFF}, success=201),
    Route("api membership remove", "api", "delete", Perm.MANAGE_PEOPLE,
          lambda m, k: _api(f"/memberships/{m.membership[k].pk}"), success=204),
]


def fingerprint() -> list[Any]:
    """Every directory and access row, and the size of the audit log."""
    models = (Region, Group, Establishment, Department, Person, Membership, RoleAssignment)
    rows: list[Any] = [list(model._default_manager.order_by("pk").values()) for model in models]
    rows.append(list(User.objects.order_by("pk").values("pk", "username", "is_staff", "is_active")))
    rows.append(AuditEntry.objects.count())
    return rows


def api_client(user: Any) -> Client:
    return token_client(user, language=None)


def client_of(route: Route, user: Any) -> Client:
    return api_client(user) if route.channel == "api" else verified_client(user)


def send(client: Client, route: Route, url: str, data: dict[str, Any] | None) -> Any:
    if route.channel == "api" and route.method != "get":
        body = json.dumps(data) if data is not None else ""
        return getattr(client, route.method)(url, body, content_type="application/json")
    if route.method == "get":
        return client.get(url)
    return client.post(url, data or {})


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("persona", list(PERSONAS))
def test_it_scopes_every_route_for_every_persona(matrix, persona, route):
    user = matrix.world.users[persona]
    client = client_of(route, user)
    allowed = covered(matrix, persona, route.perm)
    viewable = covered(matrix, persona, Perm.VIEW_DIRECTORY)
    for key in ESTABLISHMENTS:
        url = route.url(matrix, key)
        data = route.data(matrix, key) if route.data else None
        # A GET changes nothing whatever it answers: only writes pay for the fingerprint.
        before = None if route.is_read else fingerprint()
        response = send(client, route, url, data)
        body = response.content.decode().lower()
        after = None if route.is_read else fingerprint()
        where = f"{persona} {route.method.upper()} {url} ({key})"
        if key in allowed:
            assert response.status_code == route.success, where
            if route.marker:
                assert route.marker(matrix, key).lower() in body, where
            if not route.is_read:
                assert after != before, f"{where}: the allowed write changed nothing"
            continue
        if key in viewable:
            assert response.status_code in route.denied_in_view, where
        else:
            # Outside the scope: the object does not exist. Not a 403, which would say it does.
            assert response.status_code == 404, where
            if route.marker:
                assert route.marker(matrix, key).lower() not in body, where
        assert after == before, f"{where}: a refused request changed data"


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_it_refuses_put_on_the_api_and_changes_nothing(matrix, persona):
    client = api_client(matrix.world.users[persona])
    before = fingerprint()
    for key in ESTABLISHMENTS:
        response = client.put(
            _api(f"/establishments/{matrix.est[key].pk}"), json.dumps({"name": "Put"}),
            content_type="application/json",
        )
        assert response.status_code in {404, 405}
        assert matrix.est[key].finess not in response.content.decode()
    assert fingerprint() == before


# Lists ---------------------------------------------------------------------------------


def _assert_only(body: str, markers: dict[str, str], visible: frozenset[str], where: str) -> None:
    body = body.lower()
    for key, marker in markers.items():
        if key in visible:
            assert marker.lower() in body, f"{where}: {marker} ({key}) missing"
        else:
            assert marker.lower() not in body, f"{where}: {marker} ({key}) leaked"


def _region_markers(m: Matrix) -> dict[str, str]:
    return {"region_a": m.world.region_a.name, "region_b": m.world.region_b.name}


def _visible_regions(m: Matrix, establishments: frozenset[str]) -> frozenset[str]:
    return frozenset("region_a" if m.est[k].region_id == m.world.region_a.pk else "region_b" for k in establishments)


def _visible_groups(m: Matrix, establishments: frozenset[str]) -> frozenset[str]:
    names = {m.world.group_a.pk: "group_a", m.group_b.pk: "group_b"}
    return frozenset(names[m.est[k].group_id] for k in establishments if m.est[k].group_id)


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_it_lists_only_in_scope_objects_on_the_pages(matrix, persona):
    client = verified_client(matrix.world.users[persona])
    visible = covered(matrix, persona, Perm.VIEW_DIRECTORY)

    body = client.get(reverse("directory:establishment_list")).content.decode()
    _assert_only(body, {k: e.finess for k, e in matrix.est.items()}, visible, "establishment list")
    # The region filter offers only the regions the persona sees.
    _assert_only(body, _region_markers(matrix), _visible_regions(matrix, visible), "establishment list regions")

    body = client.get(reverse("directory:person_list")).content.decode()
    _assert_only(body, {k: matrix.person_marker(k) for k in ESTABLISHMENTS}, visible, "person list")

    body = client.get(reverse("core:home")).content.decode()
    _assert_only(
        body, {k: matrix.person_marker(k) for k in ESTABLISHMENTS} | {"clinic": "Clinique B"},
        frozenset(visible & {"clinic"}), "home",
    )

    access = client.get(reverse("accounts:access_list"))
    managed = covered(matrix, persona, Perm.MANAGE_ACCESS)
    if not managed:
        assert access.status_code == 404
    else:
        assert access.status_code == 200
        _assert_only(access.content.decode(), {k: f"{k}_member" for k in ESTABLISHMENTS}, managed, "access list")

    audit = client.get(reverse("accounts:audit_log"))
    audited = covered(matrix, persona, Perm.VIEW_AUDIT)
    if not audited:
        assert audit.status_code == 404
    else:
        assert audit.status_code == 200
        _assert_only(audit.content.decode(), {k: matrix.audit_marker(k) for k in ESTABLISHMENTS}, audited, "audit log")


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_it_lists_only_in_scope_objects_in_the_api(matrix, persona):
    client = api_client(matrix.world.users[persona])
    visible = covered(matrix, persona, Perm.VIEW_DIRECTORY)

    response = client.get(_api("/establishments?limit=1000"))
    assert response.status_code == 200
    finesses = {item["finess"] for item in response.json()["items"]}
    assert finesses & {e.finess for e in matrix.est.values()} == {matrix.est[k].finess for k in visible}
    assert response.json()["count"] == len(visible)

    response = client.get(_api("/people?limit=1000"))
    assert response.status_code == 200
    people = {item["last_name"] for item in response.json()["items"]}
    assert people == {matrix.person[k].last_name for k in visible}
    # Next to each person, only the functions in establishments the persona sees.
    visible_ids = {matrix.est[k].pk for k in visible}
    for item in response.json()["items"]:
        assert {ms["establishment_id"] for ms in item["memberships"]} <= visible_ids

    regions = {item["name"] for item in client.get(_api("/regions")).json()}
    expected_regions = _visible_regions(matrix, visible)
    assert regions == {getattr(matrix.world, r).name for r in expected_regions}

    groups = {item["code"] for item in client.get(_api("/groups")).json()}
    expected_groups = _visible_groups(matrix, visible)
    by_key = {"group_a": matrix.world.group_a.code, "group_b": matrix.group_b.code}
    assert groups == {by_key[g] for g in expected_groups}


# Hard-coded spot checks (independent of the expectation table) ---------------------------


@pytest.mark.parametrize(
    ("persona", "url_name", "target", "status"),
    [
        ("crisis_member", "directory:person_detail", "chu", 200),
        ("crisis_member", "directory:person_edit", "chu", 404),
        ("crisis_member", "directory:person_detail", "ch", 404),
        ("auditor", "directory:establishment_edit", "chu", 404),
        ("exercise_animator", "directory:department_edit", "chu", 404),
        ("group_ciso", "directory:person_edit", "ch", 200),
        ("group_ciso", "directory:person_detail", "ehpad", 404),
        ("group_ciso", "directory:establishment_edit", "chu", 404),
        ("regional_officer", "directory:establishment_edit", "ehpad", 200),
        ("regional_officer", "directory:person_edit", "chu", 404),
        ("regional_officer", "directory:person_detail", "clinic", 404),
        ("establishment_admin", "directory:person_edit", "chu", 200),
        ("establishment_admin", "directory:person_detail", "ch", 404),
        ("outsider_admin", "directory:establishment_detail", "chu", 404),
        ("outsider_admin", "directory:establishment_edit", "clinic", 200),
        ("national_admin", "directory:person_edit", "clinic", 200),
    ],
)
def test_it_answers_the_spot_checks(matrix, persona, url_name, target, status):
    objects = matrix.person if url_name.startswith("directory:person") else (
        matrix.department if url_name.startswith("directory:department") else matrix.est
    )
    client = verified_client(matrix.world.users[persona])
    assert client.get(reverse(url_name, args=[objects[target].pk])).status_code == status


def test_it_shows_a_shared_person_without_the_other_establishments_data(matrix):
    """A person in the CHU and the clinic: the clinic's administrator sees the person and
    the clinic function, never the CHU function; deleting removes them from the clinic only."""
    shared = MembershipFactory(
        establishment=matrix.est["chu"], person=PersonFactory(last_name="Partagee"), function=Function.CISO
    ).person
    MembershipFactory(establishment=matrix.est["clinic"], person=shared, function=Function.STAFF)
    outsider = matrix.world.users["outsider_admin"]

    body = verified_client(outsider).get(reverse("directory:person_detail", args=[shared.pk])).content.decode()
    assert "PARTAGEE" in body
    assert matrix.est["clinic"].name in body
    assert matrix.est["chu"].name not in body
    assert str(Function.CISO.label) not in body

    data = api_client(outsider).get(_api(f"/people/{shared.pk}")).json()
    assert [m["establishment_id"] for m in data["memberships"]] == [matrix.est["clinic"].pk]

    response = api_client(outsider).delete(_api(f"/people/{shared.pk}"))
    assert response.status_code == 204
    assert Person.objects.filter(pk=shared.pk).exists()
    assert list(Membership.objects.filter(person=shared).values_list("establishment_id", flat=True)) == [
        matrix.est["chu"].pk
    ]


def test_it_refuses_an_establishment_created_outside_the_scope(matrix):
    finess = finess_with_check_digit("69123456")
    payload = {"finess": finess, "name": "Nouvel hôpital", "category": "ch"}
    officer = api_client(matrix.world.users["regional_officer"])
    local_admin = api_client(matrix.world.users["establishment_admin"])
    before = fingerprint()
    # Region B does not exist for the officer of region A.
    response = officer.post(
        _api("/establishments"), json.dumps({**payload, "region_id": matrix.world.region_b.pk}),
        content_type="application/json",
    )
    assert response.status_code == 404
    # An establishment administrator sees region A but may not add establishments to it.
    response = local_admin.post(
        _api("/establishments"), json.dumps({**payload, "region_id": matrix.world.region_a.pk}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert fingerprint() == before
    response = officer.post(
        _api("/establishments"), json.dumps({**payload, "region_id": matrix.world.region_a.pk}),
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Establishment.objects.get(finess=finess).region == matrix.world.region_a


def test_it_refuses_to_move_an_establishment_out_of_the_scope(matrix):
    client = verified_client(matrix.world.users["regional_officer"])
    data = _establishment_form(matrix, "chu") | {"region": matrix.world.region_b.pk, "group": ""}
    before = fingerprint()
    response = client.post(reverse("directory:establishment_edit", args=[matrix.est["chu"].pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors["region"]
    assert fingerprint() == before


# The Django admin ------------------------------------------------------------------------


def test_it_keeps_the_admin_closed_to_establishment_administrators(matrix):
    client = verified_client(matrix.world.users["establishment_admin"])
    response = client.get("/admin/directory/establishment/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert matrix.est["clinic"].finess not in response.content.decode()


@pytest.fixture
def staff_establishment_admin(matrix: Matrix) -> Client:
    """Even with the staff and superuser flags, an establishment administrator's admin
    shows only the establishment's rows: the scope comes from roles, not from flags."""
    user = matrix.world.users["establishment_admin"]
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    user.refresh_from_db()
    return verified_client(user)


@pytest.mark.parametrize(
    ("path", "markers", "perm"),
    [
        ("/admin/directory/establishment/", lambda m: {k: e.finess for k, e in m.est.items()}, Perm.VIEW_DIRECTORY),
        ("/admin/directory/department/", lambda m: {k: m.department_name(k) for k in ESTABLISHMENTS},
         Perm.VIEW_DIRECTORY),
        ("/admin/directory/person/", lambda m: {k: m.person_marker(k) for k in ESTABLISHMENTS}, Perm.VIEW_DIRECTORY),
        ("/admin/accounts/auditentry/", lambda m: {k: m.audit_marker(k) for k in ESTABLISHMENTS}, Perm.VIEW_AUDIT),
        ("/admin/accounts/user/", lambda m: {k: f"{k}_member" for k in ESTABLISHMENTS}, Perm.MANAGE_ACCESS),
    ],
)
def test_it_scopes_the_admin_lists(matrix, staff_establishment_admin, path, markers, perm):
    response = staff_establishment_admin.get(path)
    assert response.status_code == 200
    _assert_only(response.content.decode(), markers(matrix), covered(matrix, "establishment_admin", perm), path)


def test_it_hides_out_of_scope_rows_in_the_admin_change_pages(matrix, staff_establishment_admin):
    clinic = matrix.est["clinic"]
    before = fingerprint()
    for url in (
        f"/admin/directory/establishment/{clinic.pk}/change/",
        f"/admin/directory/person/{matrix.person['clinic'].pk}/change/",
        f"/admin/directory/department/{matrix.department['clinic'].pk}/change/",
    ):
        response = staff_establishment_admin.get(url)
        # The admin's answer to a row that does not exist: back to the index.
        assert response.status_code == 302, url
        assert clinic.finess not in response.content.decode()
        # The admin only reads: a write is refused (403), or the row does not exist (302).
        response = staff_establishment_admin.post(url, {"name": "Renamed in admin"})
        assert response.status_code in (302, 403), url
        assert clinic.finess not in response.content.decode()
        response = staff_establishment_admin.post(url.replace("/change/", "/delete/"), {"post": "yes"})
        assert response.status_code in (302, 403), url
    assert fingerprint() == before
    own = staff_establishment_admin.get(f"/admin/directory/establishment/{matrix.est['chu'].pk}/change/")
    assert own.status_code == 200
    assert matrix.est["chu"].finess in own.content.decode()


def test_it_offers_only_in_scope_choices_in_the_admin_forms(matrix, staff_establishment_admin):
    """Drop-downs and inlines are rows too: another establishment's name or function must
    not appear on a form of one's own."""
    clinic = matrix.est["clinic"]
    # The admin only reads: no add form at all.
    assert staff_establishment_admin.get("/admin/directory/department/add/").status_code == 403

    shared = MembershipFactory(
        establishment=matrix.est["chu"], person=PersonFactory(last_name="Partagee"), function=Function.CISO
    ).person
    MembershipFactory(establishment=clinic, person=shared, function=Function.DPO)
    response = staff_establishment_admin.get(f"/admin/directory/person/{shared.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Partagee" in body
    assert clinic.name not in body

    body = staff_establishment_admin.get(f"/admin/accounts/user/{matrix.world.users['crisis_member'].pk}/change/").content.decode()
    assert matrix.est["chu"].name in body
    assert clinic.name not in body


# Mutual aid ----------------------------------------------------------------------------
#
# Each of the four establishments is in crisis, keeps a catalogue entry, has asked its
# group for help (the EHPAD, with no group, its region) with one offer, and has sent a
# situation report; each region has a regional crisis cell. What each persona must see,
# written from the rules (not from tenancy.py): the catalogue in every region its scope
# touches; a request from its scope or addressed to its group (or, for a regional scope,
# to its region); a report with its establishment; a regional cell only with a regional
# (or national) scope.


@dataclass
class Aid:
    crisis: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    offer: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    regional: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def aid_matrix(matrix: Matrix) -> tuple[Matrix, Aid]:
    import datetime

    from django.utils import timezone

    from planblanc.crisis.models import Crisis
    from planblanc.mutual_aid.models import (
        AidOffer,
        HelpRequest,
        RegionalCrisis,
        Resource,
        SituationReport,
    )

    aid = Aid()
    now = timezone.now()
    for key in ESTABLISHMENTS:
        est = matrix.est[key]
        aid.crisis[key] = Crisis.objects.create(establishment=est, kind="ransomware", severity="major",
                                                first_facts=f"{key}-crisis", declared_by_label="x")
        aid.resource[key] = Resource.objects.create(region=est.region, group=est.group, establishment=est,
                                                    kind="equipment", name=f"{key}-resourcemarker", quantity=3)
        target = {"target_kind": "group", "target_group": est.group} if est.group_id else {
            "target_kind": "region", "target_region": est.region}
        aid.request[key] = HelpRequest.objects.create(
            requester=est, crisis=aid.crisis[key], region=est.region, kind="equipment", what=f"{key}-requestmarker",
            quantity=4, urgency="urgent", deliver_to="hall", created_by_label="x", status="offered", **target)
        aid.offer[key] = AidOffer.objects.create(request=aid.request[key], level="region", offerer_region=est.region,
                                                 offerer_label="ARS", what=f"{key}-offermarker", quantity=2,
                                                 created_by_label="x")
        aid.report[key] = SituationReport.objects.create(
            establishment=est, crisis=aid.crisis[key], region=est.region, author_label="x", ed_status="open",
            needs=f"{key}-needsmarker", next_report_at=now + datetime.timedelta(hours=4))
    for name, region in (("region_a", matrix.world.region_a), ("region_b", matrix.world.region_b)):
        cell = Crisis.objects.create(region=region, kind="unknown", severity="major", first_facts=name,
                                     declared_by_label="x")
        aid.regional[name] = RegionalCrisis.objects.create(region=region, crisis=cell, title=f"{name}-cellmarker",
                                                           opened_by_label="x")
    return matrix, aid


def _regions_touched(m: Matrix, persona: str) -> frozenset[str]:
    role, scope_name = PERSONAS[persona]
    if scope_name is None:
        return frozenset({"region_a", "region_b"})
    if scope_name in ("region_a", "group_a"):
        return frozenset({"region_a"})
    return _visible_regions(m, frozenset({scope_name}))


def _aid_visible(m: Matrix, persona: str, what: str) -> frozenset[str]:
    """Which establishments' (or regions', for cells) mutual-aid objects `persona` sees."""
    role, scope_name = PERSONAS[persona]
    own = covered(m, persona, Perm.VIEW_DIRECTORY)
    if what == "resource":
        regions = _regions_touched(m, persona)
        return frozenset(k for k in ESTABLISHMENTS if _visible_regions(m, frozenset({k})) <= regions)
    if what == "report":
        return own
    if what == "request":
        groups = _visible_groups(m, own) | ({"group_a"} if scope_name == "group_a" else set())
        addressed = set()
        for k in ESTABLISHMENTS:
            est = m.est[k]
            if est.group_id and (_visible_groups(m, frozenset({k})) <= groups):
                addressed.add(k)
            if not est.group_id and scope_name == "region_a" and est.region_id == m.world.region_a.pk:
                addressed.add(k)
        return frozenset(own | addressed)
    if what == "cell":
        if scope_name is None:
            return frozenset({"region_a", "region_b"})
        return frozenset({"region_a"}) if scope_name == "region_a" else frozenset()
    raise ValueError(what)


AID_SPOT_CHECKS = [
    ("group_ciso", "request", {"chu", "ch"}),
    ("crisis_member", "request", {"chu", "ch"}),  # its own, and its group's
    ("crisis_member", "resource", {"chu", "ch", "ehpad"}),
    ("regional_officer", "request", {"chu", "ch", "ehpad"}),
    ("outsider_admin", "resource", {"clinic"}),
    ("group_ciso", "cell", set()),
    ("national_admin", "cell", {"region_a", "region_b"}),
]


@pytest.mark.parametrize(("persona", "what", "expected"), AID_SPOT_CHECKS, ids=lambda v: str(v))
def test_it_derives_the_mutual_aid_expectations(matrix, persona, what, expected):
    assert _aid_visible(matrix, persona, what) == frozenset(expected)


def _aid_routes(a: Aid) -> list[tuple[str, str, Callable[[str], str], Callable[[str], str] | None]]:
    """(name, object kind, url of the key, marker of the key)."""
    return [
        ("resource edit", "resource", lambda k: reverse("mutual_aid:resource_edit", args=[a.resource[k].pk]),
         lambda k: f"{k}-resourcemarker"),
        ("request detail", "request", lambda k: reverse("mutual_aid:request_detail", args=[a.request[k].pk]),
         lambda k: f"{k}-requestmarker"),
        ("request EDXL-RM", "request", lambda k: reverse("mutual_aid:request_edxl", args=[a.request[k].pk]),
         lambda k: f"{k}-requestmarker"),
        ("offer EDXL-RM", "request", lambda k: reverse("mutual_aid:offer_edxl",
                                                       args=[a.offer[k].pk, "ResponseToRequestResource"]),
         lambda k: f"{k}-offermarker"),
        ("situation reports", "report", lambda k: reverse("mutual_aid:situation_report", args=[a.crisis[k].pk]),
         lambda k: f"{k}-needsmarker"),
        ("hospital status EDXL-HAVE", "report", lambda k: reverse("mutual_aid:hospital_status", args=[a.crisis[k].pk]),
         lambda k: f"{k}-needsmarker"),
    ]


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_it_scopes_every_mutual_aid_page_for_every_persona(aid_matrix, persona):
    m, a = aid_matrix
    client = verified_client(m.world.users[persona])
    for name, what, url, marker in _aid_routes(a):
        visible = _aid_visible(m, persona, what)
        for key in ESTABLISHMENTS:
            response = client.get(url(key))
            body = response.content.decode().lower()
            where = f"{persona} {name} ({key})"
            if key in visible:
                assert response.status_code == 200, where
                assert marker(key).lower() in body, where
            else:
                assert response.status_code == 404, where
                assert marker(key).lower() not in body, where
    cells = _aid_visible(m, persona, "cell")
    for region_key, cell in a.regional.items():
        for url in (reverse("mutual_aid:regional_board", args=[cell.pk]),
                    reverse("mutual_aid:regional_logbook", args=[cell.pk])):
            response = client.get(url)
            where = f"{persona} {url} ({region_key})"
            assert response.status_code == (200 if region_key in cells else 404), where
            assert (f"{region_key}-cellmarker" in response.content.decode()) == (region_key in cells), where


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_it_lists_only_in_scope_mutual_aid_objects(aid_matrix, persona):
    m, a = aid_matrix
    client = verified_client(m.world.users[persona])
    body = client.get(reverse("mutual_aid:catalogue")).content.decode()
    _assert_only(body, {k: f"{k}-resourcemarker" for k in ESTABLISHMENTS}, _aid_visible(m, persona, "resource"),
                 "catalogue")
    export = client.get(reverse("mutual_aid:catalogue_export", args=["csv"]))
    body = b"".join(export.streaming_content).decode("utf-8")
    _assert_only(body, {k: f"{k}-resourcemarker" for k in ESTABLISHMENTS}, _aid_visible(m, persona, "resource"),
                 "catalogue export")
    body = client.get(reverse("mutual_aid:index")).content.decode()
    _assert_only(body, {k: f"{k}-requestmarker" for k in ESTABLISHMENTS}, _aid_visible(m, persona, "request"),
                 "requests")
    body = client.get(reverse("mutual_aid:regional_list")).content.decode()
    _assert_only(body, {r: f"{r}-cellmarker" for r in a.regional}, _aid_visible(m, persona, "cell"), "cells")


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_it_refuses_mutual_aid_writes_outside_the_scope(aid_matrix, persona):
    """Accepting an offer is the requester's (RUN_CRISIS); marking delivery is either
    side's; outside what one sees, every write is a 404 and changes nothing."""
    from planblanc.mutual_aid.models import AidOffer

    m, a = aid_matrix
    client = verified_client(m.world.users[persona])
    runs = covered(m, persona, Perm.RUN_CRISIS)
    for key in ESTABLISHMENTS:
        before = list(AidOffer.objects.order_by("pk").values("pk", "status"))
        response = client.post(reverse("mutual_aid:offer_action", args=[a.offer[key].pk, "accept"]))
        after = list(AidOffer.objects.order_by("pk").values("pk", "status"))
        where = f"{persona} accept ({key})"
        if key in runs:
            assert response.status_code == 302 and after != before, where
            AidOffer.objects.filter(pk=a.offer[key].pk).update(status="offered")
            a.request[key].__class__.objects.filter(pk=a.request[key].pk).update(status="offered")
        else:
            # Seen (addressed to its group) or not, only the requester chooses: a 404 either way.
            assert response.status_code == 404, where
            assert after == before, where
        response = client.get(reverse("mutual_aid:request_create", args=[a.crisis[key].pk]))
        assert response.status_code == (200 if key in runs else 404), f"{persona} request form ({key})"
