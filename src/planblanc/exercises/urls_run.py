"""Routes of the live run, the evaluation and the lessons-learned report (included by
exercises/urls.py)."""

from django.urls import path

from planblanc.exercises import views_run

urlpatterns = [
    path("<int:pk>/deroule/", views_run.console, name="run_console"),
    path("<int:pk>/deroule/etat/", views_run.console_state, name="run_state"),
    path("<int:pk>/deroule/lancer/", views_run.run_start, name="run_start"),
    path("<int:pk>/deroule/<str:action>/", views_run.run_control, name="run_control"),
    path("<int:pk>/deroule/injects/<int:row_pk>/<str:action>/", views_run.inject_action, name="run_inject"),
    path("<int:pk>/joueur/", views_run.player, name="run_player"),
    path("<int:pk>/joueur/boite/", views_run.player_inbox, name="run_player_inbox"),
    path("<int:pk>/joueur/fil/", views_run.player_feed, name="run_player_feed"),
    path("<int:pk>/joueur/pieces/<int:file_pk>/", views_run.player_attachment, name="run_player_attachment"),
    path("<int:pk>/observateur/", views_run.observer, name="run_observer"),
    path("<int:pk>/evaluation/", views_run.evaluation_page, name="run_evaluation"),
    path("<int:pk>/retex/", views_run.report_page, name="run_report"),
    path("<int:pk>/retex.pdf", views_run.report_pdf, name="run_report_pdf"),
    path("questionnaire/<str:token>/", views_run.questionnaire, name="questionnaire"),
]
