"""The Users search: `user_search` and the steps it takes so that no search reads the table
(accounts/search.py has the SQL it matches with; bench/NOTES.md has why each step is there)."""

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import CharField, F, Q, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Cast, Coalesce, Lower, Right
from psycopg.errors import QueryCanceled

from accounts.models import User
from accounts.phone_search import LAST_DIGITS_MIN, PhoneQuery, phone_query
from accounts.phones import phone_number_stored
from accounts.search import (
    PUNCTUATED,
    ScannedText,
    folded_value,
    punctuated,
    regex_escaped,
    word_pieces,
    word_start_value,
)


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_after: int | None  # the id to continue after, or None on the last page
    # True when the page was cut at the end of a bounded window (a search no index can serve):
    # fewer rows than a page, and older users are searched by the next page.
    window_only: bool = False
    # The query was a phone number, or the last digits of one (accounts/phone_search.py).
    phone: PhoneQuery | None = None


class SearchTooSlow(Exception):
    """A search statement ran past `SEARCH_STATEMENT_TIMEOUT_MS` and was cancelled by PostgreSQL."""


# How many of the newest users (after the page boundary) the first, cheap step of a search reads.
SEARCH_RECENT_WINDOW = 4000
# The largest window a search reads row by row (about 0.25 µs a row from the index alone: its
# floor, then the walk): the second step of a word of middling frequency, and all that a search no
# index can serve reads for a page.
SEARCH_WINDOW_MAX = 50_000
# What a step costs, relative: a row of a window (floor and index-only walk, a LIKE on the text
# the index carries) against a match fetched through the trigram index (bitmap, a random read of
# the table, recheck), measured on the bench database at a million users (bench/NOTES.md): about
# 0.25 µs and 4 µs.
WINDOW_ROW_COST = 1.0
INDEX_MATCH_COST = 16.0


@dataclass(frozen=True)
class _Word:
    """One typed word, as the conditions that find it: `indexed` is served by the trigram index
    (None: no index can serve it, the word is only matched in bounded windows)."""

    indexed: Q | None
    scanned: Q
    # Has a character only the punctuated users' text holds: the partial index finds every match.
    punctuated: bool = False


def _word_conditions(word: str) -> _Word:
    conditions = _word_match(word)
    return _Word(indexed=conditions.indexed, scanned=conditions.scanned, punctuated=punctuated(word))


def _word_match(word: str) -> _Word:
    """How one typed word matches, on the index's own idea of words (letters and digits; every
    other character separates words, as pg_trgm splits them).

    - letters and digits only, three or more: anywhere (trigram substring);
    - letters and digits only, one or two: at the start of a word ("el" finds Elena, not Daniel);
    - with punctuation and a piece of three or more letters ("jose.rivera", "o'brien"): anywhere,
      literally; the long piece gives the index its trigrams;
    - with punctuation, starting with a letter or digit, every piece short ("o'", "j.", "o'b",
      "j.s"): literally, at the start of a word: what someone typing O'Brien or j.smith means,
      and what the index serves (a one-letter word "o" is a trigram of its own);
    - anything else ("'", "%", "_", "+", "-p"): literally, anywhere; no trigram serves it
      (punctuation has none, and " p" is a quarter of all users).

    A word with punctuation other than "@" and "." can only match the few users whose text has
    some: `_search_rows` walks their partial index instead (`_Word.punctuated`).
    """
    pieces = word_pieces(word)
    if not pieces:
        return _Word(indexed=None, scanned=Q(scanned__contains=folded_value(word)))
    if word.isalnum():
        if len(word) < 3:
            start = word_start_value(word)
            return _Word(indexed=Q(search_text__regex=start), scanned=Q(scanned__regex=start))
        return _Word(
            indexed=Q(search_text__contains=folded_value(word)), scanned=Q(scanned__contains=folded_value(word))
        )
    if max(len(piece) for piece in pieces) >= 3:
        return _Word(
            indexed=Q(search_text__contains=folded_value(word)), scanned=Q(scanned__contains=folded_value(word))
        )
    if word[0].isalnum():
        start = word_start_value(regex_escaped(word))
        # A LIKE first, for the rows walked: it rejects most of them for a tenth of a regex.
        scanned = Q(scanned__contains=folded_value(word)) & Q(scanned__regex=start)
        return _Word(indexed=Q(search_text__regex=start), scanned=scanned)
    return _Word(indexed=None, scanned=Q(scanned__contains=folded_value(word)))


