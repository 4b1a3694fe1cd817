"""A customer's timeline: everything that happened to them, newest first, in one list.

It lives in `refunds`, the lowest room that may read every source: the ledger, payments and
disputes (payments), refunds, messages (notifications), the audit trail (audit) and staff notes
(accounts).

Cost: one query per source, each `limit + 1` rows read in order from an index on
(customer, time desc, id desc) from the page marker on, plus one query for the phases of the
refunds on the page. The number of queries and the rows each reads do not grow with the history.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from django.db.models import Q, QuerySet

from accounts.models import CustomerNote, User
from audit.models import AuditEvent
from core.dates import SECONDS, TimeTexts, time_texts
from notifications.models import SmsMessage
from payments.models import Dispute, LedgerEntry, Payment
from refunds.audit import RefundAction
from refunds.models import Refund

TIMELINE_PAGE_SIZE = 25


class TimelineKind:
    """The kinds of entry, each one source. Entries at the same time are ordered by kind, then id."""

    AUDIT = "audit"
    DISPUTE = "dispute"
    LEDGER = "ledger"
    MESSAGE = "message"
    NOTE = "note"
    PAYMENT = "payment"
    REFUND = "refund"

    CHOICES = [
        (LEDGER, "Credits"),
        (PAYMENT, "Payments"),
        (REFUND, "Refunds"),
        (DISPUTE, "Disputes"),
        (MESSAGE, "Messages"),
        (AUDIT, "Audit events"),
        (NOTE, "Staff notes"),
    ]
    ALL = tuple(kind for kind, _ in CHOICES)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class TimelineCursor:
    """Where a page ends: its last entry's (time, kind, id). The next page holds what sorts after it."""

    at: datetime
    kind: str
    id: int

    def __str__(self) -> str:
        return f"{(self.at - _EPOCH) // _MICROSECOND}-{self.kind}-{self.id}"

    @classmethod
    def parse(cls, text: str) -> "TimelineCursor":
        """The cursor `str()` wrote; ValueError for anything else."""
        micros, kind, pk = text.split("-")
        if kind not in TimelineKind.ALL or not micros.isdigit() or not pk.isdigit():
            raise ValueError(text)
        at = _EPOCH + timedelta(microseconds=int(micros))  # OverflowError is a ValueError's cousin
        return cls(at=at, kind=kind, id=int(pk))


@dataclass(frozen=True)
class RefundPhase:
    label: str
    at: datetime | None
    by: User | None = None
    detail: str = ""

    @cached_property
    def when(self) -> TimeTexts | None:
        return time_texts(self.at, SECONDS) if self.at else None


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: datetime
    id: int
    item: object  # the LedgerEntry, Payment, Refund, Dispute, SmsMessage, AuditEvent or CustomerNote
    phases: list[RefundPhase] = field(default_factory=list)

    @property
    def cursor(self) -> TimelineCursor:
        return TimelineCursor(at=self.at, kind=self.kind, id=self.id)

    @cached_property
    def when(self) -> TimeTexts:
        """Its time as the timeline prints it: formatted for the entries shown only, once each."""
        return time_texts(self.at, SECONDS)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: TimelineCursor | None  # None on the last page


def _older_than(rows: QuerySet, *, kind: str, cursor: TimelineCursor | None, time_field: str = "created_at"):
    """The rows of one source that sort after `cursor` in (time desc, kind desc, id desc).

    The bound on time alone (`<=`) is in the index; the tie on equal times is decided by kind
    (a smaller kind comes later), then by id within the cursor's own kind."""
    if cursor is None:
        return rows
    if kind < cursor.kind:
        return rows.filter(**{f"{time_field}__lte": cursor.at})
    if kind > cursor.kind:
        return rows.filter(**{f"{time_field}__lt": cursor.at})
    return rows.filter(**{f"{time_field}__lte": cursor.at}).filter(
        Q(**{f"{time_field}__lt": cursor.at}) | Q(**{time_field: cursor.at, "id__lt": cursor.id})
    )


def _person(relation: str) -> tuple[str, ...]:
    """A person's columns the timeline shows: their name, or their email when they have none."""
    return (f"{relation}__first_name", f"{relation}__last_name", f"{relation}__email")


# The columns each source's entries show (templates/refunds/timeline.html, `refund_phases`), beside
# created_at and id. Building models from every column of a row and of the people joined to it was
# most of the timeline's own time: 18 of the Activity tab's 38 ms for a customer of 500 payments.
# A column left out costs a query per row when the template asks for it, which the query-count
# tests catch (tests/refunds/test_customer_timeline.py).
_COLUMNS = {
    TimelineKind.LEDGER: (
        *("kind", "credits_delta", "money_delta", "currency", "balance_after", "note", "payment_id"),
        *_person("actor"),
    ),
    TimelineKind.PAYMENT: ("amount", "currency", "status", "gateway_id"),
    TimelineKind.REFUND: (
        *("type", "amount", "currency", "status", "approval_rule", "decided_at", "rejection_reason"),
        *("gateway_refund_id", "settled_at", "failure_reason", "payment__gateway_id"),
        *_person("requested_by"),
        *_person("decided_by"),
    ),
    TimelineKind.DISPUTE: ("status", "evidence_due_at", "payment__gateway_id"),
    TimelineKind.MESSAGE: ("status", "body"),
    TimelineKind.AUDIT: ("action", "actor_label"),
    TimelineKind.NOTE: ("text", *_person("author")),
}


