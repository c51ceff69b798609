"""Pages of the directory import (upload, preview, confirm) and the list exports. Thin:
the rules live in directory.importing and directory.exporting."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from planblanc.core.forms import BootstrapFormMixin
from planblanc.directory import exporting, importing
from planblanc.directory.models import Establishment, ImportKind, ImportStatus
from planblanc.tenancy import Perm, has_perm_somewhere

GOOD_ROWS_SHOWN = 10
BAD_ROWS_SHOWN = 500


def _kinds_for(user: Any) -> list[tuple[str, Any]]:
    return [
        (value, label) for value, label in ImportKind.choices
        if has_perm_somewhere(user, importing.KIND_PERM[value])
    ]


class ImportUploadForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"))
    establishment = forms.ModelChoiceField(
        label=gettext_lazy("Establishment (people only)"), queryset=Establishment.objects.none(), required=False,
        help_text=gettext_lazy("Optional: every line then goes to this establishment, "
                               "and the establishment FINESS column may be left out."),
    )
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV (separated by ; or ,) or XLSX, up to 5 MB and 20,000 lines. "
                               "The first line holds the column names."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-"
                                                         "officedocument.spreadsheetml.sheet"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = _kinds_for(user)
        if has_perm_somewhere(user, Perm.MANAGE_PEOPLE):
            self.fields["establishment"].queryset = Establishment.objects.visible_to(user, Perm.MANAGE_PEOPLE)
        else:
            del self.fields["establishment"]


@login_required
def import_start(request: HttpRequest) -> HttpResponse:
    kinds = _kinds_for(request.user)
    if not kinds:
        raise Http404
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        establishment = form.cleaned_data.get("establishment")
        kind = form.cleaned_data["kind"]
        if upload.size > importing.MAX_BYTES:
            form.add_error("file", _("The file is larger than %(size)d MB: split it into several files.")
                           % {"size": importing.MAX_BYTES // 2**20})
        else:
            try:
                batch = importing.directory_import_upload(
                    actor=request.user, kind=kind, filename=upload.name, content=upload.read(),
                    establishment=establishment if kind == ImportKind.PEOPLE else None,
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            except PermissionDenied:
                form.add_error("establishment", _("You may not import people into this establishment."))
            else:
                return redirect("directory:import_preview", pk=batch.pk)
    return render(request, "directory/import_start.html", {
        "form": form, "batches": importing.import_batch_list(user=request.user),
        "column_help": [(label, importing.COLUMNS[kind]) for kind, label in kinds],
    })


@login_required
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    batch = importing.import_batch_for_user(user=request.user, pk=pk)
    if batch.status == ImportStatus.APPLIED:
        return redirect("directory:import_result", pk=batch.pk)
    bad_lines = {error["line"] for error in batch.errors}
    labels = [label for _key, label in batch.columns]
    good_rows = []
    for row in batch.rows:
        if row["line"] not in bad_lines:
            good_rows.append({"line": row["line"], "cells": [row["cells"].get(key, "") for key, _ in batch.columns]})
            if len(good_rows) >= GOOD_ROWS_SHOWN:
                break
    return render(request, "directory/import_preview.html", {
        "batch": batch, "labels": labels, "good_rows": good_rows,
        "bad_rows": batch.errors[:BAD_ROWS_SHOWN], "bad_rows_hidden": max(0, len(batch.errors) - BAD_ROWS_SHOWN),
        "pending": batch.status == ImportStatus.PENDING,
    })


@login_required
@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    batch = importing.import_batch_for_user(user=request.user, pk=pk, pending=True)
    try:
        importing.directory_import_apply(
            actor=request.user, batch=batch, only_good_rows=request.POST.get("only_good_rows") == "1"
        )
    except (ValidationError, PermissionDenied) as exc:
        for message in getattr(exc, "messages", [str(exc)]):
            messages.error(request, message)
        return redirect("directory:import_preview", pk=batch.pk)
    messages.success(request, _("Import done."))
    return redirect("directory:import_result", pk=batch.pk)


@login_required
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    batch = importing.import_batch_for_user(user=request.user, pk=pk, pending=True)
    importing.directory_import_cancel(actor=request.user, batch=batch)
    messages.info(request, _("Import cancelled: nothing was written."))
    return redirect("directory:import_start")


@login_required
def import_result(request: HttpRequest, pk: int) -> HttpResponse:
    batch = importing.import_batch_for_user(user=request.user, pk=pk)
    if batch.status != ImportStatus.APPLIED:
        return redirect("directory:import_preview", pk=batch.pk)
    return render(request, "directory/import_result.html", {"batch": batch, "summary": batch.summary})


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _export_response(request: HttpRequest, *, kind: Any, fmt: str, rows: Any) -> HttpResponse:
    filename = exporting.export_filename(kind=kind, fmt=fmt, today=timezone.localdate())
    response: HttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(exporting.export_csv(kind=kind, rows=rows),
                                         content_type=exporting.CONTENT_TYPES["csv"])
    else:
        response = HttpResponse(exporting.export_xlsx(kind=kind, rows=rows),
                                content_type=exporting.CONTENT_TYPES["xlsx"])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def establishment_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in exporting.FORMATS:
        raise Http404
    rows = exporting.establishment_export_rows(
        user=request.user, search=request.GET.get("q", "").strip(),
        region_id=_int_or_none(request.GET.get("region")), category=request.GET.get("category", ""),
    )
    return _export_response(request, kind=ImportKind.ESTABLISHMENTS, fmt=fmt, rows=rows)


@login_required
def person_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in exporting.FORMATS:
        raise Http404
    rows = exporting.person_export_rows(
        user=request.user, search=request.GET.get("q", "").strip(),
        establishment_id=_int_or_none(request.GET.get("establishment")), function=request.GET.get("function", ""),
    )
    return _export_response(request, kind=ImportKind.PEOPLE, fmt=fmt, rows=rows)
