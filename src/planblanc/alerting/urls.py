from django.urls import path

from planblanc.alerting import views

app_name = "alerting"
urlpatterns = [
    path("ack/<str:token>/", views.acknowledge, name="acknowledge"),
]
