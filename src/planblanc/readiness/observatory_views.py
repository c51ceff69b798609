"""Observatory pages: thin views over readiness.observatory (selectors) and charts.

Access: the observatory is for national, regional (ARS) and group (GHT) viewers; others
get a 403. The national page needs the national scope (403 otherwise); a region outside
the viewer's scope does not exist for them (404). Every figure, list and export reads
only the establishments the viewer may see.
"""

from __future__ import annotations

import datetime
from importlib import import_module
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from planblanc import rights
from planblanc.core import tabular
from planblanc.directory.models import EstablishmentCategory, Region
from planblanc.readiness import charts
from planblanc.readiness import observatory as obs
from planblanc.readiness.selectors import referential_list
from planblanc.tenancy import get_for_user

MAX_PERIOD_DAYS = 366 * 10


class ObservatoryFilterForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    referential = forms.ChoiceField(label=gettext_lazy("Referential"), required=False)
    region = forms.TypedChoiceField(label=gettext_lazy("Region"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, regions: list[Region] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("All categories")), *EstablishmentCategory.choices]
        self.fields["referential"].choices = [("", _("Default (hygiene guide)"))] + [
            (r.slug, r.name) for r in referential_list()
        ]
        if regions is None:
            del self.fields["region"]
        else:
            self.fields["region"].choices = [("", _("All regions"))] + [(r.pk, r.name) for r in regions]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The start of the period must come before its end."))
            if (end - start).days > MAX_PERIOD_DAYS:
                raise forms.ValidationError(_("The period may not be longer than ten years."))
        return data

    def filters(self, *, region_id: int | None = None) -> obs.Filters:
        default = obs.Filters.default()
        data = self.cleaned_data if self.is_valid() else {}
        start = data.get("start") or default.start
        end = data.get("end") or (default.end if not data.get("start") else start.replace(month=12, day=31))
        if start > end:
            start, end = default.start, default.end
        return obs.Filters(
            start=start, end=end, category=data.get("category") or "",
            region_id=region_id or data.get("region"), referential_slug=data.get("referential") or "",
        )


def _context(request: HttpRequest, region_pk: int | None) -> tuple[bool, Region | None, ObservatoryFilterForm,
                                                                    obs.Filters]:
    user = request.user
    if not rights.may_view_observatory(user):
        raise PermissionDenied(_("The observatory is for national, regional and group viewers."))
    national = obs.observatory_is_national(user=user)
    region = None
    if region_pk is not None:
        region = get_for_user(user, Region, pk=region_pk)
    elif request.GET.get("region"):
        try:
            region = get_for_user(user, Region, pk=int(request.GET["region"]))
        except ValueError as exc:
            raise Http404 from exc
    if region is None and not national:
        raise PermissionDenied(_("The national view is for national viewers."))
    regions = list(Region.objects.visible_to(user)) if national and region_pk is None else None
    form = ObservatoryFilterForm(request.GET or None, regions=regions)
    filters = form.filters(region_id=region.pk if region else None)
    return national, region, form, filters


def _charts(dashboard: obs.Dashboard) -> dict[str, SafeString]:
    result: dict[str, SafeString] = {}
    progress = dashboard.progress
    target_label = _("Target: %(percent)d %% by %(deadline)s") % {
        "percent": progress.target_percent, "deadline": progress.deadline.strftime("%d/%m/%Y")}
    if progress.available:
        result["progress"] = charts.line_chart(
            title=_("Priority establishments exercised, cumulative"),
            desc=_("%(share)s %% of %(n)d priority establishments exercised by the end of the period; %(target)s.")
            % {"share": progress.share if progress.share is not None else 0, "n": progress.priority,
               "target": target_label},
            labels=[m.strftime("%m/%y") for m in progress.months], values=progress.shares,
            target=progress.target_percent, target_label=target_label, uid="chart-progress",
        )
    for slug, table in dashboard.tables.items():
        if table.unavailable:
            continue
        labels = [row.label for row in table.rows]
        if slug in ("exercised", "degraded"):
            result[slug] = charts.bar_chart(
                title=table.title, desc=table.description, labels=labels,
                values=[row.cells[2].value for row in table.rows],  # type: ignore[misc]
                target=progress.target_percent if slug == "exercised" else None,
                target_label=target_label if slug == "exercised" else "", uid=f"chart-{slug}",
            )
        elif slug in ("maturity_category", "maturity_region", "incidents"):
            series = [(label, [float(row.cells[i].value or 0) for row in table.rows])
                      for i, (_key, label) in enumerate(table.columns)]
            result[slug] = charts.stacked_bar_chart(
                title=table.title, desc=table.description, labels=labels, series=series,
                normalise=slug != "incidents", first_neutral=slug != "incidents", uid=f"chart-{slug}",
            )
        else:
            values = [float(cell.value or 0) for cell in table.rows[0].cells] if table.rows else []
            result[slug] = charts.histogram(
                title=table.title, desc=table.description, labels=[label for _k, label in table.columns][:len(values)],
                values=values, uid=f"chart-{slug}",
            )
    return result


