from django.db import models
from django.db.models.functions import Now


class BooksCheck(models.Model):
    """One run of the books check (`books.services.books_check_record`): when, how long, what it
    looked at, and every rule's offenders (the first few of each), kept for Finance and auditors."""

    ran_at = models.DateTimeField(db_default=Now())
    seconds = models.FloatField()
    # Rows looked at, by table: {"users": 2002, "payments": …}.
    counts = models.JSONField(default=dict)
    # Each rule's offender count, by the rule's name: {"credits": 0, "payment totals": 2, …}.
    rules = models.JSONField(default=dict)
    offender_count = models.PositiveIntegerField()
    # [{"rule": "credits", "object": "user", "id": 12, "detail": "…"}], at most a few per rule.
    offenders = models.JSONField(default=list)

    class Meta:
        permissions = [("view_books", "Can see the books check")]
        indexes = [models.Index(models.F("ran_at").desc(), name="books_check_newest")]

    def __str__(self) -> str:
        return f"Books check at {self.ran_at:%Y-%m-%d %H:%M}: {self.offender_count} offenders"

    @property
    def ok(self) -> bool:
        return self.offender_count == 0


class DriftCheck(models.Model):
    """One run of the drift report (`books.drift.gateway_drift_check`): the portal's refunds in a
    window against each gateway's own list, what each side held, and every exception (the first
    few hundred), kept for Finance and auditors.

    Seen on the Books page with `books.view_books`: the report is part of the books, and a
    permission of its own would also have to be listed in `accounts.roles`, which sets each role's
    permissions afresh whenever a staff member's role is changed.
    """

    class Kind(models.TextChoices):
        ADOPTED = "adopted", "At the gateway only: recorded here"
        GATEWAY_ONLY = "gateway_only", "At the gateway only: not recorded"
        MISSING_AT_GATEWAY = "missing_at_gateway", "Here, not at the gateway"
        AMOUNT_DIFFERS = "amount_differs", "Amount differs"
        STATUS_DIFFERS = "status_differs", "Status differs"
        UNSETTLED_HERE = "unsettled_here", "Unsettled here"
        GATEWAY_UNAVAILABLE = "gateway_unavailable", "Gateway did not answer"

    # Exceptions the portal deals with itself: a refund made at the gateway alone is recorded by
    # the report (as its webhook would have), one still pending here is settled by the
    # reconciliation job. Every other kind needs a person.
    SETTLED_BY_THE_PORTAL = (Kind.ADOPTED, Kind.UNSETTLED_HERE)

    ran_at = models.DateTimeField(db_default=Now())
    # The window, [since, until), by when each refund was made at the gateway.
    since = models.DateTimeField()
    until = models.DateTimeField()
    seconds = models.FloatField()
    # What each gateway asked listed and what matched: {"stripe": {"listed": 120, "matched": 118, …}}.
    counts = models.JSONField(default=dict)
    exception_count = models.PositiveIntegerField()
    needs_person_count = models.PositiveIntegerField()
    # [{"kind": "status_differs", "gateway": "stripe", "gateway_refund_id": "re_…", "refund_id": 12,
    #   "payment_id": 7, "customer_id": 3, "detail": "…"}], at most DRIFT_EXCEPTIONS_KEPT.
    exceptions = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(models.F("ran_at").desc(), name="books_drift_newest")]

    def __str__(self) -> str:
        return f"Drift check at {self.ran_at:%Y-%m-%d %H:%M}: {self.exception_count} exceptions"

    @property
    def ok(self) -> bool:
        """Nothing a person must look at."""
        return self.needs_person_count == 0

    @classmethod
    def needs_person(cls, kind: str) -> bool:
        return kind not in cls.SETTLED_BY_THE_PORTAL
