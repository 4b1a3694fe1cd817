from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField


class SmsStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"


class SmsMessage(models.Model):
    """A text message to a customer, from the moment it is queued to what the carrier made of it.

    Written by `customer_notify` in the caller's transaction together with its send job; moved on by
    the send job (`sending`, then `sent` or `failed`) and by the provider's delivery-status
    callbacks (`delivered`, `undelivered`, `failed`), never backwards. `to` is the number it was
    addressed to at the time, so a later change of the customer's number does not rewrite history.
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
        ]

    def __str__(self) -> str:
        return f"SMS {self.pk} ({self.status})"