@login_required
def observatory_index(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not rights.may_view_observatory(user):
        raise PermissionDenied(_("The observatory is for national, regional and group viewers."))
    if obs.observatory_is_national(user=user):
        return redirect("readiness:observatory_national")
    regions = list(Region.objects.visible_to(user))
    if len(regions) == 1:
        return redirect("readiness:observatory_region", region_pk=regions[0].pk)
    return render(request, "readiness/observatory_index.html", {"regions": regions})


def _dashboard(request: HttpRequest, region_pk: int | None) -> HttpResponse:
    national, region, form, filters = _context(request, region_pk)
    dashboard = obs.observatory_dashboard(user=request.user, filters=filters, national=region is None)
    query = urlencode(filters.as_params())
    rendered = _charts(dashboard)
    return render(request, "readiness/observatory.html", {
        "dashboard": dashboard, "charts": rendered, "form": form, "region": region,
        "national_page": region is None, "may_see_national": national, "query": query,
        "sections": [(table, rendered.get(slug)) for slug, table in dashboard.tables.items()],
    })


@login_required
def observatory_national(request: HttpRequest) -> HttpResponse:
    return _dashboard(request, None)


@login_required
def observatory_region(request: HttpRequest, region_pk: int) -> HttpResponse:
    return _dashboard(request, region_pk)


@login_required
def observatory_drilldown(request: HttpRequest) -> HttpResponse:
    _national, region, _form, filters = _context(request, None)
    chart, group, bucket = (request.GET.get(k, "")[:40] for k in ("chart", "group", "bucket"))
    establishments = obs.observatory_drilldown(user=request.user, filters=filters, chart=chart, group=group,
                                               bucket=bucket)
    page = Paginator(
        establishments.select_related("region").only("pk", "name", "finess", "category", "region__name",
                                                     "is_priority").order_by("name", "pk"), 50,
    ).get_page(request.GET.get("page"))
    back = reverse("readiness:observatory_region", args=[region.pk]) if region else reverse(
        "readiness:observatory_national")
    year = timezone.localdate().year
    return render(request, "readiness/observatory_drilldown.html", {
        "page": page, "year": year, "exercised": _exercised_this_year([e.pk for e in page.object_list], year), "region": region, "filters": filters, "chart": chart, "group": group, "bucket": bucket,
        "back": f"{back}?{urlencode({k: v for k, v in filters.as_params().items() if k != 'region' or not region})}",
    })


def _exercised_this_year(establishment_ids: list[int], year: int) -> set[int] | None:
    """Read from the exercises app when it is installed and offers
    `selectors.establishments_exercised_in_year`; None (column hidden) otherwise."""
    try:
        exercise_selectors = import_module("planblanc.exercises.selectors")
    except ImportError:
        return None
    reader = getattr(exercise_selectors, "establishments_exercised_in_year", None)
    return reader(establishment_ids=establishment_ids, year=year) if reader else None


def _table_rows(table: obs.Table, *, anonymised: bool = False) -> list[list[Any]]:
    rows: list[list[Any]] = [[table.row_header] + [label for _key, label in table.columns]]
    for row in table.rows:
        if anonymised:
            rows.append([row.label] + [obs.anonymised_value(cell) for cell in row.cells])
        else:
            rows.append([row.label] + [cell.value for cell in row.cells])
    return rows


def _filename(filters: obs.Filters, slug: str, region: Region | None, ext: str) -> str:
    where = "".join(c for c in region.code if c.isalnum() or c in "-_") if region else "national"
    return f"observatoire-{slug}-{where}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{ext}"


@login_required
def observatory_export(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    """One table of the dashboard as CSV or XLSX, with the establishments' counts."""
    national, region, _form, filters = _context(request, None)
    dashboard = obs.observatory_dashboard(user=request.user, filters=filters, national=region is None)
    table = dashboard.tables.get(slug)
    if table is None or fmt not in ("csv", "xlsx"):
        raise Http404
    rows = [[table.title], *_table_rows(table)]
    filename = _filename(filters, slug, region, fmt)
    if fmt == "csv":
        return tabular.csv_response(rows, filename=filename)
    return tabular.xlsx_response([(slug, rows)], filename=filename)


@login_required
def observatory_export_anonymised(request: HttpRequest) -> HttpResponse:
    """Every table of the dashboard as one CSV that names no establishment, with cells of
    fewer than five establishments suppressed ("<5"). No totals: a total next to one
    suppressed cell would give it away."""
    _national, region, _form, filters = _context(request, None)
    dashboard = obs.observatory_dashboard(user=request.user, filters=filters, national=region is None)
    rows: list[list[Any]] = [
        [_("Anonymised aggregate export: cells counting fewer than %(n)d establishments are shown "
           "as %(mark)s.") % {"n": obs.ANONYMITY_THRESHOLD, "mark": obs.SUPPRESSED}],
        [_("Period"), filters.start.isoformat(), filters.end.isoformat()],
    ]
    for table in dashboard.tables.values():
        if table.unavailable:
            continue
        rows.append([])
        rows.append([table.title])
        rows.extend(_table_rows(table, anonymised=True))
    stamp = datetime.date.today().strftime("%Y%m%d")
    return tabular.csv_response(
        rows, filename=_filename(filters, "anonyme", region, "csv").replace(".csv", f"-{stamp}.csv"))
