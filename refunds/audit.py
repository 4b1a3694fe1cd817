from django.db import models


class RefundAction(models.TextChoices):
    """What refunds writes to the audit trail."""

    REQUESTED = "refund_requested", "Refund requested"
    APPROVED = "refund_approved", "Refund approved"
    REJECTED = "refund_rejected", "Refund rejected"
    EXECUTED = "refund_executed", "Refund executed"
    FAILED = "refund_failed", "Refund failed"
    REVERSED = "refund_reversed", "Refund reversed"
    EXTERNAL = "refund_external", "Refund made outside the portal"
    # A staff member tried to refund, or decide a refund of, their own account.
    SELF_SERVICE_REFUSED = "refund_self_refused", "Refund: own account refused"
    # The Refunds page's CSV export (refunds.views_list): the filters it was made with.
    EXPORTED = "refunds_exported", "Refunds exported"
