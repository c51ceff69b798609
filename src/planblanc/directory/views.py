from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from planblanc.core.forms import run_service
from planblanc.directory import selectors, services
from planblanc.directory.forms import DepartmentForm, EstablishmentForm, MembershipForm, PersonForm
from planblanc.directory.models import (
    Department,
    Establishment,
    EstablishmentCategory,
    Function,
    Membership,
    Person,
)
from planblanc.tenancy import Perm, can, get_for_user, has_perm_somewhere


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
def establishment_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    region_id = _int_or_none(request.GET.get("region"))
    category = request.GET.get("category", "")
    establishments = selectors.establishment_list(
        user=request.user, search=search, region_id=region_id, category=category
    )
    page = Paginator(establishments, 50).get_page(request.GET.get("page"))
    return render(request, "directory/establishment_list.html", {
        "page": page, "search": search, "region_id": region_id, "category": category,
        "regions": selectors.region_list(user=request.user), "categories": EstablishmentCategory.choices,
    })


@login_required
def establishment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    establishment = selectors.establishment_detail(user=request.user, pk=pk)
    memberships = (
        Membership.objects.visible_to(request.user).filter(establishment=establishment)
        .select_related("person", "department").order_by("person__last_name", "person__first_name")
    )
    return render(request, "directory/establishment_detail.html", {
        "establishment": establishment,
        "departments": selectors.department_list(user=request.user, establishment=establishment),
        "memberships": memberships,
        "may_edit": can(request.user, Perm.MANAGE_ESTABLISHMENTS, establishment),
        "may_manage_people": can(request.user, Perm.MANAGE_PEOPLE, establishment),
    })


@login_required
def establishment_create(request: HttpRequest) -> HttpResponse:
    if not has_perm_somewhere(request.user, Perm.MANAGE_ESTABLISHMENTS):
        raise Http404
    form = EstablishmentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            establishment = run_service(
                form, lambda: services.establishment_create(actor=request.user, data=form.cleaned_data)
            )
        except services.StateDesignationDenied as exc:
            form.add_error(None, str(exc.args[0]))
            establishment = None
        except PermissionDenied:
            form.add_error("region", _("You may only create establishments in your own region or group."))
            establishment = None
        if establishment is not None:
            messages.success(request, _("Establishment created."))
            return redirect("directory:establishment_detail", pk=establishment.pk)
    return render(request, "directory/establishment_form.html", {"form": form, "establishment": None})


