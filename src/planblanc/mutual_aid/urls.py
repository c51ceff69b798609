from django.urls import path

from planblanc.mutual_aid import views

app_name = "mutual_aid"

urlpatterns = [
    path("", views.index, name="index"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("catalogue/nouvelle/", views.resource_create, name="resource_create"),
    path("catalogue/<int:pk>/", views.resource_edit, name="resource_edit"),
    path("catalogue/export.<str:fmt>", views.catalogue_export, name="catalogue_export"),
    path("catalogue/import/", views.catalogue_import, name="catalogue_import"),
    path("catalogue/import/<int:pk>/", views.catalogue_import_preview, name="catalogue_import_preview"),
    path("crise/<int:crisis_id>/demande/", views.request_create, name="request_create"),
    path("crise/<int:crisis_id>/point/", views.situation_report, name="situation_report"),
    path("crise/<int:crisis_id>/have.xml", views.hospital_status, name="hospital_status"),
    path("demandes/<int:pk>/", views.request_detail, name="request_detail"),
    path("demandes/<int:pk>/annuler/", views.request_cancel, name="request_cancel"),
    path("demandes/<int:pk>/edxl-rm.xml", views.request_edxl, name="request_edxl"),
    path("offres/<int:pk>/<str:action>/", views.offer_action, name="offer_action"),
    path("offres/<int:pk>/edxl/<str:message_type>.xml", views.offer_edxl, name="offer_edxl"),
    path("astreintes/", views.responder_routes, name="responder_routes"),
    path("edxl/import/", views.edxl_import, name="edxl_import"),
    path("region/", views.regional_list, name="regional_list"),
    path("region/<int:pk>/", views.regional_board, name="regional_board"),
    path("region/<int:pk>/lier/", views.regional_link, name="regional_link"),
    path("region/<int:pk>/alerte/", views.regional_alert, name="regional_alert"),
    path("region/<int:pk>/main-courante/", views.regional_logbook, name="regional_logbook"),
]
