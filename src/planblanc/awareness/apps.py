from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AwarenessConfig(AppConfig):
    name = "planblanc.awareness"
    label = "awareness"
    verbose_name = _("Staff awareness")

    def ready(self) -> None:
        # The services queue the reminder pass through this registration (they never
        # import the tasks, which import them).
        from planblanc.awareness import services, tasks

        services.reminders_waker_register(tasks.reminders_wake)
        services.launch_waker_register(tasks.launch_wake)
