from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import ValidationError as NinjaValidationError

from planblanc.api.alerting_cap import router as alerting_cap_router
from planblanc.api.auth import TokenAuth, VerifiedSessionAuth
from planblanc.api.crisis import router as crisis_router
from planblanc.api.crisis_reporting import router as crisis_reporting_router
from planblanc.api.directory import router as directory_router
from planblanc.api.exercises import router as exercises_router
from planblanc.api.mutual_aid import router as mutual_aid_router
from planblanc.api.plans import router as plans_router
from planblanc.api.readiness import router as readiness_router

# Every status an operation can answer besides its own, each with the same JSON body.
ERROR_STATUSES = {
    "400": "Bad request.", "401": "Authentication is required.", "403": "Not allowed.", "404": "Not found.",
    "405": "Method not allowed.", "409": "Conflicts with recorded data.", "413": "Request body too large.", "422": "Invalid data.",
    "500": "Server error (recorded).",
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": {}}]},
        "errors": {"anyOf": [{"type": "object"}, {"type": "array", "items": {}}]},
    },
    "required": ["detail"],
}


class PlanBlancAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for status, description in ERROR_STATUSES.items():
                    operation["responses"].setdefault(status, {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    })
        return schema


api = PlanBlancAPI(
    title="Plan Blanc Numérique",
    version="1",
    description="Directory and platform API. Authenticate with `Authorization: Bearer <token>`.",
    auth=[TokenAuth(), VerifiedSessionAuth()],
    urls_namespace="api",
)


def _validation_messages(exc: ValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in errors for m in m.messages] for field, errors in exc.error_dict.items()}
    return {"__all__": exc.messages}


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": _("Invalid data."), "errors": _validation_messages(exc)}, status=422)


@api.exception_handler(NinjaValidationError)
def on_schema_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "")),
         "type": str(error.get("type", ""))}
        for error in exc.errors
    ]
    return api.create_response(request, {"detail": _("Invalid data."), "errors": errors}, status=422)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or _("You are not allowed to make this change.")}, status=403)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": _("Not found.")}, status=404)


api.add_router("/directory/", directory_router)
api.add_router("/plans/", plans_router)
api.add_router("/readiness/", readiness_router)
api.add_router("/exercises/", exercises_router)
api.add_router("/mutual-aid/", mutual_aid_router)
api.add_router("/crisis/", crisis_router)
api.add_router("/crisis/", crisis_reporting_router)
api.add_router("/alerting/", alerting_cap_router)
