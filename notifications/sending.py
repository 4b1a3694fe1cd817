"""Sending a queued text message, in the worker: at most once per message.

The message's row lock is taken alone, and never held during the provider call.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notifications import sms
from notifications.models import SmsMessage, SmsStatus

logger = logging.getLogger(__name__)


def sms_send(*, message_id: int) -> SmsMessage | None:
    """Send one queued message through the configured SMS backend, at most once.

    Only a `queued` message is sent. It is marked `sending` under a row lock before the provider is
    called, so a second run of the same job (a duplicate job, a manual retry, another worker)
    finds it no longer queued and sends nothing. A worker that dies during the provider call leaves
    it `sending`: it is not sent again, because it may already have been (a delivery callback
    still moves it on).

    Passing failures put it back to `queued` and raise `SmsTemporaryError`, so that the queue
    tries again later with backoff; on the last of `SMS_SEND_MAX_ATTEMPTS` it is `failed`.
    Permanent failures (an invalid or unsubscribed number) are `failed` at once, with the reason.
    """
    # First, so that a misconfigured backend fails the job and leaves the message queued.
    backend = sms.sms_backend()
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            logger.warning("SMS %s does not exist; nothing to send", message_id)
            return None
        if message.status != SmsStatus.QUEUED:
            logger.info("SMS %s is already %s; not sent again", message.pk, message.status)
            return message
        message.status = SmsStatus.SENDING
        message.attempts += 1
        message.status_changed_at = timezone.now()
        message.save(update_fields=["status", "attempts", "status_changed_at"])

    try:
        provider_message_id = backend.send(
            to=message.to.as_e164, body=message.body, status_callback=_status_callback_url(message)
        )
    except sms.SmsPermanentError as error:
        return _sms_send_failed(message, backend=backend, reason=error.reason)
    except sms.SmsTemporaryError as error:
        if message.attempts >= settings.SMS_SEND_MAX_ATTEMPTS:
            reason = f"Gave up after {message.attempts} attempts. Last error: {error.reason}"
            return _sms_send_failed(message, backend=backend, reason=reason)
        _sms_send_postponed(message, backend=backend, reason=error.reason)
        raise
    except Exception:
        # A bug, not the provider: the job fails loudly, and staff see the message did not go.
        _sms_send_failed(message, backend=backend, reason="Unexpected error while sending; see the worker log.")
        raise

    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message.pk)
        message.provider = backend.name
        message.provider_message_id = provider_message_id
        message.sent_at = message.sent_at or timezone.now()
        fields = ["provider", "provider_message_id", "sent_at"]
        # A delivery callback may have overtaken us; it knows better than "sent".
        if message.status == SmsStatus.SENDING:
            message.status = SmsStatus.SENT
            message.status_changed_at = message.sent_at
            message.last_error = ""
            fields += ["status", "status_changed_at", "last_error"]
        message.save(update_fields=fields)
    logger.info(
        "SMS %s sent through %s as %s (attempt %d)", message.pk, backend.name, provider_message_id, message.attempts
    )
    return message


def _status_callback_url(message: SmsMessage) -> str | None:
    if not settings.PUBLIC_BASE_URL:
        return None
    return settings.PUBLIC_BASE_URL + reverse("twilio_sms_status", args=[message.pk])


def _sms_send_failed(message: SmsMessage, *, backend: sms.SmsBackend, reason: str) -> SmsMessage:
    now = timezone.now()
    SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
        status=SmsStatus.FAILED, provider=backend.name, last_error=reason, status_changed_at=now
    )
    logger.warning("SMS %s failed (attempt %d): %s", message.pk, message.attempts, reason)
    message.refresh_from_db()
    return message


def _sms_send_postponed(message: SmsMessage, *, backend: sms.SmsBackend, reason: str) -> None:
    SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
        status=SmsStatus.QUEUED, provider=backend.name, last_error=reason, status_changed_at=timezone.now()
    )
    logger.warning(
        "SMS %s not sent (attempt %d of %d), will retry: %s",
        message.pk,
        message.attempts,
        settings.SMS_SEND_MAX_ATTEMPTS,
        reason,
    )
