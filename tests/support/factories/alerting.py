"""Factories of the alerting: campaigns, their recipients and deliveries, on-call
rotations, escalation policies, preferences and devices (invented data only)."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from planblanc.alerting.models import (
    Acknowledgement,
    Campaign,
    CampaignSeat,
    CampaignSeatMember,
    ContactPreference,
    Delivery,
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    FollowUp,
    OnCallMember,
    OnCallOverride,
    OnCallRotation,
    PushSubscription,
    Recipient,
)
from tests.support.factories.directory import EstablishmentFactory, PersonFactory


class AlertCampaignFactory(factory.django.DjangoModelFactory):
    """An alert campaign of an establishment (awareness campaigns: AwarenessCampaignFactory)."""

    class Meta:
        model = Campaign

    establishment = factory.SubFactory(EstablishmentFactory)
    title = factory.Sequence(lambda n: f"Alerte {n}")
    message_fr = "Rejoignez la cellule de crise, salle B."


class RecipientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recipient

    campaign = factory.SubFactory(AlertCampaignFactory)
    name = factory.Sequence(lambda n: f"Destinataire {n}")
    email = factory.Sequence(lambda n: f"destinataire{n}@hopital.example")


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    campaign = factory.SubFactory(AlertCampaignFactory)
    recipient = factory.SubFactory(RecipientFactory, campaign=factory.SelfAttribute("..campaign"))
    channel = "email"
    address = factory.SelfAttribute("recipient.email")
    idempotency_key = factory.Sequence(lambda n: f"test-delivery-{n}")


class AcknowledgementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Acknowledgement

    recipient = factory.SubFactory(RecipientFactory)
    via = "app"
    acknowledged_at = factory.LazyFunction(timezone.now)


class CampaignSeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignSeat

    campaign = factory.SubFactory(AlertCampaignFactory)
    title = factory.Sequence(lambda n: f"Siège {n}")


class CampaignSeatMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignSeatMember

    seat = factory.SubFactory(CampaignSeatFactory)
    recipient = factory.SubFactory(RecipientFactory, campaign=factory.SelfAttribute("..seat.campaign"))
    rank = factory.Sequence(lambda n: n + 1)


class OnCallRotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnCallRotation

    establishment = factory.SubFactory(EstablishmentFactory)
    name = factory.Sequence(lambda n: f"Astreinte {n}")
    period = "daily"
    handoff_time = datetime.time(8, 0)
    starts_on = datetime.date(2026, 1, 5)


class OnCallMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnCallMember

    rotation = factory.SubFactory(OnCallRotationFactory)
    person = factory.SubFactory(PersonFactory)
    position = factory.Sequence(lambda n: n)


class OnCallOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnCallOverride

    rotation = factory.SubFactory(OnCallRotationFactory)
    person = factory.SubFactory(PersonFactory)
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + datetime.timedelta(hours=12))


class EscalationPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationPolicy

    establishment = factory.SubFactory(EstablishmentFactory)
    name = factory.Sequence(lambda n: f"Escalade {n}")


class EscalationLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationLevel

    policy = factory.SubFactory(EscalationPolicyFactory)
    position = factory.Sequence(lambda n: n)
    kind = "person"
    person = factory.SubFactory(PersonFactory)


class EscalationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Escalation

    establishment = factory.SubFactory(EstablishmentFactory)
    title = factory.Sequence(lambda n: f"Escalade en cours {n}")
    message = "Serveurs chiffrés aux urgences."


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    campaign = factory.SubFactory(AlertCampaignFactory)
    due_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(minutes=15))


class ContactPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPreference

    person = factory.SubFactory(PersonFactory)


class PushSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PushSubscription

    person = factory.SubFactory(PersonFactory)
    endpoint = factory.Sequence(lambda n: f"https://push.example/device-{n}")
    p256dh = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    auth = "tBHItJI5svbpez7KI4CCXg"
    user_agent = "Téléphone de test"
