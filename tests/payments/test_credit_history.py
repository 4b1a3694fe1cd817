"""Credit history: the Activity tab and the recent list under Payment info."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments.models import LedgerEntry
from payments.services import credits_adjust

pytestmark = pytest.mark.django_db


def make_history(customer, staff, count: int) -> None:
    for balance in range(1, count + 1):
        credits_adjust(
            user=customer, new_balance=balance, expected_balance=balance - 1, actor=staff, note=f"n{balance}"
        )


def test_the_activity_tab_lists_every_entry_newest_first_with_its_details(staff_client, customer, staff):
    credits_adjust(user=customer, new_balance=100, expected_balance=0, actor=staff, note="Welcome bonus")
    credits_adjust(user=customer, new_balance=40, expected_balance=100, actor=staff, note="Correction")
    html = staff_client.get(reverse("user_activity", args=[customer.pk])).content.decode()
    assert html.index("Correction") < html.index("Welcome bonus")
    for expected in ["Adjustment", "+100", "\N{MINUS SIGN}60", ">40</td>", "Adam Hobson", "<time datetime="]:
        assert expected in html


def test_the_activity_tab_pages_by_keyset(staff_client, customer, staff, settings):
    settings.CREDIT_HISTORY_PAGE_SIZE = 4
    make_history(customer, staff, 6)
    first = staff_client.get(reverse("user_activity", args=[customer.pk])).content.decode()
    ids = list(LedgerEntry.objects.filter(user=customer).order_by("-id").values_list("id", flat=True))
    assert f"?before={ids[3]}" in first
    assert ">n6<" in first and ">n3<" in first and ">n2<" not in first
    second = staff_client.get(
        reverse("credit_history", args=[customer.pk]),
        {"before": ids[3]},
        headers={"HX-Request": "true", "HX-Target": "credit-history"},
    ).content.decode()
    assert second.lstrip().startswith('<section id="credit-history"')
    assert ">n2<" in second and ">n1<" in second and ">n3<" not in second
    assert "Older entries" not in second


def test_a_bad_page_marker_is_a_400_with_a_reason(staff_client, customer):
    response = staff_client.get(reverse("user_activity", args=[customer.pk]), {"before": "x"})
    assert response.status_code == 400
    assert "positive whole number" in response.content.decode()


def test_the_history_takes_a_fixed_number_of_queries(staff_client, customer, staff, django_assert_max_num_queries):
    make_history(customer, staff, 3)
    url = reverse("user_activity", args=[customer.pk])
    staff_client.get(url)  # warm per-process caches (content types), emptied by other tests
    with CaptureQueriesContext(connection) as short:
        staff_client.get(url)
    for balance in range(4, 40):
        credits_adjust(user=customer, new_balance=balance, expected_balance=balance - 1, actor=staff)
    # At most as many (a per-process cache, such as content types, may be warm the second time).
    with django_assert_max_num_queries(len(short.captured_queries)):
        staff_client.get(url)
    # 8 for the credit history, messages and audit trail; the timeline adds one per source (7)
    # and one for the phases of the refunds on its page.
    assert len(short.captured_queries) <= 8 + 8


def test_the_recent_list_under_payment_info_refreshes_on_the_credits_changed_event(staff_client, customer, staff):
    page = staff_client.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert 'hx-trigger="credits-changed from:body, refund-executed from:body"' in page
    assert "No credit changes yet." in page
    credits_adjust(user=customer, new_balance=9, expected_balance=0, actor=staff, note="Bonus")
    partial = staff_client.get(reverse("credit_history_recent", args=[customer.pk])).content.decode()
    assert partial.lstrip().startswith('<section id="credit-history-recent"')
    assert "Bonus" in partial


def test_notes_and_names_are_escaped(staff_client, customer, staff):
    credits_adjust(user=customer, new_balance=1, expected_balance=0, actor=staff, note="<script>alert(1)</script>")
    html = staff_client.get(reverse("user_activity", args=[customer.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
