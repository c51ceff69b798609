"""Writes of the alerting engine, by subject:

- `campaigns`: a campaign, its recipients, seats and outbox rows written in one
  transaction; cancelling, closing, and deciding when a campaign is done;
- `sending`: claiming due deliveries under a lease and sending them through the
  providers, with retries and fallbacks;
- `receipts`: the providers' delivery reports;
- `acknowledgements`: signed links and a recipient's "received";
- `answering`: a recipient's answer to the campaign's question, and SMS replies;
- `hooks`: the delivery task and acknowledgement listeners registered at start-up.

Other modules import the names below from `planblanc.alerting.services`."""

from planblanc.alerting.channels.base import OutgoingMessage
from planblanc.alerting.services.acknowledgements import (
    AckLinkExpired,
    AckLinkInvalid,
    ack_link_make,
    ack_link_verify,
    acknowledgement_in_app,
    acknowledgement_record,
)
from planblanc.alerting.services.answering import answer_in_app, recipient_answer, sms_reply_record
from planblanc.alerting.services.campaigns import (
    STANDBY,
    RecipientInput,
    SeatInput,
    campaign_cancel,
    campaign_close,
    campaign_create,
    message_id_for,
    recipients_from_people,
    waiting_recipients,
)
from planblanc.alerting.services.hooks import (
    acknowledgement_listener_register,
    delivery_task_register,
    workers_wake,
)
from planblanc.alerting.services.receipts import delivery_record_receipt, sms_receipts_record
from planblanc.alerting.services.sending import (
    deliveries_claim,
    deliveries_process,
    email_send_direct,
    next_due_at,
    no_wait_for_disk,
    outgoing_message,
)

__all__ = [
    "STANDBY", "AckLinkExpired", "AckLinkInvalid", "OutgoingMessage", "RecipientInput", "SeatInput",
    "ack_link_make", "ack_link_verify", "acknowledgement_in_app", "acknowledgement_listener_register",
    "acknowledgement_record", "answer_in_app", "campaign_cancel", "campaign_close", "campaign_create",
    "deliveries_claim", "deliveries_process", "delivery_record_receipt", "delivery_task_register",
    "email_send_direct", "message_id_for", "next_due_at", "no_wait_for_disk", "outgoing_message",
    "recipient_answer", "recipients_from_people", "sms_receipts_record", "sms_reply_record",
    "waiting_recipients", "workers_wake",
]
