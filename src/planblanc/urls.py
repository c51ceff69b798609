from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from planblanc.api.urls import api
from planblanc.core.views_drills import drill_new
from planblanc.crisis.views_situation import situation_public

urlpatterns = [
    path("", include("planblanc.core.urls")),
    path("compte/", include("planblanc.accounts.urls")),
    path("annuaire/", include("planblanc.directory.urls")),
    path("plan/", include("planblanc.plans.urls")),
    path("preparation/", include("planblanc.readiness.urls")),
    path("exercices/", include("planblanc.exercises.urls")),
    path("", include("planblanc.alerting.urls")),
    path("crise/", include("planblanc.crisis.urls")),
    # The staff situation page: readable without an account through its secret link.
    path("situation/<str:token>/", situation_public, name="situation_public"),
    path("entraide/", include("planblanc.mutual_aid.urls")),
    # Launching a phishing drill also records an exercise: the site joins the two apps.
    path("sensibilisation/etablissement/<int:pk>/exercices-hameconnage/lancer/", drill_new, name="drill_new"),
    path("sensibilisation/", include("planblanc.awareness.urls")),
    path("api/v1/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    # One login page for everyone, with throttling and two-factor.
    path("admin/login/", RedirectView.as_view(pattern_name="accounts:login", query_string=True)),
    path("admin/", admin.site.urls),
]

handler400 = "planblanc.core.views_errors.bad_request"
handler403 = "planblanc.core.views_errors.permission_denied"
handler404 = "planblanc.core.views_errors.page_not_found"
handler500 = "planblanc.core.views_errors.server_error"
