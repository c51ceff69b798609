from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertingConfig(AppConfig):
    name = "planblanc.alerting"
    label = "alerting"
    verbose_name = _("Alerting")

    def ready(self) -> None:
        # The services wake the delivery task and tell the escalations about
        # acknowledgements through these registrations (they never import them).
        from planblanc.alerting import escalation, services, tasks

        services.delivery_task_register(tasks.deliveries_process)
        services.acknowledgement_listener_register(escalation.escalation_stop_for_campaign)