def user_search(*, query: str = "", after: int | None = None, page_size: int | None = None) -> UserPage:
    """Users matching every word of `query` in their first name, last name or email.

    Case- and accent-insensitive; `%`, `_` and `\\` are matched literally. A word of three or
    more letters matches anywhere; a shorter one, or a word of short pieces around punctuation
    ("o'b", "j.s"), matches the start of a word (see `_word_conditions`). Newest first, paged by
    keyset (`after` is the last id of the previous page), so no page ever counts the whole table.
    On the first page, a user whose email is exactly the query comes first.

    Every statement runs under `SEARCH_STATEMENT_TIMEOUT_MS`: a search that would run longer
    raises `SearchTooSlow` rather than hold a worker.
    """
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Local to this transaction (as SET LOCAL). No parallel workers either: a search is
                # short, and on a small machine a typist's parallel scan takes the cores that every
                # other page needs.
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), current_setting('max_parallel_workers_per_gather'),"
                    " set_config('statement_timeout', %s, true),"
                    " set_config('max_parallel_workers_per_gather', '0', true)",
                    [f"{settings.SEARCH_STATEMENT_TIMEOUT_MS}ms"],
                )
                timeout, workers = cursor.fetchone()[:2]
            page = _user_search(query=query, after=after, page_size=page_size or settings.USER_LIST_PAGE_SIZE)
            if nested:
                # Inside a caller's transaction the local settings would outlive this search: put them back.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true),"
                        " set_config('max_parallel_workers_per_gather', %s, true)",
                        [timeout, workers],
                    )
            return page
    except OperationalError as error:
        if isinstance(error.__cause__, QueryCanceled):
            raise SearchTooSlow(query) from error
        raise


def _user_search(*, query: str, after: int | None, page_size: int) -> UserPage:
    words = [_word_conditions(word) for word in query.split()]
    users: QuerySet[User] = User.objects.all()
    if after is not None:
        boundary = User.objects.filter(pk=after).values_list("date_joined", flat=True).first()
        if boundary is not None:
            users = users.filter(date_joined__lte=boundary).exclude(date_joined=boundary, pk__gte=after)

    if (phone := phone_query(query)) is not None:
        return _phone_page(users=users, phone=phone, page_size=page_size)

    exact: list[User] = []
    if "@" in query and len(words) == 1 and after is None:
        exact = _users_shown(User.objects.alias(email_lower=Lower("email")).filter(email_lower=query.lower()))
        users = users.exclude(pk__in=[user.pk for user in exact])

    limit = page_size + 1 - len(exact)
    if not words:
        rows = _users_shown(users.order_by(*NEWEST_FIRST)[:limit])
        window_end = None
    else:
        rows, window_end = _search_rows(users=users, words=words, limit=limit)
    rows = exact + rows
    if len(rows) > page_size:
        return UserPage(users=rows[:page_size], next_after=rows[page_size - 1].pk)
    return UserPage(users=rows, next_after=window_end, window_only=window_end is not None)


def _phone_page(*, users: QuerySet[User], phone: PhoneQuery, page_size: int) -> UserPage:
    """Users with this phone number, or whose number ends with these digits, newest first: one
    statement down `accounts_user_phone_newest` or `accounts_user_phone_end_newest` (the last
    four digits, then the rest of the ending tested on that group's rows in order)."""
    matches = users.filter(~Q(phone=""))
    if phone.e164:
        matches = matches.filter(phone=phone.e164)
    else:
        text = CharField()
        matches = matches.alias(
            phone_end=Right("phone", LAST_DIGITS_MIN, output_field=text),
            phone_tail=Right("phone", len(phone.last_digits), output_field=text),
        ).filter(phone_end=phone.last_digits[-LAST_DIGITS_MIN:], phone_tail=phone.last_digits)
    rows = _users_shown(matches.order_by(*NEWEST_FIRST)[: page_size + 1])
    if len(rows) > page_size:
        return UserPage(users=rows[:page_size], next_after=rows[page_size - 1].pk, phone=phone)
    return UserPage(users=rows, next_after=None, phone=phone)


def _window_floor(users: QuerySet[User], size: int) -> tuple | None:
    """(join time, id) of the `size`-th newest of `users`: one step down the newest-first index;
    None when there are fewer."""
    return users.order_by(*NEWEST_FIRST).values_list("date_joined", "id")[size - 1 : size].first()


NEWEST_FIRST = ("-date_joined", "-id")


