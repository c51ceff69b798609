"""The staff situation page: what staff need to know during a crisis, readable without
an account through an unguessable, revocable link, and who asked to be told of updates."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from planblanc.crisis.models.console import Crisis
from planblanc.directory.models import Person


class StaffSituation(models.Model):
    crisis = models.OneToOneField(Crisis, on_delete=models.CASCADE, related_name="staff_situation")
    # The link's secret (secrets.token_urlsafe): revoking it makes a new one.
    token = models.CharField(max_length=64, unique=True)
    degraded_services = models.TextField(_("services in degraded mode"), blank=True)
    stopped_applications = models.TextField(_("applications stopped"), blank=True)
    what_to_do = models.TextField(_("what to do"), blank=True)
    next_update_at = models.DateTimeField(_("next update"), null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("staff situation page")
        verbose_name_plural = _("staff situation pages")

    def __str__(self) -> str:
        return f"{self.crisis_id} v{self.version}"


class SituationSubscriber(models.Model):
    """Someone told of each update, by email, SMS or push (a person's devices)."""

    situation = models.ForeignKey(StaffSituation, on_delete=models.CASCADE, related_name="subscribers")
    channel = models.CharField(max_length=10)
    address = models.CharField(max_length=255, blank=True)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["situation", "channel", "address"], name="situation_subscriber_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}"
