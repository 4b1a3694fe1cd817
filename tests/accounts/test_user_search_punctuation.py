"""The Users search on words with punctuation ("o'", "j.", "-p", "'"), its bounded steps, and the
statement timeout that stops a runaway search, against real PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import accounts.selectors_search
from accounts.models import User
from accounts.selectors_search import SearchTooSlow, user_search
from tests.accounts.paging import search_all, search_pages
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def emails(page) -> list[str]:
    return [user.email for user in page.users]


@pytest.fixture
def irish_names():
    now = timezone.now()
    return {
        "obrien": CustomerFactory(
            first_name="Siobhan", last_name="O'Brien", email="sob@example.com", date_joined=now - timedelta(hours=1)
        ),
        "oneil": CustomerFactory(
            first_name="Liam", last_name="O'Neil", email="lon@example.com", date_joined=now - timedelta(hours=2)
        ),
        # "o'b" inside a word, not at its start.
        "bob": CustomerFactory(
            first_name="Bo'bby", last_name="Tables", email="bt@example.com", date_joined=now - timedelta(hours=3)
        ),
        "plain": CustomerFactory(first_name="Olive", last_name="Brown", email="ob@example.com"),
    }


def test_typing_o_brien_letter_by_letter_narrows_to_the_irish_names(irish_names):
    assert set(user_search(query="o'").users) == {irish_names["obrien"], irish_names["oneil"]}
    assert user_search(query="o'b").users == [irish_names["obrien"]]
    assert user_search(query="o'br").users == [irish_names["obrien"]]
    assert user_search(query="O'Brien").users == [irish_names["obrien"]]
    assert user_search(query="o\u2019brien").users == [irish_names["obrien"]]  # a typographic apostrophe folds to '


def test_an_initial_and_a_dot_match_at_the_start_of_a_word():
    smith = CustomerFactory(first_name="Jo", last_name="Smith", email="j.smith@example.com")
    CustomerFactory(first_name="Raj", last_name="Patel", email="raj.patel@example.com")  # "j." ends a word here
    assert user_search(query="j.").users == [smith]
    assert user_search(query="j.s").users == [smith]
    assert user_search(query="J.Smith").users == [smith]


def test_a_hyphen_then_a_letter_matches_inside_a_double_name():
    jean = CustomerFactory(first_name="Jean-Pierre", last_name="Roux", email="jp@example.com")
    CustomerFactory(first_name="Pierre", last_name="Roux", email="pr@example.com")
    assert user_search(query="-p").users == [jean]
    assert user_search(query="jean-p").users == [jean]


def test_punctuation_alone_matches_literally(irish_names):
    plus = CustomerFactory(first_name="Ann", last_name="Lee", email="ann+promo@example.com")
    assert set(user_search(query="'").users) == {irish_names["obrien"], irish_names["oneil"], irish_names["bob"]}
    assert user_search(query="+").users == [plus]
    assert user_search(query="%").users == []


def test_a_word_with_an_apostrophe_hyphen_or_underscore_finds_every_match_however_old(monkeypatch):
    """Such a word can only match the few users whose text has that punctuation: their partial
    index is walked whole if need be, with no window, so the oldest match is found too."""
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_RECENT_WINDOW", 1)
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_WINDOW_MAX", 2)
    now = timezone.now()
    for i in range(6):
        CustomerFactory(last_name="Plain", date_joined=now - timedelta(hours=i))
    old = CustomerFactory(last_name="D'Arcy", email="d_arcy@example.com", date_joined=now - timedelta(days=900))
    for query in ("'", "d'", "d'a", "_", "_a", "d_a"):
        page = user_search(query=query)
        assert page.users == [old], query
        assert not page.window_only and page.next_after is None


def test_punctuated_words_page_by_keyset_through_every_match():
    now = timezone.now()
    users = [
        CustomerFactory(last_name="O'Hara" if i % 3 == 0 else "Plain", date_joined=now - timedelta(hours=i))
        for i in range(14)
    ]
    assert search_all("o'h", page_size=2) == [user for user in users if user.last_name == "O'Hara"]


def test_a_punctuated_word_walks_the_punctuated_users_index_alone():
    CustomerFactory(last_name="O'Hara")
    plan = _search_plan("o'")
    assert "Index Only Scan using accounts_user_punctuated" in plan, plan


def _search_plan(query: str) -> str:
    """The plan of the statement that finds the matches' ids, as `user_search` sends it."""
    with CaptureQueriesContext(connection) as captured:
        user_search(query=query)
    sql = next(q["sql"] for q in captured.captured_queries if 'FROM "accounts_user"' in q["sql"] and "U0" in q["sql"])
    with connection.cursor() as cursor:
        # A test database is small enough to read whole: ask what the planner does when it is not.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            cursor.execute("EXPLAIN " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")


