from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.dateformat import format as date_format

from core.money import money_format
from payments.credit_batch_models import CreditBatch, CreditBatchRow  # noqa: F401  (re-exported: payments' models)

# Refund statuses whose outcome is not known yet. Refunds are built on payments, so the list lives
# here, below them: `refunds.Refund.UNSETTLED` is made from it, and the Payments tab counts by it.
REFUND_UNSETTLED_STATUSES = ("pending", "requires_action")


class Payment(models.Model):
    """A customer's payment at a gateway: money in, usually credits bought with it."""

    class Gateway(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        SANDBOX = "sandbox", "Sandbox"

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    # No index of its own: `payments_payment_user_newest` starts with it. A second one let the planner,
    # on stale statistics, take it for a customer's page and sort all their payments (bench/NOTES.md).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    gateway = models.CharField(max_length=16, choices=Gateway)
    # The gateway's id: a PaymentIntent (pi_…) or Charge (ch_…) at Stripe.
    gateway_id = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True)
    amount = models.BigIntegerField(help_text="Minor units (cents).")
    currency = models.CharField(max_length=3)
    credits_bought = models.BigIntegerField(default=0)
    # Refunds that succeeded, in minor units; pending ones are reserved through the refunds table.
    amount_refunded = models.BigIntegerField(default=0)
    status = models.CharField(max_length=24, choices=Status, default=Status.SUCCEEDED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="payments_payment_user_newest")]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "gateway_id"], name="payment_unique_gateway_id"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=models.Q(credits_bought__gte=0), name="payment_credits_non_negative"),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0, amount_refunded__lte=models.F("amount")),
                name="payment_refunded_within_amount",
            ),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="payment_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway_id} ({self.amount} {self.currency})"

    def status_for_refunded(self) -> "Payment.Status":
        """The status its `amount_refunded` gives the payment: succeeded while nothing is refunded,
        refunded once all of it is, partially refunded in between. Whoever moves `amount_refunded`
        (a refund that succeeds, one reversed) sets the status from this, so the two never disagree."""
        if self.amount_refunded <= 0:
            return Payment.Status.SUCCEEDED
        if self.amount_refunded >= self.amount:
            return Payment.Status.REFUNDED
        return Payment.Status.PARTIALLY_REFUNDED


