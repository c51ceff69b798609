from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertingConfig(AppConfig):
    name = "planblanc.alerting"
    label = "alerting"
    verbose_name = _("Alerting")

    def ready(self) -> None:
        # ContactPreference is defined in its own module (alerting/preferences.py).
        from planblanc.alerting import preferences  # noqa: F401
