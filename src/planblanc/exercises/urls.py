from django.urls import include, path

from planblanc.exercises import views

app_name = "exercises"

urlpatterns = [
    path("", views.exercise_list, name="list"),
    path("kits/", views.kit_library, name="kits"),
    path("nouveau/", views.exercise_create, name="create"),
    path("<int:pk>/", views.exercise_detail, name="detail"),
    path("<int:pk>/modifier/", views.exercise_edit, name="edit"),
    path("<int:pk>/planifier/", views.exercise_schedule, name="schedule"),
    path("<int:pk>/annuler/", views.exercise_cancel, name="cancel"),
    path("<int:pk>/invitation.ics", views.exercise_ics, name="ics"),
    path("<int:pk>/invitations/envoyer/", views.invitations_send, name="invitations_send"),
    path("<int:pk>/injects/ajouter/", views.inject_edit, name="inject_add"),
    path("<int:pk>/injects/<int:inject_pk>/", views.inject_edit, name="inject_edit"),
    path("<int:pk>/injects/<int:inject_pk>/supprimer/", views.inject_delete, name="inject_delete"),
    path("<int:pk>/injects/<int:inject_pk>/pieces/", views.inject_file_add, name="inject_file_add"),
    path("<int:pk>/injects/<int:inject_pk>/pieces/<int:file_pk>/", views.inject_file, name="inject_file"),
    path("<int:pk>/injects/<int:inject_pk>/pieces/<int:file_pk>/supprimer/", views.inject_file_delete,
         name="inject_file_delete"),
    path("<int:pk>/injects/<int:inject_pk>/reactions/", views.reaction_add, name="reaction_add"),
    path("<int:pk>/injects/<int:inject_pk>/reactions/<int:reaction_pk>/supprimer/", views.reaction_delete,
         name="reaction_delete"),
    path("<int:pk>/participants/", views.participant_add, name="participant_add"),
    path("<int:pk>/participants/<int:participant_pk>/retirer/", views.participant_remove, name="participant_remove"),
    path("<int:pk>/participants/<int:participant_pk>/invitation.ics", views.participant_ics, name="participant_ics"),
    path("<int:pk>/import/", views.import_upload, name="import_upload"),
    path("<int:pk>/import/apercu/", views.import_preview, name="import_preview"),
    path("<int:pk>/export.xlsx", views.export_xlsx, name="export_xlsx"),
    path("<int:pk>/export.json", views.export_json, name="export_json"),
    path("", include("planblanc.exercises.urls_run")),
    path("", include("planblanc.exercises.urls_regional")),
]
