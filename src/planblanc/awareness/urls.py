from django.urls import path

from planblanc.awareness import campaign_views, views, views_drills

app_name = "awareness"

urlpatterns = [
    path("etablissement/<int:pk>/", views.establishment, name="establishment"),
    path("etablissement/<int:pk>/carte-reflexe.pdf", views.reflex_card, name="reflex_card"),
    path("etablissement/<int:pk>/exercices-hameconnage/", views_drills.drill_list, name="drills"),
    path("exercice-hameconnage/<int:pk>/", views_drills.drill_detail, name="drill_detail"),
    path("x/<str:token>/", views_drills.drill_click, name="drill_click"),
    path("x/<str:token>/vu/", views_drills.drill_seen, name="drill_seen"),
    path("x/<str:token>/exercice/", views_drills.drill_lesson, name="drill_lesson"),
    path("x/<str:token>/signaler/", views_drills.drill_report, name="drill_report"),
    path("x/<str:token>/logo.gif", views_drills.drill_image, name="drill_image"),
    path("campagne/<int:pk>/inviter/", views.campaign_invite, name="campaign_invite"),
    path("campagne/<int:pk>/progression/", views.campaign_progress, name="campaign_progress"),
    path("lancement/", campaign_views.launches, name="launches"),
    path("lancement/<int:pk>/inviter/", campaign_views.launch_invite, name="launch_invite"),
    path("lancement/<int:pk>/etat/", campaign_views.launch_state, name="launch_state"),
    path("observatoire/", campaign_views.observatory_page, name="observatory"),
    path("l/<str:token>/", views.learner_home, name="learner_home"),
    path("l/<str:token>/attestation.pdf", views.learner_certificate, name="learner_certificate"),
    path("l/<str:token>/<slug:slug>/", views.learner_module, name="learner_module"),
    path("l/<str:token>/<slug:slug>/quiz/", views.learner_quiz, name="learner_quiz"),
]
