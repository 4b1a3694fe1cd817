from django.db import models


class NotificationAction(models.TextChoices):
    """What notifications write to the audit trail."""

    SMS_STATUS = "sms_status", "SMS status from the provider"