class LedgerEntry(models.Model):
    """One change to a customer's credits and/or money, never updated or deleted.

    A Postgres trigger (migration 0001) refuses UPDATE and DELETE, so not even raw SQL can rewrite
    history: a correction is a new entry. `balance_after` is the customer's credit balance once
    this entry applied; the sum of `credits_delta` over a customer is their `User.credits`.
    """

    class Kind(models.TextChoices):
        OPENING = "opening", "Opening balance"
        PURCHASE = "purchase", "Purchase"
        ADJUSTMENT = "adjustment", "Adjustment"
        REFUND = "refund", "Refund"
        REFUND_REVERSAL = "refund_reversal", "Refund reversal"
        USAGE = "usage", "Credits used"
        # A dispute the customer's bank decided against us: the money stays with the customer,
        # and the credits bought with it are taken back when DISPUTE_LOST_CREDITS says so.
        DISPUTE_LOST = "dispute_lost", "Dispute lost"

    # No index of its own: the two below start with it (as for Payment.user).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(max_length=32, choices=Kind)
    credits_delta = models.BigIntegerField()
    # Minor units (cents) and ISO-4217 code, for entries that move money; null for credit-only ones.
    money_delta = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    balance_after = models.BigIntegerField()
    # The staff member who made the change; null when the system did (webhooks, jobs, demo data).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The refund this entry records (a refunds.Refund's id). A plain column in payments' schema, so
    # that payments, which refunds builds on, depends on no refunds migration; refunds' migration
    # 0003 makes it a foreign key in PostgreSQL, so it can only name a refund that exists, and a
    # refund with ledger entries cannot be deleted.
    refund_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "ledger entries"
        permissions = [
            ("adjust_credits", "Can change a customer's credit balance"),
            ("adjust_credits_any_amount", "Can change credits by more than the Support limit"),
        ]
        indexes = [
            # A customer's history, newest first, paged by id.
            models.Index(fields=["user", "-id"], name="payments_ledger_user_history"),
            # The customer's timeline and credits chart: newest first by time (then id).
            models.Index(fields=["user", "-created_at", "-id"], name="payments_ledger_user_newest"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(balance_after__gte=0), name="ledger_balance_never_negative"),
            models.CheckConstraint(
                condition=models.Q(money_delta__isnull=True, currency="")
                | models.Q(money_delta__isnull=False, currency__regex=r"^[A-Z]{3}$"),
                name="ledger_money_has_a_currency",
            ),
            models.CheckConstraint(
                condition=~models.Q(credits_delta=0) | models.Q(money_delta__isnull=False),
                name="ledger_entry_changes_something",
            ),
            # Invariant 3: a refund is entered in the ledger once (a reversal is its own kind).
            models.UniqueConstraint(
                fields=["refund_id"], condition=models.Q(kind="refund"), name="ledger_one_entry_per_refund"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.credits_delta:+d} → {self.balance_after}"

    @property
    def balance_before(self) -> int:
        return self.balance_after - self.credits_delta


class GatewayEvent(models.Model):
    """A webhook event from a payment gateway that was acted on, so that it is acted on only once.

    Written in the same transaction as the event's effect: if the effect rolls back, so does
    this row, and the gateway's retry of the event is processed as if it were the first.
    """

    gateway = models.CharField(max_length=16, choices=Payment.Gateway)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=64)
    # What it was about (a refund re_…, a charge ch_…, a payment intent pi_…), for the log.
    object_id = models.CharField(max_length=255, blank=True)
    # What it did, in a few words ("refund 12: pending → succeeded", "ignored: unknown payment").
    outcome = models.CharField(max_length=255, blank=True)
    # The gateway's API version the event was written in ("unknown" when it named none the portal
    # reads; "" for events recorded before it was kept):
    # an endpoint on a version older than the handlers need is reported (health check, Books page).
    api_version = models.CharField(max_length=48, blank=True, db_default="")
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="gateway_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.type} {self.event_id}"


class SandboxRefund(models.Model):
    """A refund the sandbox gateway made, kept by its idempotency key, as Stripe keeps what it made.

    So the sandbox answers a key the same way in every process: a retry from the reconciliation
    command, another web process, or after a restart is a replay, and a refund whose answer was
    lost (its `timeout` scenario) can be found by listing, as at Stripe. Written by the sandbox
    only (`payments.gateway.sandbox`); `portal_refund_id` names our refund the way Stripe's
    metadata does, by number (payments do not depend on refunds).
    """

    idempotency_key = models.CharField(max_length=255, unique=True)
    refund_id = models.CharField(max_length=64, unique=True)
    payment_gateway_id = models.CharField(max_length=255)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=32, blank=True)
    portal_refund_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["payment_gateway_id", "created_at"], name="sandbox_refund_payment"),
            models.Index(fields=["portal_refund_id"], name="sandbox_refund_portal_id"),
        ]

    def __str__(self) -> str:
        return f"{self.refund_id} ({self.idempotency_key})"


