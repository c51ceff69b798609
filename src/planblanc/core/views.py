from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from planblanc.alerting.selectors import alerts_to_acknowledge
from planblanc.core.backup import backup_status
from planblanc.core.selectors import worker_status
from planblanc.directory.selectors import directory_summary, establishment_list
from planblanc.tenancy import Perm, has_perm_somewhere


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {
        "summary": directory_summary(user=request.user),
        "establishments": establishment_list(user=request.user)[:12],
        "worker": worker_status(),
        "alerts_pending": alerts_to_acknowledge(user=request.user).count(),
        # National and establishment administrators answer for the platform's backups.
        "backups": backup_status() if has_perm_somewhere(request.user, Perm.MANAGE_ACCESS) else None,
    })


@login_required
def worker_badge(request: HttpRequest) -> HttpResponse:
    """Polled by every page: is background work running?"""
    return render(request, "core/_worker_badge.html", {"worker": worker_status()})


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: the database answers; the worker's state."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    status = worker_status()
    return JsonResponse({
        "database": "ok",
        "workers_alive": status.workers_alive,
        "queued_tasks": status.queued,
        "oldest_queued_age_seconds": status.oldest_queued_age_seconds,
    })
