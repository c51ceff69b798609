"""Routes of regional exercises (included by exercises/urls.py)."""

from django.urls import path

from planblanc.exercises import views_regional

urlpatterns = [
    path("regional/", views_regional.regional_list, name="regional_list"),
    path("regional/nouveau/", views_regional.regional_create, name="regional_create"),
    path("regional/<int:pk>/", views_regional.regional_console, name="regional_console"),
    path("regional/<int:pk>/etat/", views_regional.regional_state, name="regional_state"),
    path("regional/<int:pk>/action/<str:action>/", views_regional.regional_control, name="regional_control"),
    path("regional/<int:pk>/rapport/", views_regional.regional_report, name="regional_report"),
    path("regional/<int:pk>/rapport/<str:kind>.csv", views_regional.regional_report_export,
         name="regional_report_export"),
]
