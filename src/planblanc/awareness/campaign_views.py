"""Awareness pages above one establishment: campaigns launched for a whole group (GHT),
region or the country, and the awareness observatory (staff trained per establishment,
group and region against the target, the trend over the years, phishing drill rates)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from planblanc import rights
from planblanc.awareness import observatory, selectors, services
from planblanc.awareness.forms import LaunchForm
from planblanc.awareness.models import CampaignLaunch
from planblanc.core.selectors import worker_status
from planblanc.directory.models import Establishment, Group, Region

OBSERVATORY_PAGE_SIZE = 100
# Seconds between two refreshes of a launch being prepared or invited.
LAUNCH_REFRESH_SECONDS = 2


def _scopes(request: HttpRequest) -> list[tuple[str, str]]:
    national, region_ids, group_ids = rights.awareness_launch_scopes(request.user)
    choices: list[tuple[str, str]] = []
    if national:
        choices.append(("national", str(_("Every establishment of the country"))))
        regions = Region.objects.all()
        groups = Group.objects.all()
    else:
        regions = Region.objects.filter(pk__in=region_ids)
        groups = Group.objects.filter(pk__in=group_ids) | Group.objects.filter(region_id__in=region_ids)
    choices += [(f"region-{r.pk}", str(_("Region: %(name)s") % {"name": r.name})) for r in regions.order_by("name")]
    choices += [(f"group-{g.pk}", str(_("Group: %(name)s") % {"name": g.name}))
                for g in groups.distinct().order_by("name")]
    return choices


def _scope_objects(value: str) -> tuple[Group | None, Region | None]:
    kind, _sep, pk = value.partition("-")
    if kind == "group" and pk.isdigit():
        return get_object_or_404(Group, pk=int(pk)), None
    if kind == "region" and pk.isdigit():
        return None, get_object_or_404(Region, pk=int(pk))
    return None, None


def _launches_visible(request: HttpRequest) -> list[CampaignLaunch]:
    return [launch for launch in selectors.launches_with_progress()[:20]
            if rights.may_launch_awareness(request.user, group=launch.group, region=launch.region)]


def _launch_for(request: HttpRequest, pk: int) -> CampaignLaunch:
    launch = get_object_or_404(selectors.launches_with_progress(), pk=pk)
    if not rights.may_launch_awareness(request.user, group=launch.group, region=launch.region):
        raise Http404
    return launch


def _launch_card(request: HttpRequest, launch: CampaignLaunch, error: str = "") -> HttpResponse:
    return render(request, "awareness/_launch.html", {
        "launch": launch, "error": error, "refresh_seconds": LAUNCH_REFRESH_SECONDS,
        "no_worker": launch.working and worker_status().workers_alive == 0})


@login_required
def launches(request: HttpRequest) -> HttpResponse:
    """Launch one campaign for every establishment of a group, a region or the country.
    A small scope is prepared at once; a larger one in the background, its progress shown."""
    scopes = _scopes(request)
    if not scopes:
        raise Http404
    form = LaunchForm(request.POST or None, scopes=scopes)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        group, region = _scope_objects(data.pop("scope"))
        try:
            launch = services.launch_create(actor=request.user, group=group, region=region, **data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if services.launch_run_if_small(launch_id=launch.pk):
                messages.success(request, _("Campaign launched for %(count)s establishments.")
                                 % {"count": launch.establishments})
            else:
                messages.success(request, _("Campaign launched for %(count)s establishments: their campaigns "
                                            "are being prepared, follow the progress below.")
                                 % {"count": launch.establishments})
            return redirect("awareness:launches")
    visible = _launches_visible(request)
    return render(request, "awareness/launches.html", {
        "form": form, "launches": visible, "refresh_seconds": LAUNCH_REFRESH_SECONDS,
        "no_worker": any(launch.working for launch in visible) and worker_status().workers_alive == 0})


@login_required
def launch_state(request: HttpRequest, pk: int) -> HttpResponse:
    """The launch's card, polled while it is being prepared or invited."""
    return _launch_card(request, _launch_for(request, pk))


@login_required
@require_POST
def launch_invite(request: HttpRequest, pk: int) -> HttpResponse:
    launch = _launch_for(request, pk)
    error = ""
    try:
        services.launch_invite(actor=request.user, launch=launch)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    else:
        services.launch_run_if_small(launch_id=launch.pk)
    if request.headers.get("HX-Request"):
        return _launch_card(request, _launch_for(request, pk), error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("The invitations are being written into the outbox; the workers send them."))
    return redirect("awareness:launches")


@login_required
def observatory_page(request: HttpRequest) -> HttpResponse:
    """Staff trained this year per establishment, group or region, against the target; the
    trend over the years; phishing click and report rates (small counts hidden)."""
    if not rights.may_view_observatory(request.user):
        raise Http404
    this_year = timezone.localdate().year
    raw_year = request.GET.get("annee", "")
    year = int(raw_year) if raw_year.isdigit() and 2000 <= int(raw_year) <= this_year + 1 else this_year
    level = request.GET.get("niveau", "group")
    if level not in observatory.LEVELS:
        level = "group"
    establishments = Establishment.objects.visible_to(request.user)
    trained = observatory.trained_by(establishments=establishments, year=year, level=level)
    page = Paginator(trained, OBSERVATORY_PAGE_SIZE).get_page(request.GET.get("page"))
    first = observatory.first_year(establishments=establishments) or this_year
    return render(request, "awareness/observatory.html", {
        "year": year, "level": level, "page": page,
        "levels": [("establishment", _("Establishment")), ("group", _("Group (GHT)")), ("region", _("Region"))],
        "years": list(range(max(first, this_year - 9), this_year + 1)),
        "trend": observatory.trained_trend(establishments=establishments, last_year=year),
        "phishing": Paginator(observatory.phishing_by(establishments=establishments, year=year, level=level),
                              OBSERVATORY_PAGE_SIZE).get_page(request.GET.get("page")),
        "threshold": observatory.ANONYMITY_THRESHOLD,
        "target": settings.AWARENESS_TARGET_PERCENT, "may_launch": bool(_scopes(request)),
    })