@login_required
def establishment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    establishment = get_for_user(request.user, Establishment, Perm.MANAGE_ESTABLISHMENTS, pk=pk)
    form = EstablishmentForm(request.POST or None, instance=establishment, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            saved = run_service(
                form, lambda: services.establishment_update(
                    actor=request.user, establishment=form.instance, data=form.cleaned_data
                )
            )
        except services.StateDesignationDenied as exc:
            form.add_error(None, str(exc.args[0]))
            saved = None
        except PermissionDenied:
            form.add_error("region", _("You may not move this establishment outside your scope."))
            saved = None
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("directory:establishment_detail", pk=pk)
    return render(request, "directory/establishment_form.html", {"form": form, "establishment": establishment})


@login_required
def department_create(request: HttpRequest, establishment_pk: int) -> HttpResponse:
    establishment = get_for_user(
        request.user, Establishment, Perm.MANAGE_PEOPLE, pk=establishment_pk
    )
    form = DepartmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        department = run_service(form, lambda: services.department_create(
            actor=request.user, establishment=establishment, data=form.cleaned_data
        ))
        if department is not None:
            messages.success(request, _("Department added."))
            return redirect("directory:establishment_detail", pk=establishment.pk)
    return render(request, "directory/department_form.html", {"form": form, "establishment": establishment})


@login_required
def department_edit(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_for_user(request.user, Department.objects.select_related("establishment"), Perm.MANAGE_PEOPLE, pk=pk)
    form = DepartmentForm(request.POST or None, instance=department)
    if request.method == "POST" and form.is_valid():
        saved = run_service(form, lambda: services.department_update(
            actor=request.user, department=form.instance, data=form.cleaned_data
        ))
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("directory:establishment_detail", pk=department.establishment_id)
    return render(request, "directory/department_form.html", {
        "form": form, "establishment": department.establishment, "department": department,
    })


@login_required
@require_POST
def department_delete(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_for_user(request.user, Department.objects.select_related("establishment"), Perm.MANAGE_PEOPLE, pk=pk)
    services.department_delete(actor=request.user, department=department)
    messages.success(request, _("Department deleted."))
    return redirect("directory:establishment_detail", pk=department.establishment_id)


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    establishment_id = _int_or_none(request.GET.get("establishment"))
    function = request.GET.get("function", "")
    people = selectors.person_list(
        user=request.user, search=search, establishment_id=establishment_id, function=function
    )
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    return render(request, "directory/person_list.html", {
        "page": page, "search": search, "establishment_id": establishment_id, "function": function,
        "establishments": Establishment.objects.visible_to(request.user).only("pk", "name"),
        "functions": Function.choices,
    })


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_for_user(request.user, Person, pk=pk)
    memberships = selectors.person_memberships(user=request.user, person=person)
    may_manage = any(can(request.user, Perm.MANAGE_PEOPLE, m.establishment) for m in memberships)
    membership_form = MembershipForm(user=request.user) if may_manage else None
    return render(request, "directory/person_detail.html", {
        "person": person, "memberships": memberships, "may_manage": may_manage, "membership_form": membership_form,
    })


@login_required
def person_create(request: HttpRequest) -> HttpResponse:
    if not has_perm_somewhere(request.user, Perm.MANAGE_PEOPLE):
        raise Http404
    establishment = None
    if request.GET.get("establishment"):
        establishment = get_for_user(
            request.user, Establishment, Perm.MANAGE_PEOPLE,
            pk=_int_or_none(request.GET["establishment"]) or 0,
        )
    form = PersonForm(request.POST or None)
    membership_form = MembershipForm(request.POST or None, user=request.user, establishment=establishment)
    if request.method == "POST" and form.is_valid() and membership_form.is_valid():
        spec = services.MembershipSpec(**membership_form.cleaned_data)
        person = run_service(form, lambda: services.person_create(
            actor=request.user, data=form.cleaned_data, memberships=[spec]
        ))
        if person is not None:
            messages.success(request, _("%(name)s added.") % {"name": person})
            return redirect("directory:person_detail", pk=person.pk)
    return render(request, "directory/person_form.html", {
        "form": form, "membership_form": membership_form, "person": None,
    })


@login_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_for_user(request.user, Person, Perm.MANAGE_PEOPLE, pk=pk)
    form = PersonForm(request.POST or None, instance=person)
    if request.method == "POST" and form.is_valid():
        try:
            saved = run_service(form, lambda: services.person_update(
                actor=request.user, person=form.instance, data=form.cleaned_data))
        except services.SharedPersonDenied as exc:
            form.add_error(None, str(exc))
            saved = None
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("directory:person_detail", pk=pk)
    return render(request, "directory/person_form.html", {"form": form, "person": person})


@login_required
@require_POST
def person_delete(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_for_user(request.user, Person, Perm.MANAGE_PEOPLE, pk=pk)
    deleted = services.person_delete(actor=request.user, person=person)
    if deleted:
        messages.success(request, _("%(name)s deleted.") % {"name": person})
    else:
        messages.success(request, _("%(name)s removed from your establishments.") % {"name": person})
    return redirect("directory:person_list")


@login_required
@require_POST
def membership_add(request: HttpRequest, person_pk: int) -> HttpResponse:
    person = get_for_user(request.user, Person, pk=person_pk)
    form = MembershipForm(request.POST, user=request.user)
    if form.is_valid():
        result = run_service(form, lambda: services.membership_add(
            actor=request.user, person=person, spec=services.MembershipSpec(**form.cleaned_data)
        ))
        if result is not None:
            messages.success(request, _("Function added."))
            return redirect("directory:person_detail", pk=person.pk)
    for error in form.errors.values():
        messages.error(request, " ".join(error))
    return redirect("directory:person_detail", pk=person.pk)


@login_required
@require_POST
def membership_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_for_user(
        request.user, Membership.objects.select_related("establishment"), Perm.MANAGE_PEOPLE, pk=pk
    )

    try:
        services.membership_remove(actor=request.user, membership=membership)
        messages.success(request, _("Function removed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("directory:person_detail", pk=membership.person_id)

