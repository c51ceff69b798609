"""Directory endpoints: thin calls to selectors and services, scoped by tenancy."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from planblanc.directory import selectors, services
from planblanc.directory.models import Department, Establishment, Group, Membership, Person, Region
from planblanc.tenancy import Perm, get_for_user, roles_of

router = Router(tags=["directory"])


class RegionOut(Schema):
    id: int
    code: str
    name: str


class GroupOut(Schema):
    id: int
    code: str
    name: str
    region_id: int


class EstablishmentOut(Schema):
    id: int
    finess: str
    name: str
    category: str
    is_essential_operator: bool
    is_priority: bool
    region_id: int
    group_id: int | None
    address: str
    postal_code: str
    city: str
    switchboard_phone: str


class EstablishmentIn(Schema):
    finess: str
    name: str
    category: str
    region_id: int
    group_id: int | None = None
    is_essential_operator: bool = False
    is_priority: bool = False
    address: str = ""
    postal_code: str = ""
    city: str = ""
    switchboard_phone: str = ""


class EstablishmentPatch(Schema):
    finess: str | None = None
    name: str | None = None
    category: str | None = None
    is_essential_operator: bool | None = None
    is_priority: bool | None = None
    address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    switchboard_phone: str | None = None


class DepartmentOut(Schema):
    id: int
    establishment_id: int
    kind: str
    name: str
    phone: str


class DepartmentIn(Schema):
    kind: str
    name: str
    phone: str = ""


class MembershipOut(Schema):
    id: int
    establishment_id: int
    function: str
    department_id: int | None


class MembershipIn(Schema):
    establishment_id: int
    function: str
    department_id: int | None = None


class PersonOut(Schema):
    id: int
    first_name: str
    last_name: str
    job_title: str
    email: str
    mobile_phone: str
    landline_phone: str
    preferred_language: str
    memberships: list[MembershipOut] = Field(default_factory=list, alias="visible_memberships")


class PersonIn(Schema):
    first_name: str
    last_name: str
    job_title: str = ""
    email: str = ""
    mobile_phone: str = ""
    landline_phone: str = ""
    preferred_language: str = "fr"
    memberships: list[MembershipIn]


class PersonPatch(Schema):
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    email: str | None = None
    mobile_phone: str | None = None
    landline_phone: str | None = None
    preferred_language: str | None = None


class MeOut(Schema):
    username: str
    roles: list[str]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _membership_specs(user: Any, items: list[MembershipIn]) -> list[services.MembershipSpec]:
    specs = []
    for item in items:
        establishment = get_for_user(user, Establishment, Perm.MANAGE_PEOPLE, pk=item.establishment_id)
        department = (
            get_for_user(user, Department, Perm.MANAGE_PEOPLE, pk=item.department_id) if item.department_id else None
        )
        specs.append(services.MembershipSpec(establishment=establishment, function=item.function, department=department))
    return specs


def _with_visible_memberships(user: Any, person: Person) -> Person:
    person.visible_memberships = list(selectors.person_memberships(user=user, person=person))  # type: ignore[attr-defined]
    return person


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> dict[str, Any]:
    user = _user(request)
    return {"username": user.get_username(), "roles": sorted(roles_of(user))}


@router.get("/regions", response=list[RegionOut])
def list_regions(request: HttpRequest) -> Any:
    return selectors.region_list(user=_user(request))


@router.get("/groups", response=list[GroupOut])
def list_groups(request: HttpRequest) -> Any:
    return selectors.group_list(user=_user(request))


@router.get("/establishments", response=list[EstablishmentOut])
@paginate(LimitOffsetPagination)
def list_establishments(request: HttpRequest, q: str = "", region_id: int | None = None, category: str = "") -> Any:
    return selectors.establishment_list(user=_user(request), search=q, region_id=region_id, category=category)


@router.post("/establishments", response={201: EstablishmentOut})
def create_establishment(request: HttpRequest, payload: EstablishmentIn) -> Any:
    user = _user(request)
    data = payload.dict()
    data["region"] = get_for_user(user, Region, pk=data.pop("region_id"))
    group_id = data.pop("group_id")
    data["group"] = get_for_user(user, Group, pk=group_id) if group_id else None
    return 201, services.establishment_create(actor=user, data=data)


@router.get("/establishments/{establishment_id}", response=EstablishmentOut)
def get_establishment(request: HttpRequest, establishment_id: int) -> Any:
    return get_for_user(_user(request), Establishment, pk=establishment_id)


@router.patch("/establishments/{establishment_id}", response=EstablishmentOut)
def update_establishment(request: HttpRequest, establishment_id: int, payload: EstablishmentPatch) -> Any:
    user = _user(request)
    establishment = get_for_user(user, Establishment, Perm.MANAGE_ESTABLISHMENTS, pk=establishment_id)
    return services.establishment_update(actor=user, establishment=establishment, data=payload.dict(exclude_unset=True))


@router.get("/establishments/{establishment_id}/departments", response=list[DepartmentOut])
def list_departments(request: HttpRequest, establishment_id: int) -> Any:
    user = _user(request)
    establishment = get_for_user(user, Establishment, pk=establishment_id)
    return selectors.department_list(user=user, establishment=establishment)


@router.post("/establishments/{establishment_id}/departments", response={201: DepartmentOut})
def create_department(request: HttpRequest, establishment_id: int, payload: DepartmentIn) -> Any:
    user = _user(request)
    establishment = get_for_user(user, Establishment, Perm.MANAGE_PEOPLE, pk=establishment_id)
    return 201, services.department_create(actor=user, establishment=establishment, data=payload.dict())


@router.get("/departments/{department_id}", response=DepartmentOut)
def get_department(request: HttpRequest, department_id: int) -> Any:
    return get_for_user(_user(request), Department, pk=department_id)


@router.delete("/departments/{department_id}", response={204: None})
def delete_department(request: HttpRequest, department_id: int) -> Any:
    user = _user(request)
    department = get_for_user(user, Department.objects.select_related("establishment"), Perm.MANAGE_PEOPLE, pk=department_id)
    services.department_delete(actor=user, department=department)
    return 204, None


@router.get("/people", response=list[PersonOut])
@paginate(LimitOffsetPagination)
def list_people(request: HttpRequest, q: str = "", establishment_id: int | None = None, function: str = "") -> Any:
    return selectors.person_list(user=_user(request), search=q, establishment_id=establishment_id, function=function)


@router.post("/people", response={201: PersonOut})
def create_person(request: HttpRequest, payload: PersonIn) -> Any:
    user = _user(request)
    data = payload.dict(exclude={"memberships"})
    person = services.person_create(actor=user, data=data, memberships=_membership_specs(user, payload.memberships))
    return 201, _with_visible_memberships(user, person)


@router.get("/people/{person_id}", response=PersonOut)
def get_person(request: HttpRequest, person_id: int) -> Any:
    user = _user(request)
    return _with_visible_memberships(user, get_for_user(user, Person, pk=person_id))


@router.patch("/people/{person_id}", response=PersonOut)
def update_person(request: HttpRequest, person_id: int, payload: PersonPatch) -> Any:
    user = _user(request)
    person = get_for_user(user, Person, Perm.MANAGE_PEOPLE, pk=person_id)
    person = services.person_update(actor=user, person=person, data=payload.dict(exclude_unset=True))
    return _with_visible_memberships(user, person)


@router.delete("/people/{person_id}", response={204: None})
def delete_person(request: HttpRequest, person_id: int) -> Any:
    user = _user(request)
    person = get_for_user(user, Person, Perm.MANAGE_PEOPLE, pk=person_id)
    services.person_delete(actor=user, person=person)
    return 204, None


@router.post("/people/{person_id}/memberships", response={201: MembershipOut})
def add_membership(request: HttpRequest, person_id: int, payload: MembershipIn) -> Any:
    user = _user(request)
    person = get_for_user(user, Person, pk=person_id)
    (spec,) = _membership_specs(user, [payload])
    return 201, services.membership_add(actor=user, person=person, spec=spec)


@router.delete("/memberships/{membership_id}", response={204: None})
def remove_membership(request: HttpRequest, membership_id: int) -> Any:
    user = _user(request)
    membership = get_for_user(user, Membership.objects.select_related("establishment"), Perm.MANAGE_PEOPLE, pk=membership_id)
    services.membership_remove(actor=user, membership=membership)
    return 204, None


