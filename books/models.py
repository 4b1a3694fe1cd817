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
