from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MutualAidConfig(AppConfig):
    name = "planblanc.mutual_aid"
    label = "mutual_aid"
    verbose_name = _("Mutual aid")
    default_auto_field = "django.db.models.BigAutoField"
