from django.urls import include, path

from planblanc.crisis import views, views_situation

app_name = "crisis"
urlpatterns = [
    path("", views.index, name="index"),
    path("etablissement/<int:establishment_id>/", views.establishment_home, name="establishment"),
    path("<int:crisis_id>/", views.console, name="console"),
    path("<int:crisis_id>/live/", views.live, name="live"),
    path("<int:crisis_id>/cellule/", views.cell_board, name="cell_board"),
    path("<int:crisis_id>/v/<slug:slug>/", views.section, name="section"),
    path("<int:crisis_id>/journal/", views.entry_add, name="entry_add"),
    path("<int:crisis_id>/decisions/", views.decision_add, name="decision_add"),
    path("<int:crisis_id>/taches/", views.task_add, name="task_add"),
    path("<int:crisis_id>/taches/<int:task_id>/", views.task_status, name="task_status"),
    path("<int:crisis_id>/services/<int:row_id>/", views.department_status, name="department_status"),
    path("<int:crisis_id>/systemes/", views.system_add, name="system_add"),
    path("<int:crisis_id>/systemes/<int:row_id>/", views.system_status, name="system_status"),
    path("<int:crisis_id>/bilan/", views.damage, name="damage"),
    path("<int:crisis_id>/fin/", views.close, name="close"),
    path("<int:crisis_id>/verifier/", views.verify, name="verify"),
    path("<int:crisis_id>/main-courante.<str:fmt>", views.export, name="export"),
    path("<int:crisis_id>/pieces/<int:attachment_id>/", views.attachment, name="attachment"),
    path("<int:crisis_id>/situation/", views_situation.situation_edit, name="situation"),
    path("<int:crisis_id>/situation/revoquer/", views_situation.situation_revoke, name="situation_revoke"),
    path("", include("planblanc.crisis.urls_reporting")),
]
