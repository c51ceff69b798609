"""CAP 1.2 and voice-call routes, inside the alerting namespace."""

from django.urls import path

from planblanc.alerting import views_cap, voice_views

urlpatterns = [
    path("alertes/<int:pk>/cap.xml", views_cap.cap_download, name="campaign_cap"),
    path("alertes/cap/recevoir/", views_cap.cap_receive_page, name="cap_receive"),
    path("voix/<str:provider>/rappel/<str:token>/", voice_views.voice_callback, name="voice_callback"),
]
