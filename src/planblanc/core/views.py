from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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


def _health_token_given(request: HttpRequest) -> bool:
    expected = settings.PLANBLANC_HEALTHZ_TOKEN
    if not expected:
        return False
    header = request.headers.get("Authorization", "")
    given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    given = given or request.GET.get("token", "")
    return constant_time_compare(given.encode("utf-8", "replace"), expected.encode("utf-8"))


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring. Anyone gets only {"status": "ok"} (200) or
    {"status": "degraded"} (503: the database does not answer, no worker is alive, or the
    oldest queued task waits longer than the stale delay). With the monitoring token
    (PLANBLANC_HEALTHZ_TOKEN, as `Authorization: Bearer …` or `?token=`), the details."""
    database_ok = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status = worker_status()
    except DatabaseError:
        database_ok, status = False, None
    healthy = database_ok and status is not None and status.workers_alive > 0 and (
        status.oldest_queued_age_seconds or 0) <= settings.WORKER_STALE_AFTER_SECONDS
    payload: dict[str, object] = {"status": "ok" if healthy else "degraded"}
    if _health_token_given(request):
        payload |= {
            "database": "ok" if database_ok else "unavailable",
            "workers_alive": status.workers_alive if status else None,
            "queued_tasks": status.queued if status else None,
            "oldest_queued_age_seconds": status.oldest_queued_age_seconds if status else None,
        }
    return JsonResponse(payload, status=200 if healthy else 503)


# The installable app ----------------------------------------------------------------------

_SERVICE_WORKER = Path(__file__).resolve().parent.parent / "static" / "planblanc" / "sw.js"


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, from the site root so that its scope is the whole site."""
    script = _SERVICE_WORKER.read_text(encoding="utf-8").replace(
        '"/static/planblanc/push-sw.js"', json.dumps(static("planblanc/push-sw.js")))
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    # A new version of the worker is picked up at the next visit.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: the platform installs on a phone's home screen."""
    response = JsonResponse({
        "name": "Plan Blanc Numérique",
        "short_name": "Plan Blanc",
        "description": str(_("Prepare for, rehearse and live through a cyberattack.")),
        "lang": get_language() or "fr",
        "start_url": reverse("core:home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#12325a",
        "icons": [{"src": static("planblanc/favicon.svg"), "sizes": "any", "type": "image/svg+xml",
                   "purpose": "any"}],
        "shortcuts": [{"name": str(_("Offline copy")), "url": reverse("plans:offline_index")}],
    }, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response
