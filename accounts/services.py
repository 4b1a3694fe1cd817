"""Writes about people: the text messages the portal sends them."""

import logging

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import sms, tasks
from accounts.models import AuditEvent, SmsMessage, SmsStatus, User
from accounts.roles import ROLES, roles_ensure
from statstak.correlation import correlation_id, request_client
from statstak.log_masking import mask_phone

logger = logging.getLogger(__name__)

# Twilio's limit; longer texts are refused, not split.
SMS_BODY_MAX_LENGTH = 1600

# How far along a message is. Callbacks arrive late, twice or out of order, and the send job and a
# callback can race: a status only ever replaces one that is less far along.
STATUS_RANK = {
    SmsStatus.QUEUED: 0,
    SmsStatus.SENDING: 1,
    SmsStatus.SENT: 2,
    SmsStatus.DELIVERED: 3,
    SmsStatus.UNDELIVERED: 3,
    SmsStatus.FAILED: 3,
}

# Twilio's message statuses, in our words. "read" is a delivery receipt some channels add.
TWILIO_STATUSES = {
    "accepted": SmsStatus.SENDING,
    "scheduled": SmsStatus.SENDING,
    "queued": SmsStatus.SENDING,
    "sending": SmsStatus.SENDING,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.UNDELIVERED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}


@transaction.atomic
def sms_notify(*, user: User, body: str, about: models.Model | None = None) -> SmsMessage:
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
        raise ValueError(f"An SMS body can be at most {SMS_BODY_MAX_LENGTH} characters.")
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
    tasks.sms_send.defer(message_id=message.pk)
    logger.info(
        "SMS %s to user %s (%s, %d characters) queued", message.pk, user.pk, mask_phone(phone.as_e164), len(body)
    )
    return message


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


@transaction.atomic
def sms_status_record(
    *, message_id: int, provider_message_id: str, provider_status: str, error_code: str = ""
) -> SmsMessage | None:
    """Record what Twilio says became of a message, never moving it backwards.

    A status only replaces one that is less far along, so replayed and out-of-order callbacks
    ("sent" after "delivered") change nothing. A callback for a message we do not have, or whose
    provider id is another, changes nothing and returns None.

    If we never stored the provider's id (the worker stopped, or timed out, after Twilio had taken
    the message), the first callback supplies it and its status wins over our guess: the callback
    URL names our message and is signed by Twilio, so Twilio does have it.
    """
    message = SmsMessage.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        logger.info("Status callback for unknown SMS %s ignored", message_id)
        return None
    if message.provider_message_id and message.provider_message_id != provider_message_id:
        logger.warning(
            "Status callback for SMS %s names another provider id (%s); ignored", message.pk, provider_message_id
        )
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
            action=AuditEvent.Action.SMS_STATUS,
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
            fields.append("last_error")
        elif status in (SmsStatus.SENT, SmsStatus.DELIVERED):
            message.sent_at = message.sent_at or message.status_changed_at
            message.last_error = ""
            fields += ["sent_at", "last_error"]
    if fields:
        message.save(update_fields=fields)
    return message


def audit_record(
    *,
    action: AuditEvent.Action,
    actor: User | None = None,
    actor_label: str = "",
    target_user: User | None = None,
    about: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Write one audit event, in the caller's transaction: if the action rolls back, so does its record.

    `actor` is the staff member who acted; a system actor (a webhook, a job) has `actor=None` and
    says who it is in `actor_label` ("Stripe", "Twilio", "Reconciliation"). The request's client
    address, user agent and correlation id are taken from the current request, if any.
    """
    ip_address, user_agent = request_client()
    if actor is not None and not actor_label:
        actor_label = actor.full_name or actor.email
    about_link = {}
    if about is not None:
        about_link = {"about_type": ContentType.objects.get_for_model(about), "about_id": about.pk}
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=actor_label or "System",
        target_user=target_user,
        before=before,
        after=after,
        ip_address=ip_address,
        user_agent=user_agent,
        correlation_id=correlation_id(),
        **about_link,
    )


class StaffChangeRefused(ValueError):
    """The change to a staff member is not allowed; nothing was written."""


def staff_role(member: User) -> str:
    """The portal role (accounts/roles.py) a staff member holds, or "" for none."""
    names = {group.name for group in member.groups.all()}
    return next((role for role in reversed(list(ROLES)) if role in names), "")


@transaction.atomic
def staff_update(*, member: User, role: str, is_active: bool, actor: User) -> User:
    """Give a staff member one role (or none) and (de)activate them, with an audit event.

    Administrators only; nobody changes their own role or deactivates themselves, so the last
    Administrator cannot lock everyone out by accident.
    """
    if not actor.has_perm("accounts.manage_staff"):
        raise PermissionDenied("Only Administrators manage staff.")
    if role and role not in ROLES:
        raise StaffChangeRefused(f"Unknown role {role!r}.")
    locked = User.objects.select_for_update().get(pk=member.pk, is_staff=True)
    if locked.pk == actor.pk:
        raise StaffChangeRefused("You cannot change your own role or access; ask another Administrator.")
    before = {"role": staff_role(locked), "active": locked.is_active}
    if before == {"role": role, "active": is_active}:
        raise StaffChangeRefused("Nothing to change.")
    roles_ensure()
    locked.groups.remove(*Group.objects.filter(name__in=list(ROLES)))
    if role:
        locked.groups.add(Group.objects.get(name=role))
    locked.is_active = is_active
    locked.save(update_fields=["is_active"])
    audit_record(
        action=AuditEvent.Action.STAFF_CHANGED,
        actor=actor,
        target_user=locked,
        before=before,
        after={"role": role, "active": is_active},
    )
    return locked
