"""accounts.selectors_search.user_search, against real PostgreSQL (pg_trgm, unaccent)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.search import folded_value, word_start_value
from accounts.selectors_search import user_search
from tests.accounts.paging import search_all, search_pages
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def names(page) -> list[str]:
    return [user.full_name for user in page.users]


def test_it_matches_first_name_last_name_and_email_fragments():
    elijah = CustomerFactory(first_name="Elijah", last_name="Herrick", email="eh@example.com")
    CustomerFactory(first_name="Maria", last_name="Lopez", email="maria@example.com")
    assert user_search(query="elij").users == [elijah]
    assert user_search(query="erric").users == [elijah]
    assert user_search(query="eh@exa").users == [elijah]


def test_several_words_narrow_the_result():
    elijah = CustomerFactory(first_name="Elijah", last_name="Herrick")
    CustomerFactory(first_name="Elijah", last_name="Wood")
    CustomerFactory(first_name="Hannah", last_name="Herrick")
    assert len(user_search(query="elijah").users) == 2
    assert user_search(query="elijah herr").users == [elijah]
    assert user_search(query="  herr   ELIJAH ").users == [elijah]


def test_it_ignores_case_and_accents_on_both_sides():
    zoe = CustomerFactory(first_name="Zoë", last_name="Brontë")
    jose = CustomerFactory(first_name="JOSÉ", last_name="Núñez")
    assert user_search(query="zoe bronte").users == [zoe]
    assert user_search(query="ZOË").users == [zoe]
    assert user_search(query="jose nunez").users == [jose]
    assert user_search(query="Núñez").users == [jose]


@pytest.mark.parametrize("special", ["%", "_", "\\", "'", '"', "%%", "--", ";", "a_bcd"])
def test_special_characters_are_matched_literally(special):
    CustomerFactory(first_name="Plain", last_name="Person", email="plain@example.com")
    literal = CustomerFactory(first_name=f"Odd{special}Name", last_name="Person", email="odd@example.com")
    assert user_search(query=special).users == [literal]


def test_a_miss_returns_nothing():
    CustomerFactory(first_name="Elijah", last_name="Herrick")
    page = user_search(query="zzzqqq")
    assert page.users == []
    assert page.next_after is None


def test_an_exact_email_ranks_first_even_when_older():
    exact = CustomerFactory(
        first_name="Ann",
        last_name="Old",
        email="ann@example.com",
        date_joined=timezone.now() - timedelta(days=900),
    )
    CustomerFactory(first_name="Ann", last_name="New", email="ann@example.com.au")
    CustomerFactory(first_name="Ann", last_name="Newer", email="xann@example.com")
    page = user_search(query="ANN@example.com")
    assert page.users[0] == exact
    assert len(page.users) == 3


def test_the_empty_query_lists_the_newest_users_first():
    now = timezone.now()
    old = CustomerFactory(date_joined=now - timedelta(days=10))
    new = CustomerFactory(date_joined=now)
    middle = CustomerFactory(date_joined=now - timedelta(days=5))
    assert user_search(query="").users == [new, middle, old]


def test_pages_follow_each_other_without_gaps_or_repeats():
    now = timezone.now()
    # Several users share a join time, so the keyset must break ties by id.
    users = [CustomerFactory(last_name="Pager", date_joined=now - timedelta(days=i // 3)) for i in range(11)]
    pages = search_pages("pager", page_size=4)
    seen = [user for page in pages for user in page.users]
    assert len(pages) == 3
    assert len(seen) == 11
    assert set(seen) == set(users)
    assert seen == sorted(users, key=lambda u: (u.date_joined, u.pk), reverse=True)


def test_the_last_full_page_has_no_next_link():
    for _ in range(4):
        CustomerFactory(last_name="Exact")
    page = user_search(query="exact", page_size=4)
    assert len(page.users) == 4
    assert page.next_after is None


def plan_without_seqscan(queryset) -> str:
    """The query plan with sequential scans forbidden: on a table this small the planner would
    rightly prefer a scan, so an index it can use shows only then."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            return queryset.explain()
        finally:
            cursor.execute("RESET enable_seqscan")


def test_the_search_uses_the_trigram_index():
    CustomerFactory(first_name="Elijah", last_name="Herrick")
    queryset = User.objects.filter(search_text__contains=folded_value("elijah"))
    assert "accounts_user_search_text_trgm" in plan_without_seqscan(queryset)


def test_a_word_of_one_or_two_letters_matches_the_start_of_a_word():
    elena = CustomerFactory(first_name="Elena", last_name="Park", email="ep@example.com")
    CustomerFactory(first_name="Daniel", last_name="Moss", email="dm@example.com")
    xu = CustomerFactory(first_name="Wei", last_name="Xu", email="wx@example.com")
    mary = CustomerFactory(first_name="Mary", last_name="Ann", email="mary_ann@example.org")
    assert user_search(query="el").users == [elena]
    assert user_search(query="XU").users == [xu]
    assert user_search(query="wei x").users == [xu]
    assert user_search(query="an").users == [mary]  # "ann" after "_" in the email and the last name
    assert user_search(query="Él").users == [elena]  # case and accents folded on the short path too


def test_a_short_word_search_uses_the_trigram_index():
    CustomerFactory(first_name="Wei", last_name="Xu")
    queryset = User.objects.filter(search_text__regex=word_start_value("xu"))
    assert "accounts_user_search_text_trgm" in plan_without_seqscan(queryset)


def test_both_steps_of_a_search_give_the_same_newest_first_pages(monkeypatch):
    """The window step (common words) and the index step (rare words) must agree with each other."""
    import accounts.selectors_search

    now = timezone.now()
    users = [
        CustomerFactory(last_name="Stepper" if i % 3 else "Other", date_joined=now - timedelta(hours=i))
        for i in range(40)
    ]
    expected = sorted((u for u in users if u.last_name == "Stepper"), key=lambda u: u.date_joined, reverse=True)
    for window in (5, 12, 1000):  # the window holds less than a page, about a page, everything
        monkeypatch.setattr(accounts.selectors_search, "SEARCH_RECENT_WINDOW", window)
        assert search_all("stepper", page_size=4) == expected, window
