from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MutualAidConfig(AppConfig):
    name = "planblanc.mutual_aid"
    label = "mutual_aid"
    verbose_name = _("Mutual aid")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The services queue the escalation task through this registration.
        from planblanc.mutual_aid import services, tasks

        services.escalation_task_register(tasks.help_requests_escalate)
