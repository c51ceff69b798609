from django.urls import include, path

from planblanc.alerting import views, views_push, views_targeting

app_name = "alerting"
urlpatterns = [
    path("ack/<str:token>/", views.acknowledge, name="acknowledge"),
    path("ack/<str:token>/push/<str:action>/", views_push.push_action, name="push_action"),
    path("alertes/appareils/", views_push.devices, name="devices"),
    path("alertes/appareils/abonner/", views_push.device_subscribe, name="device_subscribe"),
    path("alertes/appareils/<int:pk>/retirer/", views_push.device_remove, name="device_remove"),
    path("alertes/", views.campaign_list, name="campaign_list"),
    path("alertes/a-confirmer/", views.alerts_to_acknowledge, name="to_acknowledge"),
    path("alertes/nouvelle/", views.campaign_new, name="campaign_new"),
    path("alertes/cibler/", views_targeting.campaign_target_new, name="campaign_target_new"),
    path("alertes/cibler/apercu/", views_targeting.campaign_target_preview, name="campaign_target_preview"),
    path("alertes/<int:pk>/etablissements/", views_targeting.campaign_establishments, name="campaign_establishments"),
    path("alertes/preferences/<int:person_id>/", views_targeting.contact_preference_edit, name="contact_preference"),
    path("alertes/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("alertes/<int:pk>/cloturer/", views.campaign_close, name="campaign_close"),
    path("alertes/<int:pk>/progression/", views.campaign_progress, name="campaign_progress"),
    path("alertes/<int:pk>/export.csv", views.campaign_export, name="campaign_export"),
    path("sms/<str:provider>/dlr/", views.sms_receipt, name="sms_receipt"),
    path("sms/<str:provider>/mo/", views.sms_reply, name="sms_reply"),
    path("astreintes/", views.oncall_now_page, name="oncall_now"),
    path("astreintes/nouvelle/", views.rotation_new, name="rotation_new"),
    path("astreintes/<int:pk>/", views.rotation_detail, name="rotation_detail"),
    path("astreintes/ical/<int:person_id>/<str:token>.ics", views.oncall_ical, name="oncall_ical"),
    path("escalades/", views.escalation_list, name="escalation_list"),
    path("escalades/politique/nouvelle/", views.policy_new, name="policy_new"),
    path("escalades/nouvelle/", views.escalation_new, name="escalation_new"),
    path("escalades/<int:pk>/", views.escalation_detail, name="escalation_detail"),
    path("escalades/<int:pk>/etat/", views.escalation_state, name="escalation_state"),
    path("", include("planblanc.alerting.urls_protocols")),
]