def _sources(user: User) -> dict[str, QuerySet]:
    sources = {
        TimelineKind.LEDGER: LedgerEntry.objects.filter(user=user).select_related("actor"),
        TimelineKind.PAYMENT: Payment.objects.filter(user=user),
        TimelineKind.REFUND: Refund.objects.filter(user=user).select_related("payment", "requested_by", "decided_by"),
        # Disputes have no customer column: few rows in all, each joined to its payment by key.
        TimelineKind.DISPUTE: Dispute.objects.filter(payment__user=user).select_related("payment"),
        TimelineKind.MESSAGE: SmsMessage.objects.filter(user=user),
        TimelineKind.AUDIT: AuditEvent.objects.filter(target_user=user),
        # accounts.selectors.customer_notes's query, with the page marker it has no argument for.
        TimelineKind.NOTE: CustomerNote.objects.filter(user=user).select_related("author"),
    }
    return {kind: rows.only("created_at", *_COLUMNS[kind]) for kind, rows in sources.items()}


# What each audit action of a refund says about its phase.
_PHASE_ACTIONS = {
    RefundAction.APPROVED: "Approved",
    RefundAction.REJECTED: "Rejected",
    RefundAction.EXECUTED: "Succeeded",
    RefundAction.FAILED: "Failed",
    RefundAction.REVERSED: "Reversed",
}


def refund_phases(*, refund: Refund, events: list[AuditEvent]) -> list[RefundPhase]:
    """A refund's phases, oldest first: requested, approved or rejected, at the gateway, and its
    outcome (succeeded, failed, canceled, reversed), from its own timestamps and status and the
    audit events about it (`events`, oldest first)."""
    by_action = {}
    for event in events:
        by_action.setdefault(event.action, event)
    phases = [RefundPhase("Requested", refund.created_at, refund.requested_by)]
    if refund.approval_rule or refund.decided_at:
        phases.append(RefundPhase("Awaiting approval", refund.created_at, detail=refund.get_approval_rule_display()))
    if refund.decided_at:
        label = "Rejected" if refund.status == Refund.Status.REJECTED else "Approved"
        phases.append(RefundPhase(label, refund.decided_at, refund.decided_by, refund.rejection_reason))
    if refund.gateway_refund_id:
        phases.append(RefundPhase("At the gateway", None, detail=refund.gateway_refund_id))
    elif refund.status in (Refund.Status.PENDING, Refund.Status.REQUIRES_ACTION):
        phases.append(RefundPhase("Sent to the gateway, no answer yet", None))
    if refund.status in (Refund.Status.SUCCEEDED, Refund.Status.FAILED, Refund.Status.CANCELED):
        succeeded = refund.status == Refund.Status.SUCCEEDED
        event = by_action.get(RefundAction.EXECUTED if succeeded else RefundAction.FAILED)
        at = refund.settled_at or (event.created_at if event else None)
        phases.append(RefundPhase(refund.get_status_display(), at, detail=refund.failure_reason))
    reversed_event = by_action.get(RefundAction.REVERSED)
    if reversed_event is not None:
        phases.append(RefundPhase("Reversed", reversed_event.created_at, reversed_event.actor))
    return phases


def customer_timeline(
    *,
    user: User,
    kinds: tuple[str, ...] | list[str] = TimelineKind.ALL,
    cursor: TimelineCursor | None = None,
    limit: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """The customer's timeline, newest first by (time, kind, id), `limit` entries after `cursor`,
    only of `kinds`: one query per kind asked for, plus one for the phases of the page's refunds."""
    candidates: list[TimelineEntry] = []
    for kind, rows in _sources(user).items():
        if kind not in kinds:
            continue
        rows = _older_than(rows, kind=kind, cursor=cursor).order_by("-created_at", "-id")
        candidates += [TimelineEntry(kind, row.created_at, row.pk, row) for row in rows[: limit + 1]]
    candidates.sort(key=lambda entry: (entry.at, entry.kind, entry.id), reverse=True)
    page = candidates[:limit]
    next_cursor = page[-1].cursor if len(candidates) > limit else None
    refunds = [entry for entry in page if entry.kind == TimelineKind.REFUND]
    if refunds:
        events: dict[int, list[AuditEvent]] = {}
        about = AuditEvent.objects.filter(
            about_type__app_label="refunds", about_type__model="refund", about_id__in=[entry.id for entry in refunds]
        ).select_related("actor")
        for event in about.only("created_at", "action", "about_id", *_person("actor")).order_by("created_at", "id"):
            events.setdefault(event.about_id, []).append(event)
        page = [
            TimelineEntry(e.kind, e.at, e.id, e.item, refund_phases(refund=e.item, events=events.get(e.id, [])))
            if e.kind == TimelineKind.REFUND
            else e
            for e in page
        ]
    return TimelinePage(entries=page, next_cursor=next_cursor)
