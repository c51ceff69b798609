"""My devices (Web Push subscriptions) and the actions of a push notification."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from planblanc.alerting import push, services
from planblanc.alerting.channels.base import providers_for
from planblanc.alerting.channels.webpush import vapid_public_key
from planblanc.alerting.chat import answer_record, decline_record


def _devices_context(request: HttpRequest) -> dict[str, object]:
    provider = next(iter(providers_for("push")), None)
    return {
        "devices": list(push.devices_of(user=request.user)),
        "push_enabled": provider is not None,
        "vapid_public_key": vapid_public_key(getattr(provider, "key_path", None)) if provider is not None else "",
    }


@login_required
@never_cache
def devices(request: HttpRequest) -> HttpResponse:
    return render(request, "alerting/devices.html", _devices_context(request))


@login_required
@require_POST
def device_subscribe(request: HttpRequest) -> HttpResponse:
    """The app's script posts PushSubscription.toJSON() here (with the CSRF header)."""
    try:
        subscription = push.push_subscription_add(
            user=request.user, raw=request.body[: push.MAX_SUBSCRIPTION_BYTES + 1],
            user_agent=request.headers.get("User-Agent", ""),
        )
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse({"id": subscription.pk}, status=201)


@login_required
@require_POST
def device_remove(request: HttpRequest, pk: int) -> HttpResponse:
    push.push_subscription_remove(user=request.user, subscription_id=pk)
    if request.headers.get("HX-Request"):
        return render(request, "alerting/_devices.html", _devices_context(request))
    return devices(request)


@csrf_exempt
@never_cache
@require_http_methods(["POST"])
def push_action(request: HttpRequest, token: str, action: str) -> HttpResponse:
    """A notification's action button, posted by the service worker: the signed link is
    the credential (no session in a service worker's background fetch)."""
    if action not in ("ack", "decline"):
        return JsonResponse({"state": "unknown action"}, status=404)
    try:
        delivery = services.ack_link_verify(token)
    except services.AckLinkExpired:
        return JsonResponse({"state": "expired"}, status=410)
    except services.AckLinkInvalid:
        return JsonResponse({"state": "invalid"}, status=400)

    try:
        if action == "ack":
            answer_record(delivery=delivery, via="push")
        else:
            decline_record(delivery=delivery, via="push")
    except ValidationError as exc:  # a campaign closed or cancelled since
        return JsonResponse({"state": "refused", "error": " ".join(exc.messages)}, status=409)
    return JsonResponse({"state": "done", "action": action})
