"""Routes of the crisis console's second part (included by crisis/urls.py, same namespace)."""

from django.urls import path

from planblanc.crisis import views_notifications as views

urlpatterns = [
    path("<int:crisis_id>/notifications/", views.notification_list, name="notification_list"),
    path("<int:crisis_id>/notifications/<str:kind>/", views.notification_form, name="notification_form"),
    path("<int:crisis_id>/notifications/<str:kind>/envoyee/", views.notification_sent, name="notification_sent"),
    path("<int:crisis_id>/notifications/<str:kind>.<str:fmt>", views.notification_export,
         name="notification_export"),
    path("<int:crisis_id>/ioc/", views.indicator_list, name="indicator_list"),
    path("<int:crisis_id>/ioc/<int:indicator_id>/retirer/", views.indicator_delete, name="indicator_delete"),
    path("<int:crisis_id>/ioc.<str:fmt>", views.indicator_export, name="indicator_export"),
    path("<int:crisis_id>/communication/", views.communication_list, name="communication_list"),
    path("<int:crisis_id>/communication/<int:draft_id>/<str:action>/", views.communication_action,
         name="communication_action"),
    path("<int:crisis_id>/retex/", views.report_page, name="report"),
    path("<int:crisis_id>/retex/actions/<int:action_id>/", views.improvement_status, name="improvement_status"),
    path("<int:crisis_id>/retex.pdf", views.report_export, name="report_export"),
]
