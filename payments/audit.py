from django.db import models


class PaymentAction(models.TextChoices):
    """What payments writes to the audit trail."""

    CREDITS_ADJUSTED = "credits_adjusted", "Credits changed"
    PAYMENT_RECORDED = "payment_recorded", "Payment recorded"
