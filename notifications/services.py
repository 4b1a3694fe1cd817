"""Telling customers things: the one entry point the rest of the portal uses, and what the
provider reports back.

Lock order: a message's row alone (`select_for_update`), never together with another app's rows
in a different order, so a status callback and the send job can race but never deadlock.
"""

import logging

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from audit.services import audit_record
from core.correlation import correlation_job_kwargs
from core.log_masking import mask_phone
from notifications import sending, sms, tasks
from notifications.audit import NotificationAction
from notifications.models import (
    SMS_REFERENCE_LENGTH,
    STATUS_RANK,
    TWILIO_STATUSES,
    SmsMessage,
    SmsStatus,
)

logger = logging.getLogger(__name__)

# Twilio's limit; longer texts are refused, not split. The reference line ("\nRef K7QX2M") counts.
SMS_TEXT_MAX_LENGTH = 1600
SMS_BODY_MAX_LENGTH = SMS_TEXT_MAX_LENGTH - len("\nRef ") - SMS_REFERENCE_LENGTH

__all__ = ["STATUS_RANK", "TWILIO_STATUSES", "customer_notify", "sms_notify", "sms_status_record"]


def customer_notify(*, user: models.Model, about: models.Model | None, text: str) -> SmsMessage:
    """Tell a customer `text` about `about` (a refund, say), through the channel they are reached
    on, in the caller's transaction: committed with it, or gone with it.

    Today every customer is reached by text message. The caller does not know that: a second
    channel is a change here, not in the refund service.
    """
    return sms_notify(user=user, body=text, about=about)


@transaction.atomic
def sms_notify(*, user: models.Model, body: str, about: models.Model | None = None) -> SmsMessage:
    """Record a text message to `user` and enqueue its sending, in the caller's transaction.

    The job is written through the same database connection as the message (the queue's Django
    connector), so when the caller's transaction rolls back neither remains, and when it commits
    there is exactly one of each. Call it inside the caller's `transaction.atomic()` block.

    A user without a usable number (none, or not a valid E.164 number) gets a `failed` message
    saying so and no job: staff can see on the profile why the customer was not told.
    """
    body = body.strip()
    if not body:
        raise ValueError("An SMS needs a body.")
    if len(body) > SMS_BODY_MAX_LENGTH:
        raise ValueError(
            f"An SMS body can be at most {SMS_BODY_MAX_LENGTH} characters "
            f"(Twilio's {SMS_TEXT_MAX_LENGTH}, less the reference line)."
        )
    about_link = {}
    if about is not None:
        if about.pk is None:
            raise ValueError("`about` must be saved before an SMS can refer to it.")
        about_link = {"about_type": ContentType.objects.get_for_model(about), "about_id": about.pk}

    phone = user.phone
    if not phone:
        problem = "No phone number"
    elif not phone.is_valid():
        problem = "The phone number on file is not a valid number"
    else:
        problem = ""
    if problem:
        message = SmsMessage.objects.create(
            user=user, to="", body=body, status=SmsStatus.FAILED, last_error=problem, **about_link
        )
        logger.warning("SMS %s to user %s not queued: %s", message.pk, user.pk, problem)
        return message

    message = SmsMessage.objects.create(user=user, to=phone.as_e164, body=body, **about_link)
    tasks.sms_send.defer(message_id=message.pk, **correlation_job_kwargs())
    logger.info(
        "SMS %s to user %s (%s, %d characters) queued", message.pk, user.pk, mask_phone(phone.as_e164), len(body)
    )
    return message


@transaction.atomic
def sms_status_record(
    *, message_id: int, provider_message_id: str, provider_status: str, error_code: str = ""
) -> SmsMessage | None:
    """Record what Twilio says became of a message, never moving it backwards.

    A status only replaces one that is less far along, so replayed and out-of-order callbacks
    ("sent" after "delivered") change nothing. A callback for a message we do not have changes nothing
    and returns None. One naming another provider id than the one we hold is a second text of this
    message at Twilio: it is recorded as a duplicate (`provider_duplicate_ids`) and nothing else
    changes (None): a provider id once held is never replaced.

    If we never stored the provider's id (the worker stopped, or timed out, after Twilio had taken
    the message), the first callback supplies it and its status wins over our guess: the callback
    URL names our message and is signed by Twilio, so Twilio does have it.
    """
    message = SmsMessage.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        logger.info("Status callback for unknown SMS %s ignored", message_id)
        return None
    if message.provider_message_id and message.provider_message_id != provider_message_id:
        # The callback URL names this message and Twilio signed it: Twilio holds a second text for
        # it. Its status is not ours to take (we keep the first), but the customer was told twice.
        if sending.sms_duplicates_add(message, [provider_message_id], found_by="status callback"):
            message.save(update_fields=["provider_duplicate_ids"])
        return None
    status = TWILIO_STATUSES.get(provider_status)
    if status is None:
        logger.info("SMS %s: Twilio status %r has no meaning here; ignored", message.pk, provider_status)
        return message

    fields = []
    adopting = not message.provider_message_id
    if adopting:
        message.provider, message.provider_message_id = "twilio", provider_message_id
        fields += ["provider", "provider_message_id"]
    if adopting or STATUS_RANK[status] > STATUS_RANK[message.status]:
        logger.info("SMS %s: %s -> %s (Twilio)", message.pk, message.status, status)
        audit_record(
            action=NotificationAction.SMS_STATUS,
            actor_label="Twilio",
            target_user=message.user,
            about=message,
            before={"status": message.status},
            after={"status": status, "error_code": error_code or ""},
        )
        message.status = status
        message.status_changed_at = timezone.now()
        fields += ["status", "status_changed_at"]
        if status in (SmsStatus.UNDELIVERED, SmsStatus.FAILED):
            message.last_error = (
                sms.twilio_delivery_error(error_code) if error_code else f"Twilio reported it {provider_status}"
            )
            message.error_code = error_code[:8]
            fields += ["last_error", "error_code"]
        elif status in (SmsStatus.SENT, SmsStatus.DELIVERED):
            message.sent_at = message.sent_at or message.status_changed_at
            message.last_error = message.error_code = ""
            fields += ["sent_at", "last_error", "error_code"]
        elif message.error_code:  # Twilio has it now: whatever we could not do before is over
            message.last_error = message.error_code = ""
            fields += ["last_error", "error_code"]
    if fields:
        message.save(update_fields=fields)
    return message
