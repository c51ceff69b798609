from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrisisConfig(AppConfig):
    name = "planblanc.crisis"
    label = "crisis"
    verbose_name = _("Crisis console")

    def ready(self) -> None:
        # Open improvement actions are gaps of the plan: the plans app asks us for them.
        from planblanc.crisis.selectors import open_improvement_actions
        from planblanc.plans.selectors import improvement_action_source_register

        improvement_action_source_register(open_improvement_actions)

        # The services schedule the logbook's anchoring through this registration.
        from planblanc.crisis import services, tasks

        services.anchor_scheduler_register(tasks.logbook_anchor_schedule)
