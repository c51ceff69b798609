from django.urls import path

from planblanc.alerting import views

app_name = "alerting"
urlpatterns = [
    path("ack/<str:token>/", views.acknowledge, name="acknowledge"),
    path("alertes/", views.campaign_list, name="campaign_list"),
    path("alertes/nouvelle/", views.campaign_new, name="campaign_new"),
    path("alertes/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("alertes/<int:pk>/progression/", views.campaign_progress, name="campaign_progress"),
    path("alertes/<int:pk>/export.csv", views.campaign_export, name="campaign_export"),
]
