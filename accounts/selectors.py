from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.functions import Lower

from accounts.models import AuditEvent, SmsMessage, User
from accounts.search import SearchableText, folded_value, word_start_value


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_after: int | None  # the id to continue after, or None on the last page


def user_search(*, query: str = "", after: int | None = None, page_size: int | None = None) -> UserPage:
    """Users matching every word of `query` in their first name, last name or email.

    Case- and accent-insensitive substring match, each word narrowing the result; `%`, `_` and
    `\\` are matched literally. A word of one or two letters or digits matches the start of a
    word instead ("el" finds Elena, not Daniel): that is what someone typing it means, and it is
    what an index can answer at a million users. Newest first, paged by keyset (`after` is the
    last id of the previous page), so no page ever counts the whole table. On the first page, a
    user whose email is exactly the query comes first.
    """
    page_size = page_size or settings.USER_LIST_PAGE_SIZE
    words = query.split()
    matches: QuerySet[User] = User.objects.all()
    if words:
        matches = matches.alias(searchable=SearchableText())
        for word in words:
            if len(word) < 3 and word.isalnum():
                matches = matches.filter(searchable__regex=word_start_value(word))
            else:
                matches = matches.filter(searchable__contains=folded_value(word))

    exact: list[User] = []
    if "@" in query and len(words) == 1:
        exact = list(User.objects.alias(email_lower=Lower("email")).filter(email_lower=query.lower()))
        matches = matches.exclude(pk__in=[user.pk for user in exact])

    if after is not None:
        boundary = User.objects.filter(pk=after).values_list("date_joined", flat=True).first()
        if boundary is not None:
            matches = matches.filter(date_joined__lte=boundary).exclude(date_joined=boundary, pk__gte=after)
        exact = []

    rows = list(matches.order_by("-date_joined", "-id")[: page_size + 1 - len(exact)])
    rows = exact + rows
    next_after = rows[page_size - 1].pk if len(rows) > page_size else None
    return UserPage(users=rows[:page_size], next_after=next_after)


@dataclass(frozen=True)
class SmsMessagePage:
    messages: list[SmsMessage]
    has_more: bool  # older messages exist beyond this page


def sms_message_list(*, user: User, limit: int | None = None) -> SmsMessagePage:
    """The text messages sent to `user`, newest first, at most `limit` of them, in one query."""
    limit = limit or settings.SMS_MESSAGES_SHOWN
    rows = list(SmsMessage.objects.filter(user=user).order_by("-created_at", "-id")[: limit + 1])
    return SmsMessagePage(messages=rows[:limit], has_more=len(rows) > limit)


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
