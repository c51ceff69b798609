"""Notification channels: one module per channel, all behind channels.base.Provider.

Importing the package registers the built-in providers (each module registers its
classes in base.REGISTRY): base.py never imports them, they import it."""

from planblanc.alerting.channels import (  # noqa: F401
    email,
    mailbox,
    matrix,
    sms_kannel,
    sms_smpp,
    voice,
    webhook,
    webpush,
)
