import secrets

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField


class SmsStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    # Handed to the provider, and the answer lost (a read timeout, a reset connection, a 5xx):
    # the provider may have it. Looked up there before any resend.
    UNCONFIRMED = "unconfirmed", "Unconfirmed"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"


# How far along a message is. Callbacks arrive late, twice or out of order, and the send job and a
# callback can race: a status from the provider only ever replaces one that is less far along.
# `unconfirmed` is as far along as `sending`: both may be at the provider, neither is known to be.
STATUS_RANK = {
    SmsStatus.QUEUED: 0,
    SmsStatus.SENDING: 1,
    SmsStatus.UNCONFIRMED: 1,
    SmsStatus.SENT: 2,
    SmsStatus.DELIVERED: 3,
    SmsStatus.UNDELIVERED: 3,
    SmsStatus.FAILED: 3,
}

# Not finished: the send job, the stalled-message job or a status callback will move them on.
SMS_UNFINISHED_STATUSES = (SmsStatus.QUEUED, SmsStatus.SENDING, SmsStatus.UNCONFIRMED)

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

# Twilio's error code for "our credentials were refused": a configuration problem, not the message's.
TWILIO_AUTHENTICATION_ERROR = "20003"

# The reference in each text ("Ref K7QX2M"): no 0/O or 1/I, read aloud over the phone without doubt.
SMS_REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SMS_REFERENCE_LENGTH = 6


def sms_reference_new() -> str:
    return "".join(secrets.choice(SMS_REFERENCE_ALPHABET) for _ in range(SMS_REFERENCE_LENGTH))


class SmsMessage(models.Model):
    """A text message to a customer, from the moment it is queued to what the carrier made of it.

    Written by `customer_notify` in the caller's transaction together with its send job; moved on by
    the send job (`sending`, then `sent`, `unconfirmed` or `failed`) and by the provider's
    delivery-status callbacks (`delivered`, `undelivered`, `failed`), never backwards. `to` is the
    number it was addressed to at the time, so a later change of the customer's number does not
    rewrite history.

    Twilio has no idempotency key, so each text carries `reference` ("Ref K7QX2M", see `text`):
    when an answer is lost, the message is found at Twilio by it before any resend. A second text
    that went all the same (found by a lookup or named by a status callback) is kept in
    `provider_duplicate_ids`: the customer was told twice, and staff and the books can see it.
    """

    Status = SmsStatus

    # No index of its own: the (user, newest first) index below serves every lookup by user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sms_messages", db_index=False
    )
    to = PhoneNumberField(blank=True, help_text="The number it was addressed to; blank when the user had none.")
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    provider = models.CharField(max_length=16, blank=True, help_text="The SMS backend that sent it.")
    provider_message_id = models.CharField(max_length=64, blank=True)
    reference = models.CharField(
        max_length=SMS_REFERENCE_LENGTH,
        blank=True,
        help_text="Sent at the end of the text; finds it at the provider when an answer was lost. "
        "Given on the first attempt.",
    )
    provider_duplicate_ids = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        help_text="Other messages the provider holds for this one: the customer got it more than once.",
    )
    error_code = models.CharField(max_length=8, blank=True, help_text="The provider's code for `last_error`.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # What the message is about (a refund, say): a generic link, so notifications imports no app above it.
    about_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("about_type", "about_id")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Constraint and index names from when messages lived in accounts.
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=SmsStatus.values), name="accounts_sms_status_valid"),
            models.CheckConstraint(
                condition=models.Q(about_type__isnull=True, about_id__isnull=True)
                | models.Q(about_type__isnull=False, about_id__isnull=False),
                name="accounts_sms_about_complete",
            ),
            # One message at the provider is one of ours: a status callback can never match two.
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="accounts_sms_provider_message_unique",
            ),
        ]
        indexes = [
            # A user's messages, newest first (the profile's Activity tab).
            models.Index(fields=["user", "-created_at", "-id"], name="accounts_sms_user_newest"),
            models.Index(fields=["about_type", "about_id"], name="accounts_sms_about"),
            # The few unfinished messages among many: the stalled-message job and the health check.
            models.Index(
                fields=["status_changed_at"],
                condition=models.Q(status__in=SMS_UNFINISHED_STATUSES),
                name="notifications_sms_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"SMS {self.pk} ({self.status})"

    @property
    def text(self) -> str:
        """What the customer's phone shows: the body, and its reference when it has one."""
        return f"{self.body}\nRef {self.reference}" if self.reference else self.body

    @property
    def told_twice(self) -> bool:
        return bool(self.provider_duplicate_ids)
