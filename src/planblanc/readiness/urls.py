from django.urls import path

from planblanc.readiness import observatory_views, views

app_name = "readiness"
urlpatterns = [
    path("", views.index, name="index"),
    path("etablissements/<int:pk>/", views.establishment_home, name="establishment"),
    path("etablissements/<int:pk>/referentiels/<int:referential_pk>/evaluer/", views.assessment_start,
         name="assessment_start"),
    path("evaluations/<int:pk>/", views.assessment_detail, name="assessment"),
    path("evaluations/<int:pk>/mesures/<int:measure_pk>/reponse/", views.answer_record, name="answer"),
    path("evaluations/<int:pk>/mesures/<int:measure_pk>/historique/", views.answer_history, name="answer_history"),
    path("evaluations/<int:pk>/mesures/<int:measure_pk>/preuves/", views.evidence_add, name="evidence_add"),
    path("preuves/<int:pk>/fichier/", views.evidence_file, name="evidence_file"),
    path("etablissements/<int:pk>/actions/", views.action_list, name="actions"),
    path("actions/<int:pk>/modifier/", views.action_edit, name="action_edit"),
    path("etablissements/<int:pk>/gouvernance/", views.governance, name="governance"),
    path("observatoire/", observatory_views.observatory_index, name="observatory"),
    path("observatoire/national/", observatory_views.observatory_national, name="observatory_national"),
    path("observatoire/regions/<int:region_pk>/", observatory_views.observatory_region, name="observatory_region"),
    path("observatoire/etablissements/", observatory_views.observatory_drilldown, name="observatory_drilldown"),
    path("observatoire/export/<slug:slug>.<str:fmt>", observatory_views.observatory_export, name="observatory_export"),
    path("observatoire/export-anonyme.csv", observatory_views.observatory_export_anonymised,
         name="observatory_export_anonymised"),
]
