from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet

from audit.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    target_user_id: int | None = None
    action: str = ""
    since: date | None = None
    until: date | None = None  # inclusive


def audit_events(*, filters: AuditFilter = AuditFilter()) -> QuerySet[AuditEvent]:
    """Audit events matching `filters`, newest first (by id: the order they were written)."""
    events = AuditEvent.objects.select_related("actor", "target_user").order_by("-id")
    if filters.actor_id:
        events = events.filter(actor_id=filters.actor_id)
    if filters.target_user_id:
        events = events.filter(target_user_id=filters.target_user_id)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.since:
        events = events.filter(created_at__gte=datetime.combine(filters.since, time.min, tzinfo=UTC))
    if filters.until:
        events = events.filter(created_at__lt=datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=UTC))
    return events


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_before: int | None


def audit_page(*, filters: AuditFilter = AuditFilter(), before: int | None = None, limit: int = 50) -> AuditPage:
    """One page of `audit_events`, by keyset (`before` is the last id of the previous page)."""
    events = audit_events(filters=filters)
    if before is not None:
        events = events.filter(id__lt=before)
    rows = list(events[: limit + 1])
    return AuditPage(events=rows[:limit], next_before=rows[limit - 1].pk if len(rows) > limit else None)


AUDIT_CSV_COLUMNS = [
    "id",
    "time",
    "actor",
    "actor_id",
    "action",
    "customer_id",
    "about",
    "before",
    "after",
    "ip_address",
    "user_agent",
    "correlation_id",
]
