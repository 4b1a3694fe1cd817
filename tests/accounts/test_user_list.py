"""The Users list view: full page, HTMX partial, validation."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_it_renders_the_full_page_with_the_search_bar(staff_client, customer):
    response = staff_client.get(reverse("user_list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="search"' in html
    assert 'hx-push-url="true"' in html
    assert "Elijah Herrick" in html
    assert 'aria-current="page">Users</a>' in html


def test_an_htmx_search_returns_only_the_results_partial(staff_client, customer):
    CustomerFactory(first_name="Maria", last_name="Lopez")
    response = staff_client.get(
        reverse("user_list"), {"q": "elij"}, headers={"HX-Request": "true", "HX-Target": "user-results"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="user-results"')
    assert "Elijah Herrick" in html
    assert "Maria Lopez" not in html
    assert "<html" not in html


def test_an_htmx_search_without_a_target_header_still_returns_only_the_results(staff_client, customer):
    # The search box is the only HTMX request to this URL: HX-Request decides, not HX-Target.
    response = staff_client.get(reverse("user_list"), {"q": "elij"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="user-results"')
    assert "Elijah Herrick" in html


def test_the_pager_keeps_the_search_and_says_what_it_matches(staff_client, settings):
    settings.USER_LIST_PAGE_SIZE = 2
    customers = [CustomerFactory(last_name="Pager") for _ in range(3)]
    second = staff_client.get(reverse("user_list"), {"q": "pager", "after": customers[1].pk}).content.decode()
    assert '<nav class="pager" aria-label="Pages">' in second
    assert "Matching “pager”, newest first" in second
    assert '<a class="button button-quiet" href="/users/?q=pager">« First page</a>' in second
    first = staff_client.get(reverse("user_list"), {"q": "pager"}).content.decode()
    assert f'<a class="button" rel="next" href="/users/?q=pager&amp;after={customers[1].pk}">Next page »</a>' in first
    assert "« First page" not in first


def test_a_plain_get_with_a_query_shows_the_same_results_without_javascript(staff_client, customer):
    response = staff_client.get(reverse("user_list"), {"q": "elij"})
    html = response.content.decode()
    assert "<html" in html
    assert 'value="elij"' in html
    assert reverse("user_detail", args=[customer.pk]) in html


def test_results_show_name_email_phone_credits_and_joined_date(staff_client):
    CustomerFactory(
        first_name="Elijah", last_name="Herrick", email="eh@example.com", phone="+12025550143", credits=1200
    )
    html = staff_client.get(reverse("user_list"), {"q": "elijah"}).content.decode()
    for expected in ["Elijah Herrick", "eh@example.com", "+1 202-555-0143", "1,200", "<time datetime="]:
        assert expected in html


def test_it_links_to_the_next_page_by_keyset(staff_client, settings):
    settings.USER_LIST_PAGE_SIZE = 2
    customers = [CustomerFactory(last_name="Pager") for _ in range(3)]
    first = staff_client.get(reverse("user_list"), {"q": "pager"}).content.decode()
    assert f"after={customers[1].pk}" in first
    second = staff_client.get(reverse("user_list"), {"q": "pager", "after": customers[1].pk}).content.decode()
    assert customers[0].full_name in second
    assert customers[2].full_name not in second
    assert 'rel="next"' not in second


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "x" * 1001}, "at most 200 characters"),
        ({"q": "eli\x00jah"}, "Null characters are not allowed."),
        ({"after": "abc"}, "Enter a whole number in the digits 0-9."),
        ({"after": "-1"}, "greater than or equal to 1"),
        ({"after": "99999999999999999999999"}, "less than or equal to"),
    ],
)
def test_bad_input_gets_a_clear_message_and_a_422(staff_client, params, message):
    response = staff_client.get(
        reverse("user_list"), params, headers={"HX-Request": "true", "HX-Target": "user-results"}
    )
    assert response.status_code == 422
    assert message in response.content.decode()


def test_search_terms_are_escaped_in_the_page(staff_client):
    response = staff_client.get(reverse("user_list"), {"q": '<script>alert(1)</script>"><img src=x onerror=alert(1)>'})
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_names_are_escaped_in_results(staff_client):
    CustomerFactory(first_name="<b>Bold</b>", last_name="{{ template }}")
    html = staff_client.get(reverse("user_list"), {"q": "bold"}).content.decode()
    assert "<b>Bold</b>" not in html
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert "{{ template }}" in html


def test_it_refuses_writes(staff_client):
    assert staff_client.post(reverse("user_list"), {"q": "x"}).status_code == 405


def test_the_page_runs_a_fixed_number_of_queries(staff_client):
    CustomerFactory(last_name="Many")
    url = reverse("user_list")
    staff_client.get(url, {"q": "many"})  # warm per-process caches, emptied by other tests
    with CaptureQueriesContext(connection) as one:
        staff_client.get(url, {"q": "many"})
    for _ in range(30):
        CustomerFactory(last_name="Many")
    with CaptureQueriesContext(connection) as many:
        staff_client.get(url, {"q": "many"})
    # The search's steps depend on whether the newest users hold a page of matches (a full first
    # window ends the search early), never on the number of rows shown: no query per row.
    assert len(many.captured_queries) <= len(one.captured_queries) <= 10