def _search_rows(*, users: QuerySet[User], words: list[_Word], limit: int) -> tuple[list[User], int | None]:
    """The newest `limit` users matching `words`, in steps whose cost is bounded, and (second) the
    id to continue after when only a bounded window could be searched.

    Left to itself, PostgreSQL picks between walking the newest-first index (fast for common
    words, slow for rare ones) and fetching every match through the trigram index then sorting
    (fast for rare words, slow for common and middling ones: "john" fetched 3,600 rows at a
    million users), on an estimate of how many users match that flips with each ANALYZE
    (bench/NOTES.md). So:

    1. look among the newest SEARCH_RECENT_WINDOW users (a bounded walk, the text spelled so that
       no index matches it): a common word finds its page there, and they are the newest of all;
    2. from how many matched, estimate the word's frequency: if a larger window (at most
       SEARCH_WINDOW_MAX) is expected to hold a page and to cost less than fetching every match
       through the trigram index, walk it;
    3. otherwise the trigram index, ordered with NULLS LAST (the same order, `date_joined` is
       never null) so that the planner cannot walk the newest-first index instead.

    A word with punctuation other than "@" and "." ("o'", "-p", "_") can only match the users
    whose text has some, about 2% of them: their partial index, walked newest first with the
    text in it, finds every match, whatever the other words, in one statement.

    Any other search with no word an index can serve (".c", "@") stops after SEARCH_WINDOW_MAX
    rows: the page holds what the window had, and the next page searches the window after it.
    """
    scanned = users.alias(scanned=ScannedText())
    for word in words:
        scanned = scanned.filter(word.scanned)
    if any(word.punctuated for word in words):
        return _newest_rows(scanned.filter(search_text__regex=PUNCTUATED), limit), None
    if not any(word.indexed is not None for word in words):
        return _windows_paged(scanned, users, limit)

    ids = _recent_ids(scanned, users, SEARCH_RECENT_WINDOW, limit)
    if 0 < len(ids) < limit:
        frequency = len(ids) / SEARCH_RECENT_WINDOW
        window = math.ceil(limit / frequency * 1.5)
        if window <= SEARCH_WINDOW_MAX and window * WINDOW_ROW_COST <= frequency * _users_estimate() * INDEX_MATCH_COST:
            ids = _recent_ids(scanned, users, window, limit)
    if len(ids) == limit:
        return _users_shown(User.objects.filter(pk__in=ids).order_by(*NEWEST_FIRST)), None

    matches = users.alias(scanned=ScannedText())
    for word in words:
        matches = matches.filter(word.indexed if word.indexed is not None else word.scanned)
    ordering = (F("date_joined").desc(nulls_last=True), F("id").desc(nulls_last=True))
    return _users_shown(matches.order_by(*ordering)[:limit]), None


def _windows_paged(scanned: QuerySet[User], users: QuerySet[User], limit: int) -> tuple[list[User], int | None]:
    """A search no index serves: the newest SEARCH_RECENT_WINDOW users, then SEARCH_WINDOW_MAX;
    a page cut at the window's end, and its floor's id to continue after."""
    rows, floor = _window_rows(scanned, users, SEARCH_RECENT_WINDOW, limit)
    if len(rows) == limit or floor is None:
        return rows, None  # a page, or the window held every user after the boundary
    rows, floor = _window_rows(scanned, users, SEARCH_WINDOW_MAX, limit)
    if len(rows) == limit or floor is None:
        return rows, None
    return rows, floor[1]


def _recent_ids(scanned: QuerySet[User], users: QuerySet[User], size: int, limit: int) -> list[int]:
    """The ids of the newest `limit` users that `scanned` matches among the newest `size` or so of
    `users`: one statement, the window's floor a subquery read once (its join time; users who
    joined at that same instant are in the window too, which changes nothing: the window only
    bounds the work, and a page is the newest matches in order however far it looked)."""
    floor = users.order_by(*NEWEST_FIRST).values("date_joined")[size - 1 : size]
    # Fewer users than the window: no floor, every user (the coalesced floor is the year 1).
    window = scanned.filter(date_joined__gte=Coalesce(Subquery(floor), Value(EARLIEST)))
    return list(window.order_by(*NEWEST_FIRST).values_list("id", flat=True)[:limit])


EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


def _window_rows(
    scanned: QuerySet[User], users: QuerySet[User], size: int, limit: int
) -> tuple[list[User], tuple | None]:
    """The newest `limit` users that `scanned` matches among the newest `size` of `users`, and
    the window's floor (None: fewer users than the window, all of them searched). Two statements,
    each one walk of the newest-first index: the floor (read once, not once per condition that
    needs it, as a subquery would be), then the matches down to it (`_newest_rows`)."""
    floor = _window_floor(users, size)
    if floor is not None:
        joined, pk = floor
        scanned = scanned.filter(date_joined__gte=joined).exclude(date_joined=joined, pk__lt=pk)
    return _newest_rows(scanned, limit), floor


def _newest_rows(matches: QuerySet[User], limit: int) -> list[User]:
    """The newest `limit` users of `matches`: their ids first (an index-only scan, when the index
    walked carries what the conditions test), then the rows by primary key."""
    ids = matches.order_by(*NEWEST_FIRST).values("id")[:limit]
    return _users_shown(User.objects.filter(pk__in=Subquery(ids)).order_by(*NEWEST_FIRST))


def _users_shown(users: QuerySet[User]) -> list[User]:
    """`users` as a page shows them: the phone number loaded as its stored text and read through
    `phone_number_stored` (no parse of each row's number, the same object for the same number)."""
    rows = list(users.defer("phone").annotate(phone_stored=Cast("phone", output_field=TextField())))
    for row in rows:
        row.phone = phone_number_stored(row.phone_stored)
    return rows


_estimate: tuple[float, float] = (0.0, 0.0)  # (when, users): the planner's count, read at most once a minute


def _users_estimate() -> float:
    """How many users there are, as the planner's statistics have it (no count of the table),
    read again after a minute."""
    global _estimate
    when, users = _estimate
    if time.monotonic() - when > 60 or not users:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [User._meta.db_table])
            row = cursor.fetchone()
        _estimate = (time.monotonic(), max(row[0], 0) if row else 0)
    return _estimate[1]
