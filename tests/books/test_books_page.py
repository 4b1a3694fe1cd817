"""The Books page and the daily check: Finance sees the last result, with links to what to look at."""

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.roles import FINANCE, SUPPORT
from books import tasks
from books.models import BooksCheck
from books.services import books_check_record
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance_client(client):
    client.force_login(StaffFactory(roles=[FINANCE]))
    return client


def test_it_says_when_the_books_have_not_been_checked_yet(finance_client):
    response = finance_client.get(reverse("books"))
    assert response.status_code == 200
    assert "have not been checked yet" in response.content.decode()


def test_the_daily_job_keeps_a_passing_result(finance_client):
    CustomerFactory()
    tasks.books_check(timestamp=0)
    check = BooksCheck.objects.get()
    assert check.ok and check.counts["users"] >= 2
    assert set(check.rules.values()) == {0}
    page = finance_client.get(reverse("books")).content.decode()
    assert "every rule holds" in page


def test_the_page_lists_each_offender_with_a_link_to_its_customer(finance_client):
    drifted = CustomerFactory()
    User.objects.filter(pk=drifted.pk).update(credits=42)
    check = books_check_record()
    assert check.offender_count == 1 and check.rules["credits"] == 1
    page = finance_client.get(reverse("books")).content.decode()
    assert "1 offender" in page
    assert f'href="{reverse("user_detail", args=[drifted.pk])}">User {drifted.pk}</a>' in page
    assert "balance 42, ledger sum 0" in page


def test_support_cannot_see_the_books(client):
    client.force_login(StaffFactory(roles=[SUPPORT]))
    assert client.get(reverse("books")).status_code == 403
