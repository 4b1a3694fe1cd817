from django.db import models


class NotificationAction(models.TextChoices):
    """What notifications write to the audit trail."""

    SMS_STATUS = "sms_status", "SMS status from the provider"
    SMS_TOLD_TWICE = "sms_told_twice", "SMS found twice at the provider"