def test_a_search_no_index_serves_is_searched_a_window_at_a_time_and_pages_reach_every_match(monkeypatch):
    """ "@oh": no trigram (a piece of two letters after punctuation), and "@" is in every email, so
    no partial index either: windows of the newest users."""
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_RECENT_WINDOW", 3)
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_WINDOW_MAX", 4)
    now = timezone.now()
    users = [
        CustomerFactory(
            email=f"user{i}@oh.example" if i in (5, 6, 9) else f"user{i}@example.com",
            date_joined=now - timedelta(hours=i),
        )
        for i in range(12)
    ]
    first = user_search(query="@oh", page_size=2)
    assert first.users == [] and first.window_only  # the newest 4 are not at oh.example
    pages = search_pages("@oh", page_size=2)
    assert [user for page in pages for user in page.users] == [users[5], users[6], users[9]]
    assert len(pages) <= 4


def test_an_empty_window_offers_to_search_older_users(staff_client, monkeypatch):
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_RECENT_WINDOW", 1)
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_WINDOW_MAX", 2)
    now = timezone.now()
    old = CustomerFactory(last_name="Arcy", email="arcy@ol.example", date_joined=now - timedelta(days=30))
    for i in range(3):
        CustomerFactory(last_name="Plain", date_joined=now - timedelta(hours=i))
    response = staff_client.get(reverse("user_list"), {"q": "@ol"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "among the newest users searched" in html
    assert "Search older users" in html
    assert old.email not in html


@pytest.mark.parametrize(
    ("recent", "most", "index_cost"), [(2, 3, 16.0), (2, 50, 10**9), (2, 50, 0.0), (1000, 50, 16.0)]
)
def test_every_step_of_a_search_gives_the_same_pages(monkeypatch, recent, most, index_cost):
    """The first window, the larger window and the trigram index must agree, page after page."""
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_RECENT_WINDOW", recent)
    monkeypatch.setattr(accounts.selectors_search, "SEARCH_WINDOW_MAX", most)
    monkeypatch.setattr(accounts.selectors_search, "INDEX_MATCH_COST", index_cost)
    now = timezone.now()
    users = [
        CustomerFactory(last_name="Quoddy" if i % 4 == 0 else "Other", date_joined=now - timedelta(hours=i // 2))
        for i in range(40)
    ]
    expected = sorted((u for u in users if u.last_name == "Quoddy"), key=lambda u: (u.date_joined, u.pk), reverse=True)
    assert search_all("quod", page_size=3) == expected


def test_a_search_that_runs_too_long_is_cancelled_with_a_clear_message(staff_client, settings, monkeypatch):
    CustomerFactory(last_name="Slow")
    settings.SEARCH_STATEMENT_TIMEOUT_MS = 20
    real_step = accounts.selectors_search._recent_ids

    def slow_step(*args):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")  # a runaway statement, under the search's timeout
        return real_step(*args)

    monkeypatch.setattr(accounts.selectors_search, "_recent_ids", slow_step)
    with pytest.raises(SearchTooSlow):
        user_search(query="slow")
    response = staff_client.get(reverse("user_list"), {"q": "slow"})
    assert response.status_code == 422
    assert "This search took too long; add more letters." in response.content.decode()
    # The timeout was the search's own: the connection goes on without it.
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    assert User.objects.filter(last_name="Slow").exists()


def test_the_search_s_settings_do_not_outlive_it():
    CustomerFactory(last_name="Quick")
    assert len(user_search(query="quick").users) == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] != "0"


def test_a_window_of_the_search_is_read_from_the_newest_first_index_alone():
    """The window steps test `search_text` as the newest-first index carries it (index-only), and
    spell it so that the trigram index cannot be picked instead."""
    from accounts.search import ScannedText

    CustomerFactory(last_name="Windowed")
    users = User.objects.alias(scanned=ScannedText()).filter(scanned__contains="window")
    window = users.order_by("-date_joined", "-id").values("id")[:26]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            plan = window.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")
    assert "accounts_user_newest_text" in plan
    assert "accounts_user_search_text_trgm" not in plan


def test_every_character_that_sends_a_word_to_the_punctuated_index_is_one_its_users_have():
    """`punctuated(word)` must only be true when every user matching the word is in the partial
    index: each such character, in a user's text, must satisfy the index's condition."""
    from accounts.search import PUNCTUATED, punctuated

    characters = [c for c in map(chr, range(1, 128)) if punctuated(c)]
    assert {"'", "-", "_", "+", "%"} <= set(characters) and not {"@", ".", "a", "7"} & set(characters)
    with connection.cursor() as cursor:
        cursor.execute("SELECT c FROM unnest(%s::text[]) AS c WHERE NOT c ~ %s", [characters, PUNCTUATED])
        assert cursor.fetchall() == []
