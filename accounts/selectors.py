from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, QuerySet
from django.db.models.functions import Lower

from accounts.models import User
from accounts.roles import ROLES
from accounts.search import SearchableText, folded_value, word_start_value
from accounts.services import staff_role
from core.money import money_format


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
    users: QuerySet[User] = User.objects.all()
    if after is not None:
        boundary = User.objects.filter(pk=after).values_list("date_joined", flat=True).first()
        if boundary is not None:
            users = users.filter(date_joined__lte=boundary).exclude(date_joined=boundary, pk__gte=after)
    matches = users
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
        exact = []

    limit = page_size + 1 - len(exact)
    if words:
        rows = _search_rows(users=users, matches=matches, limit=limit)
    else:
        rows = list(matches.order_by("-date_joined", "-id")[:limit])
    rows = exact + rows
    next_after = rows[page_size - 1].pk if len(rows) > page_size else None
    return UserPage(users=rows[:page_size], next_after=next_after)


# How many of the newest users (after the page boundary) the first, cheap step of a search reads.
SEARCH_RECENT_WINDOW = 4000


def _search_rows(*, users: QuerySet[User], matches: QuerySet[User], limit: int) -> list[User]:
    """The newest `limit` of `matches` (`users` narrowed by the search words), in two steps whose
    cost does not depend on a guess.

    Left to itself, PostgreSQL picks between walking the newest-first index (fast for common
    words, slow for rare ones: "garc" read ~100,000 rows) and fetching every match through the
    trigram index then sorting (fast for rare words, slow for common ones), on an estimate of how
    many users match that flips with each ANALYZE (bench/NOTES.md). So: look among the newest
    users first, a bounded read; if they hold a full page of matches, those are the newest
    matches of all. Otherwise the word is rare, and the trigram index is the right way: the
    ordering, with NULLS LAST that the newest-first index cannot provide (`date_joined` is never
    null, so the order is the same), keeps the planner from walking that index instead.
    """
    newest_first = ("-date_joined", "-id")
    # The join time of the window's oldest user: one step down the newest-first index.
    floor = users.order_by(*newest_first).values_list("date_joined", flat=True)[
        SEARCH_RECENT_WINDOW - 1 : SEARCH_RECENT_WINDOW
    ]
    floor = floor[0] if floor else None
    recent = matches if floor is None else matches.filter(date_joined__gte=floor)
    rows = list(recent.order_by(*newest_first)[:limit])
    if len(rows) == limit or floor is None:
        return rows
    return list(matches.order_by(F("date_joined").desc(nulls_last=True), F("id").desc(nulls_last=True))[:limit])


def staff_limits(*, member: User) -> list[str]:
    """The money limits that hold a staff member, in words, for the Staff page. Permission names
    are strings here: accounts knows the rooms above it only by name. Refund limits are shown for
    US dollars (each currency has its own: README, "Settings")."""
    limits: list[str] = []
    if member.has_perm("payments.adjust_credits"):
        if member.has_perm("payments.adjust_credits_any_amount"):
            limits.append("Credits: no Support limits")
        else:
            limits.append(
                f"Credits: {settings.CREDITS_SUPPORT_MAX_CHANGE:,} an edit, "
                f"{settings.CREDITS_SUPPORT_DAILY_PER_CUSTOMER:,} a day per customer, "
                f"{settings.CREDITS_SUPPORT_DAILY_PER_STAFF:,} a day in all"
            )
        limits.append(f"changes over {settings.CREDITS_APPROVAL_THRESHOLD:,} credits need a second person")
    if member.has_perm("refunds.execute_refund"):
        # In US dollars; the other currencies have their own (REFUND_APPROVAL_THRESHOLDS, REFUND_DAILY_CAPS).
        usd_threshold = settings.REFUND_APPROVAL_THRESHOLDS.get("USD", settings.REFUND_APPROVAL_THRESHOLD)
        limits.append(
            f"Refunds: {money_format(settings.REFUND_DAILY_CAPS.get('USD', settings.REFUND_DAILY_CAP), 'USD')} a day; "
            f"over {money_format(usd_threshold, 'USD')} (alone, or with the last "
            f"{settings.REFUND_APPROVAL_WINDOW_HOURS} hours' refunds on the payment or customer) needs a second person"
        )
    if member.has_perm("refunds.approve_refund") or member.has_perm("payments.approve_credit_change"):
        limits.append("Approves others' refunds and credit changes, never their own or to their own account")
    return limits


@dataclass(frozen=True)
class StaffRow:
    """One row of the Staff page: the member, the role the form edits (a role group, or ""), the
    role they actually act with, in words, and their money limits."""

    member: User
    role: str
    role_shown: str
    limits: list[str]


def staff_role_shown(*, member: User, role: str) -> str:
    """The role a staff member acts with, as the Staff page names it: their role group; for a
    superuser without one, Administrator (a superuser holds every permission); for permissions
    given one by one, the highest role they hold all of; else "No role"."""
    if role:
        return role
    if member.is_superuser:
        return "Administrator (superuser)"
    for name, permissions in reversed(list(ROLES.items())):
        if member.has_perms([f"{app}.{codename}" for app, codename in permissions]):
            return f"{name} (by permissions)"
    return "No role"


def staff_rows() -> list[StaffRow]:
    """Every staff member, by first name, with their role, the role they act with and limits."""
    members = User.objects.filter(is_staff=True).prefetch_related("groups").order_by("first_name", "email")
    rows = []
    for member in members:
        role = staff_role(member)
        rows.append(
            StaffRow(
                member=member,
                role=role,
                role_shown=staff_role_shown(member=member, role=role),
                limits=staff_limits(member=member),
            )
        )
    return rows
