from django.urls import path

from planblanc.plans import export_views

app_name = "plans"

# Plan pages and part editors (plans/views.py)
urlpatterns: list = []

# Paper kit and offline bundle (plans/export_views.py)
urlpatterns += [
    path("<int:establishment_id>/kit-papier/", export_views.paper_kit, name="paper_kit"),
    path("<int:establishment_id>/cle-usb/", export_views.offline_bundle, name="offline_bundle"),
    path("<int:establishment_id>/impressions/", export_views.exports, name="exports"),
]
