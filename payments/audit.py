from django.db import models


class PaymentAction(models.TextChoices):
    """What payments writes to the audit trail."""

    CREDITS_ADJUSTED = "credits_adjusted", "Credits changed"
    PAYMENT_RECORDED = "payment_recorded", "Payment recorded"
    # Four-eyes on large credit changes (payments.services.credit_requests).
    CREDITS_CHANGE_REQUESTED = "credits_change_requested", "Credit change requested"
    CREDITS_CHANGE_APPROVED = "credits_change_approved", "Credit change approved"
    CREDITS_CHANGE_REJECTED = "credits_change_rejected", "Credit change rejected"
    CREDITS_CHANGE_STALE = "credits_change_stale", "Credit change approval refused"
    # A staff member tried to change the credits of, or approve a change to, their own account.
    CREDITS_SELF_SERVICE_REFUSED = "credits_self_refused", "Credits: own account refused"
    # Disputes, as the gateway reports them (Stripe is the actor): opened, moved on, closed; and
    # the credits a lost one took back (payments.services.disputes).
    DISPUTE_OPENED = "dispute_opened", "Dispute opened"
    DISPUTE_UPDATED = "dispute_updated", "Dispute updated"
    DISPUTE_CLOSED = "dispute_closed", "Dispute closed"
    DISPUTE_CREDITS_TAKEN = "dispute_credits_taken", "Credits taken back after a lost dispute"
    # Bulk credit changes from a CSV file (payments.services.credit_batches): the dry run of a
    # file, and the whole batch applied, with every row's outcome.
    CREDIT_BATCH_CHECKED = "credit_batch_checked", "Bulk credits file checked"
    CREDIT_BATCH_APPLIED = "credit_batch_applied", "Bulk credits applied"