class Dispute(models.Model):
    """A customer's bank disputing a payment (a chargeback, or an inquiry before one), as the
    gateway last reported it; recorded once per gateway dispute id and moved on by its events.

    While it is open the payment cannot be refunded (the gateway refuses it too, unless it says
    the payment is still refundable: `charge_refundable`). Lost, it has its one `dispute_lost`
    ledger entry (the money, and the credits taken back), written with the status in one
    transaction; a check keeps the two together.
    """

    class Status(models.TextChoices):
        # The values of `payments.gateway.DisputeStatus`.
        INQUIRY_NEEDS_RESPONSE = "inquiry_needs_response", "Inquiry: needs response"
        INQUIRY_UNDER_REVIEW = "inquiry_under_review", "Inquiry: under review"
        INQUIRY_CLOSED = "inquiry_closed", "Inquiry closed"
        NEEDS_RESPONSE = "needs_response", "Needs response"
        UNDER_REVIEW = "under_review", "Under review"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        PREVENTED = "prevented", "Prevented"

    OPEN = ("inquiry_needs_response", "inquiry_under_review", "needs_response", "under_review")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    gateway_dispute_id = models.CharField(max_length=255)  # du_… at Stripe
    amount = models.BigIntegerField(help_text="Minor units: what the bank holds back.")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, blank=True)  # the bank's reason, in words
    status = models.CharField(max_length=32, choices=Status)
    evidence_due_at = models.DateTimeField(null=True, blank=True)
    charge_refundable = models.BooleanField(default=False)
    opened_at = models.DateTimeField(null=True, blank=True)  # at the gateway
    # When the gateway wrote the news last applied: news older than this is stale and ignored.
    reported_at = models.DateTimeField()
    credits_taken = models.BigIntegerField(default=0)
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="dispute"
    )
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gateway_dispute_id"], name="dispute_unique_gateway_id"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="dispute_amount_positive"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="dispute_currency_iso"),
            models.CheckConstraint(condition=models.Q(credits_taken__gte=0), name="dispute_credits_taken_non_negative"),
            models.CheckConstraint(
                condition=models.Q(status="lost", ledger_entry__isnull=False)
                | (~models.Q(status="lost") & models.Q(ledger_entry__isnull=True)),
                name="dispute_lost_has_its_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.gateway_dispute_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def blocks_refunds(self) -> bool:
        """The payment cannot be refunded: the dispute is open and the gateway would refuse a
        refund, or it was lost (the bank already gave the money back)."""
        return (self.is_open and not self.charge_refundable) or self.status == self.Status.LOST

    # `blocks_refunds` as a query, for `payments.selectors.payment_dispute_blocking_refunds`.
    BLOCKS_REFUNDS = models.Q(status__in=OPEN, charge_refundable=False) | models.Q(status="lost")

    def refund_refusal(self) -> str:
        """Why the payment cannot be refunded because of this dispute, for the staff member."""
        amount = money_format(self.amount, self.currency)
        if self.status == self.Status.LOST:
            return (
                f"The customer's bank took this payment back in a dispute ({amount}, "
                f"{self.reason or 'no reason given'}: lost). It cannot be refunded as well."
            )
        due = f"; a response is due {date_format(self.evidence_due_at, 'M j, Y')}" if self.evidence_due_at else ""
        return (
            f"The customer's bank disputes this payment ({amount}, {self.reason or 'no reason given'}: "
            f"{self.get_status_display().lower()}{due}). It cannot be refunded while the dispute is open; "
            "respond to the dispute in the Stripe Dashboard."
        )


class CreditChangeRequest(models.Model):
    """A credit change over CREDITS_APPROVAL_THRESHOLD, waiting for a second staff member.

    It records the balance the requester saw (`balance_before`) and the one they asked for: the
    change is applied at approval time only if the balance is still `balance_before`, so an
    approval never applies a change to a balance nobody looked at. Never decided by the
    requester, nor by anyone whose own account it is.
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_change_requests")
    balance_before = models.BigIntegerField()
    new_balance = models.BigIntegerField()
    note = models.TextField(blank=True)
    status = models.CharField(max_length=24, choices=Status, default=Status.AWAITING_APPROVAL)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    # The adjustment written when it was approved.
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="credit_change_request"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("approve_credit_change", "Can approve another staff member's large credit change")]
        indexes = [
            models.Index(
                fields=["created_at"], condition=models.Q(status="awaiting_approval"), name="payments_credit_awaiting"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance_before__gte=0, new_balance__gte=0),
                name="credit_change_balances_non_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(new_balance=models.F("balance_before")), name="credit_change_changes_something"
            ),
            models.CheckConstraint(
                condition=models.Q(status="approved", ledger_entry__isnull=False)
                | (~models.Q(status="approved") & models.Q(ledger_entry__isnull=True)),
                name="credit_change_approved_has_its_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"Credit change {self.pk}: {self.balance_before} → {self.new_balance} ({self.status})"

    @property
    def credits_delta(self) -> int:
        return self.new_balance - self.balance_before
