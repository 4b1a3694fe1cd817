from django.conf import settings
from django.db import models
from django.db.models.functions import Now


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

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries")
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
    correlation_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "ledger entries"
        permissions = [("adjust_credits", "Can change a customer's credit balance")]
        indexes = [
            # A customer's history, newest first, paged by id.
            models.Index(fields=["user", "-id"], name="payments_ledger_user_history"),
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
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.credits_delta:+d} → {self.balance_after}"

    @property
    def balance_before(self) -> int:
        return self.balance_after - self.credits_delta
