from django.urls import path, re_path

from planblanc.plans import export_views, offline_views, views
from planblanc.plans.forms import PARTS_BY_SLUG

app_name = "plans"

# Plan pages and part editors (plans/views.py)
_PART = "(?P<part>" + "|".join(PARTS_BY_SLUG) + ")"
urlpatterns: list = [
    path("", views.plan_index, name="index"),
    path("liste/", views.plan_list, name="list"),
    path("<int:establishment_id>/", views.plan_overview, name="overview"),
    path("<int:establishment_id>/commencer/", views.plan_start, name="start"),
    path("<int:establishment_id>/cellule/", views.plan_cell, name="cell"),
    path("<int:establishment_id>/versions/", views.plan_versions, name="versions"),
    path("<int:establishment_id>/versions/<int:number>/", views.plan_version, name="version"),
    path("<int:establishment_id>/comparer/", views.plan_compare, name="compare"),
    path("<int:establishment_id>/approuver/", views.plan_approve, name="approve"),
    path("<int:establishment_id>/fiches-reflexes/ajouter/", views.reflex_sheet_edit, name="reflex_sheet_add"),
    path("<int:establishment_id>/fiches-reflexes/<int:pk>/", views.reflex_sheet_edit, name="reflex_sheet_edit"),
    path("<int:establishment_id>/sieges/<int:pk>/suppleants/", views.seat_deputies, name="seat_deputies"),
    re_path(rf"^(?P<establishment_id>[0-9]+)/{_PART}/$", views.part_list, name="part_list"),
    re_path(rf"^(?P<establishment_id>[0-9]+)/{_PART}/ajouter/$", views.part_edit, name="part_add"),
    re_path(rf"^(?P<establishment_id>[0-9]+)/{_PART}/(?P<pk>[0-9]+)/$", views.part_edit, name="part_edit"),
    re_path(rf"^(?P<establishment_id>[0-9]+)/{_PART}/(?P<pk>[0-9]+)/supprimer/$", views.part_delete,
            name="part_delete"),
]

# Paper kit and offline bundle (plans/export_views.py)
urlpatterns += [
    path("<int:establishment_id>/kit-papier/", export_views.paper_kit, name="paper_kit"),
    path("<int:establishment_id>/cle-usb/", export_views.offline_bundle, name="offline_bundle"),
    path("<int:establishment_id>/impressions/", export_views.exports, name="exports"),
]

# Pages kept by the installed app for reading offline (plans/offline_views.py)
urlpatterns += [
    path("hors-ligne/", offline_views.offline_index, name="offline_index"),
    path("hors-ligne/<int:establishment_id>/", offline_views.offline_plan, name="offline_plan"),
]
