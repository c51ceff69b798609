from django.urls import path

from planblanc.directory import import_views, views

app_name = "directory"
urlpatterns = [
    path("etablissements/", views.establishment_list, name="establishment_list"),
    path("etablissements/nouveau/", views.establishment_create, name="establishment_create"),
    path("etablissements/<int:pk>/", views.establishment_detail, name="establishment_detail"),
    path("etablissements/<int:pk>/modifier/", views.establishment_edit, name="establishment_edit"),
    path("etablissements/<int:establishment_pk>/services/nouveau/", views.department_create, name="department_create"),
    path("services/<int:pk>/modifier/", views.department_edit, name="department_edit"),
    path("services/<int:pk>/supprimer/", views.department_delete, name="department_delete"),
    path("personnes/", views.person_list, name="person_list"),
    path("personnes/nouvelle/", views.person_create, name="person_create"),
    path("personnes/<int:pk>/", views.person_detail, name="person_detail"),
    path("personnes/<int:pk>/modifier/", views.person_edit, name="person_edit"),
    path("personnes/<int:pk>/supprimer/", views.person_delete, name="person_delete"),
    path("personnes/<int:person_pk>/fonctions/", views.membership_add, name="membership_add"),
    path("fonctions/<int:pk>/retirer/", views.membership_remove, name="membership_remove"),
]

# Import / export (directory/importing/, directory/exporting.py)
urlpatterns += [
    path("import/", import_views.import_start, name="import_start"),
    path("import/<int:pk>/", import_views.import_preview, name="import_preview"),
    path("import/<int:pk>/confirmer/", import_views.import_confirm, name="import_confirm"),
    path("import/<int:pk>/annuler/", import_views.import_cancel, name="import_cancel"),
    path("import/<int:pk>/resultat/", import_views.import_result, name="import_result"),
    path("etablissements/export.<str:fmt>", import_views.establishment_export, name="establishment_export"),
    path("personnes/export.<str:fmt>", import_views.person_export, name="person_export"),
]
