from django.conf import settings
from django.db import models
from django.utils import timezone

from payments.models import REFUND_UNSETTLED_STATUSES, Payment


class Refund(models.Model):
    """Money (or credits) given back on a payment.

    Created `pending` with its idempotency key before the gateway is called, so that no failure
    can refund twice or lose a refund: the same key always means this one refund.
    """

    class Type(models.TextChoices):
        FULL = "full", "Full refund"
        PARTIAL = "partial", "Partial refund"
        CREDITS = "credits", "Account credits"

    class Reason(models.TextChoices):
        # Stripe's reason codes, plus our own "other" (which needs a note).
        REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by customer"
        DUPLICATE = "duplicate", "Duplicate"
        FRAUDULENT = "fraudulent", "Fraudulent"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        REJECTED = "rejected", "Rejected"
        PENDING = "pending", "Pending"
        REQUIRES_ACTION = "requires_action", "Requires action"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    class Source(models.TextChoices):
        PORTAL = "portal", "Admin portal"
        EXTERNAL = "external", "Outside the portal"

    class ApprovalRule(models.TextChoices):
        # Why a refund waits for a second person (refunds.services.approval_rules), in judging order.
        REFUND = "refund", "The refund alone"
        STAFF_PAYMENT = "staff_payment", "Same staff member, same payment"
        ANY_PAYMENT = "any_payment", "Anyone, same payment"
        STAFF_CUSTOMER = "staff_customer", "Same staff member, same customer"
        ANY_CUSTOMER = "any_customer", "Anyone, same customer"

    # Statuses whose amount is taken from what remains refundable on the payment.
    RESERVING = (Status.AWAITING_APPROVAL, Status.PENDING, Status.REQUIRES_ACTION, Status.SUCCEEDED)
    UNSETTLED = tuple(map(Status, REFUND_UNSETTLED_STATUSES))

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    # The payment's customer, copied at creation (`save`): the customer's timeline reads their
    # refunds newest first from one index (user, created_at, id) rather than through every payment.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    type = models.CharField(max_length=16, choices=Type)
    reason = models.CharField(max_length=32, choices=Reason)
    note = models.TextField(blank=True)
    amount = models.BigIntegerField(help_text="Minor units of the payment's currency.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=24, choices=Status, default=Status.PENDING)
    source = models.CharField(max_length=16, choices=Source, default=Source.PORTAL)
    gateway_refund_id = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    # The id of the request that asked for the refund (X-Request-ID, core.correlation), kept so
    # that every call for this refund (the first, and reconciliation's retries with the same key)
    # sends the same metadata: Stripe refuses a key reused with other parameters. "" for refunds
    # made before it was kept, or outside a request; then none is sent.
    correlation_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Credits this refund takes from the customer (negative) or gives them (positive, Account credits).
    credits_delta = models.BigIntegerField(default=0)
    # Maker-checker: a refund over the approval threshold waits for a second staff member, who
    # approves or rejects it (never the one who asked for it).
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejection_reason = models.TextField(blank=True)
    # The approval rule that sent it to Approvals ("" for one that needed none, or made before them).
    approval_rule = models.CharField(max_length=16, choices=ApprovalRule, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    notify_customer = models.BooleanField(default=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("execute_refund", "Can refund a customer's payment"),
            ("approve_refund", "Can approve another staff member's large refund"),
            ("view_all_refunds", "Can list and export the refunds of every customer"),
        ]
        indexes = [
            models.Index(fields=["payment", "status"], name="refunds_payment_status"),
            models.Index(fields=["user", "-created_at", "-id"], name="refunds_user_newest"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=["pending", "requires_action"]),
                name="refunds_unsettled",
            ),
            # The Refunds page (refunds.selectors_list): its keyset order, newest first, and one
            # index per selective filter in that order, so a filtered page reads one index range.
            models.Index(fields=["-created_at", "-id"], name="refunds_created_keyset"),
            models.Index(fields=["status", "-created_at", "-id"], name="refunds_status_created"),
            models.Index(fields=["requested_by", "-created_at", "-id"], name="refunds_staff_created"),
            models.Index(fields=["currency", "amount"], name="refunds_currency_amount"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["gateway_refund_id"],
                condition=~models.Q(gateway_refund_id=""),
                name="refund_unique_gateway_refund_id",
            ),
            models.CheckConstraint(
                condition=~models.Q(reason="other") | ~models.Q(note="") | models.Q(source="external"),
                name="refund_other_reason_has_a_note",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk} of {self.amount} {self.currency} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        if self.user_id is None and self.payment_id is not None:
            self.user_id = self.payment.user_id  # the payment is at hand wherever a refund is made
        super().save(*args, **kwargs)

    @classmethod
    def note_problem(cls, *, reason: str, note: str) -> str:
        """Why the note will not do for this reason, or "": Other needs a note saying why (the
        gateway's reasons speak for themselves). The form and the service ask this; the
        `refund_other_reason_has_a_note` constraint holds the database to it."""
        if reason == cls.Reason.OTHER and not note.strip():
            return "Say why in the note when the reason is Other."
        return ""
