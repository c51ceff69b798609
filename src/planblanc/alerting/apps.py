from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertingConfig(AppConfig):
    name = "planblanc.alerting"
    label = "alerting"
    verbose_name = _("Alerting")
