"""Sending a text message, in the worker: each message reaches the customer once, as far as Twilio allows.

Twilio has no idempotency key: a request whose answer is lost may or may not have made a text. So
a message is sent again only when it surely was not sent, and looked up first when it may have been:

    queued ──claim──> sending ──201──────────────────────────> sent (delivered… by callbacks)
      ^                  │ not sent (refused, DNS, connect timeout, 429, 401): back to where it
      │                  │   was claimed from, retried with backoff
      │                  │ outcome unknown (read timeout, reset after sending, 5xx) ─> unconfirmed
      │                  │ refused (21211, 21610…) ─> failed
      │                  │ worker killed: stays sending ─(SMS_SENDING_STALLED_SECONDS)─> unconfirmed
      │                                                             │
      └── unconfirmed ──claim──> sending ──look up at Twilio by the text's reference──┐
                                    found: adopted (its id, its status), not sent again┘
                                    none:  sent as above

Every text carries its message's reference ("Ref K7QX2M"), so the lookup matches exactly. A
provider id once stored (by this job, a lookup or a status callback) is never replaced: every
write of one is conditional, and another id found for the same message is kept as a duplicate
(the customer was told twice: shown on the profile, and the books see it).

A 401 (20003) is our configuration, not the message's: the message waits (not counted as an
attempt, never failed for it) and is retried every SMS_CONFIGURATION_RETRY_SECONDS; the health
check reports the messages waiting.

Locks: the message's row alone, taken briefly and never held during a call to the provider.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from notifications import sms
from notifications.audit import NotificationAction
from notifications.models import (
    STATUS_RANK,
    TWILIO_AUTHENTICATION_ERROR,
    TWILIO_STATUSES,
    SmsMessage,
    SmsStatus,
    sms_reference_new,
)

logger = logging.getLogger(__name__)

# A lookup reads the provider's messages to the number created since a little before ours (clocks
# differ): the provider cannot hold a text of this message from before it existed.
LOOKUP_CLOCK_SLACK = timedelta(minutes=10)

CLAIMABLE = (SmsStatus.QUEUED, SmsStatus.UNCONFIRMED)


def sms_send(*, message_id: int) -> SmsMessage | None:
    """Send one message through the configured SMS backend, never twice where it can be helped.

    Only a `queued` or `unconfirmed` message is claimed: marked `sending` under its row lock
    before the provider is asked, so a second run of the same job (a duplicate job, a manual
    retry, another worker) finds it taken and does nothing. An `unconfirmed` one is first looked
    up at the provider by its reference: found, it is adopted (never sent again); not found, sent.

    Raises `SmsTemporaryError` (after putting the message back: `queued`, or `unconfirmed` when it
    may be at the provider) so that the queue tries again later with backoff; on the last of
    `SMS_SEND_MAX_ATTEMPTS` the message is `failed` instead. Permanent refusals (an invalid or
    unsubscribed number) are `failed` at once, with the reason. A refusal of our credentials is
    not counted as an attempt: the message waits for the settings to be fixed.
    """
    # First, so that a misconfigured backend fails the job and leaves the message as it was.
    backend = sms.sms_backend()
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            logger.warning("SMS %s does not exist; nothing to send", message_id)
            return None
        if message.status not in CLAIMABLE or message.provider_message_id:
            logger.info("SMS %s is already %s; not sent again", message.pk, message.status)
            return message
        claimed_from = SmsStatus(message.status)
        message.status = SmsStatus.SENDING
        message.attempts += 1
        message.status_changed_at = timezone.now()
        message.save(update_fields=["status", "attempts", "status_changed_at"])

    if claimed_from == SmsStatus.UNCONFIRMED:
        try:
            found = backend.find(
                to=message.to.as_e164,
                reference=message.reference,
                body=message.body,
                since=message.created_at - LOOKUP_CLOCK_SLACK,
            )
        except sms.SmsError as error:
            return _sms_lookup_failed(message, backend=backend, error=error)
        if found:
            return _sms_adopt(message, backend=backend, found=found)
        logger.info("SMS %s: not at %s; sending it (attempt %d)", message.pk, backend.name, message.attempts)

    if not message.reference:
        # Given once, before the first text goes: every text of this message carries the same one.
        # (A message sent before references existed is looked up by its body, above, before it gets one.)
        message.reference = sms_reference_new()
        SmsMessage.objects.filter(pk=message.pk, reference="").update(reference=message.reference)

    try:
        provider_message_id = backend.send(
            to=message.to.as_e164, body=message.text, status_callback=_status_callback_url(message)
        )
    except sms.SmsPermanentError as error:
        return _sms_send_failed(message, backend=backend, reason=error.reason, code=error.code)
    except sms.SmsConfigurationError as error:
        _sms_send_waiting_for_configuration(message, backend=backend, back_to=claimed_from, error=error)
        raise
    except sms.SmsTemporaryError as error:
        # Not sent: it can go again as it is. Unknown: it may be at the provider, look it up first.
        # A message that was unconfirmed stays so until a lookup settles it.
        unknown = isinstance(error, sms.SmsOutcomeUnknown)
        back_to = SmsStatus.UNCONFIRMED if unknown else claimed_from
        if message.attempts >= settings.SMS_SEND_MAX_ATTEMPTS:
            reason = f"Gave up after {message.attempts} attempts. Last error: {error.reason}"
            if back_to == SmsStatus.UNCONFIRMED:
                reason += " Twilio may have taken it: its status callback would correct this."
            return _sms_send_failed(message, backend=backend, reason=reason, code=error.code)
        _sms_send_postponed(message, backend=backend, back_to=back_to, reason=error.reason, code=error.code)
        raise
    except Exception:
        # A bug, not the provider: the job fails loudly, and staff see the message did not go.
        _sms_send_failed(message, backend=backend, reason="Unexpected error while sending; see the worker log.")
        raise
    return _sms_sent(message, backend=backend, provider_message_id=provider_message_id)


def sms_stalled_recover(*, resend: Callable[[int], object], older_than: timedelta | None = None) -> list[int]:
    """Messages left `sending` by a worker that stopped mid-send become `unconfirmed`, each with a
    new send job (`resend(message_id)`, in the same transaction), which looks them up at the
    provider before any resend: a text that went is adopted, one that never left is sent once.

    Stalled means `sending`, with no provider id, for longer than `older_than` (default
    SMS_SENDING_STALLED_SECONDS, well over a send's timeout, so no live send is taken for dead).
    Returns the ids of the messages recovered.
    """
    age = older_than if older_than is not None else timedelta(seconds=settings.SMS_SENDING_STALLED_SECONDS)
    cutoff = timezone.now() - age
    stalled = SmsMessage.objects.filter(status=SmsStatus.SENDING, provider_message_id="", status_changed_at__lte=cutoff)
    recovered = []
    for message_id in stalled.order_by("status_changed_at").values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            # Skip a message whose row is locked: a send job or a callback is on it right now.
            message = stalled.select_for_update(skip_locked=True).filter(pk=message_id).first()
            if message is None:
                continue
            message.status = SmsStatus.UNCONFIRMED
            message.status_changed_at = timezone.now()
            message.last_error = "The send was interrupted; Twilio is asked about it before any resend."
            message.save(update_fields=["status", "status_changed_at", "last_error"])
            resend(message.pk)
        recovered.append(message_id)
        logger.warning("SMS %s was left sending (worker stopped); looked up at the provider next", message_id)
    return recovered


def _status_callback_url(message: SmsMessage) -> str | None:
    if not settings.PUBLIC_BASE_URL:
        return None
    return settings.PUBLIC_BASE_URL + reverse("twilio_sms_status", args=[message.pk])


def sms_duplicates_add(message: SmsMessage, provider_message_ids: list[str], *, found_by: str) -> list[str]:
    """Record the provider ids other than the one held as duplicates of `message` (locked by the
    caller, who saves it), with their audit event; returns the ones new to us."""
    new = [pid for pid in provider_message_ids if pid != message.provider_message_id]
    new = [pid for pid in dict.fromkeys(new) if pid not in message.provider_duplicate_ids]
    if new:
        audit_record(
            action=NotificationAction.SMS_TOLD_TWICE,
            actor_label="Twilio",
            target_user=message.user,
            about=message,
            before={"provider_duplicate_ids": message.provider_duplicate_ids},
            after={"provider_duplicate_ids": [*message.provider_duplicate_ids, *new], "found_by": found_by},
        )
        message.provider_duplicate_ids = [*message.provider_duplicate_ids, *new]
        logger.warning(
            "SMS %s: the provider holds %d more message(s) for it (%s, besides %s, found by %s): "
            "the customer was texted twice",
            message.pk,
            len(new),
            ", ".join(new),
            message.provider_message_id,
            found_by,
        )
    return new


def _sms_sent(message: SmsMessage, *, backend: sms.SmsBackend, provider_message_id: str) -> SmsMessage:
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message.pk)
        fields = ["provider_duplicate_ids"]
        if not message.provider_message_id:
            message.provider = backend.name
            message.provider_message_id = provider_message_id
            fields += ["provider", "provider_message_id"]
        # Else a status callback adopted an earlier text of this message while this one was on its
        # way: that id stays, this one is a second text.
        sms_duplicates_add(message, [provider_message_id], found_by="send")
        message.sent_at = message.sent_at or timezone.now()
        fields.append("sent_at")
        # A delivery callback may have overtaken us; it knows better than "sent". (Unconfirmed: the
        # stalled-message job took this slow send for a dead one; its lookup job now finds the id.)
        if message.status in (SmsStatus.SENDING, SmsStatus.UNCONFIRMED):
            message.status = SmsStatus.SENT
            message.status_changed_at = message.sent_at
            message.last_error = message.error_code = ""
            fields += ["status", "status_changed_at", "last_error", "error_code"]
        message.save(update_fields=fields)
    logger.info(
        "SMS %s sent through %s as %s (attempt %d)", message.pk, backend.name, provider_message_id, message.attempts
    )
    return message


def _sms_adopt(message: SmsMessage, *, backend: sms.SmsBackend, found: list[sms.ProviderMessage]) -> SmsMessage:
    """The provider holds the message already (an answer was lost): take its id and its status."""
    first = found[0]  # the oldest: the one the customer got first
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message.pk)
        fields = ["provider_duplicate_ids"]
        if not message.provider_message_id:
            message.provider = backend.name
            message.provider_message_id = first.id
            fields += ["provider", "provider_message_id"]
        sms_duplicates_add(message, [found_message.id for found_message in found], found_by="lookup")
        # Taken by the provider is at least "sent" to us; its delivery verdict, when it has one, wins.
        status = TWILIO_STATUSES.get(first.status, SmsStatus.SENT)
        status = status if STATUS_RANK[status] > STATUS_RANK[SmsStatus.SENT] else SmsStatus.SENT
        if message.status in (SmsStatus.SENDING, SmsStatus.UNCONFIRMED):
            audit_record(
                action=NotificationAction.SMS_STATUS,
                actor_label="Twilio",
                target_user=message.user,
                about=message,
                before={"status": message.status},
                after={"status": status, "error_code": first.error_code, "found_by": "lookup"},
            )
            message.status = status
            message.status_changed_at = timezone.now()
            fields += ["status", "status_changed_at", "last_error", "error_code"]
            if status in (SmsStatus.UNDELIVERED, SmsStatus.FAILED):
                message.last_error = (
                    sms.twilio_delivery_error(first.error_code)
                    if first.error_code
                    else f"Twilio reported it {first.status}"
                )
                message.error_code = first.error_code[:8]
            else:
                message.sent_at = message.sent_at or (first.created_at or message.status_changed_at)
                message.last_error = message.error_code = ""
                fields.append("sent_at")
        message.save(update_fields=fields)
    logger.info(
        "SMS %s found at %s as %s (attempt %d): adopted, not sent again",
        message.pk,
        backend.name,
        message.provider_message_id,
        message.attempts,
    )
    return message


def _sms_lookup_failed(message: SmsMessage, *, backend: sms.SmsBackend, error: sms.SmsError) -> SmsMessage:
    """Nothing is sent without a lookup: the message stays unconfirmed and the lookup is tried again."""
    if isinstance(error, sms.SmsConfigurationError):
        _sms_send_waiting_for_configuration(message, backend=backend, back_to=SmsStatus.UNCONFIRMED, error=error)
        raise error
    reason = f"Could not look it up at Twilio: {error.reason}"
    if message.attempts >= settings.SMS_SEND_MAX_ATTEMPTS:
        reason = f"Gave up after {message.attempts} attempts. Last error: {reason} Twilio may have taken it."
        return _sms_send_failed(message, backend=backend, reason=reason, code=error.code)
    _sms_send_postponed(message, backend=backend, back_to=SmsStatus.UNCONFIRMED, reason=reason, code=error.code)
    raise error if isinstance(error, sms.SmsTemporaryError) else sms.SmsOutcomeUnknown(reason)


def _sms_send_failed(message: SmsMessage, *, backend: sms.SmsBackend, reason: str, code: str = "") -> SmsMessage:
    now = timezone.now()
    SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
        status=SmsStatus.FAILED, provider=backend.name, last_error=reason, error_code=code[:8], status_changed_at=now
    )
    logger.warning("SMS %s failed (attempt %d): %s", message.pk, message.attempts, reason)
    message.refresh_from_db()
    return message


def _sms_send_postponed(
    message: SmsMessage, *, backend: sms.SmsBackend, back_to: SmsStatus, reason: str, code: str
) -> None:
    SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
        status=back_to, provider=backend.name, last_error=reason, error_code=code[:8], status_changed_at=timezone.now()
    )
    logger.warning(
        "SMS %s %s (attempt %d of %d), will retry: %s",
        message.pk,
        "may have been sent; looked up before any resend" if back_to == SmsStatus.UNCONFIRMED else "not sent",
        message.attempts,
        settings.SMS_SEND_MAX_ATTEMPTS,
        reason,
    )


def _sms_send_waiting_for_configuration(
    message: SmsMessage, *, backend: sms.SmsBackend, back_to: SmsStatus, error: sms.SmsError
) -> None:
    # Our credentials, not the message: the attempt is given back, so a long outage fails nothing.
    SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
        status=back_to,
        provider=backend.name,
        attempts=max(message.attempts - 1, 0),
        last_error=f"Waiting for the SMS settings: {error.reason}",
        error_code=error.code[:8] or TWILIO_AUTHENTICATION_ERROR,
        status_changed_at=timezone.now(),
    )
    logger.error(
        "SMS %s not sent: %s refused the portal's credentials (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN); "
        "retried every %s s",
        message.pk,
        backend.name,
        settings.SMS_CONFIGURATION_RETRY_SECONDS,
    )
