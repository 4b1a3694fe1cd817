"""What privacy writes to the audit trail."""

from django.db import models


class PrivacyAction(models.TextChoices):
    CUSTOMER_ERASED = "customer_erased", "Personal data erased"
