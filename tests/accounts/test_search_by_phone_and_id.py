"""The Users search bar: a phone number in any common form, its last digits after a marker, a
payment's or refund's id, the portal's refund reference, an exact email."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.lookup import NO_SUCH_ID
from accounts.phone_search import PhoneQuery, phone_query
from accounts.selectors_search import user_search
from tests.factories import CustomerFactory, PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true", "HX-Target": "user-results"}


@pytest.fixture
def people(customer):
    """Elijah (+1 202-555-0143, the shared fixture), and two others with other numbers."""
    return {
        "elijah": customer,
        "zoe": CustomerFactory(first_name="Zoë", last_name="Brontë", phone="+14155550188"),
        "ends_alike": CustomerFactory(first_name="Nadia", last_name="Mills", phone="+13125550143"),
    }


def search(client, query, *, htmx=False, **extra):
    return client.get(reverse("user_list"), {"q": query, **extra}, headers=HX if htmx else {})


@pytest.mark.parametrize(
    "typed",
    ["+1 202-555-0143", "(202) 555 0143", "2025550143", "202.555.0143", "+12025550143", "1 (202) 555-0143"],
)
def test_a_whole_phone_number_in_any_common_form_finds_the_customer(staff_client, people, typed):
    html = search(staff_client, typed).content.decode()

    assert "elijah.herrick@example.com" in html
    assert people["ends_alike"].email not in html and people["zoe"].email not in html


@pytest.mark.parametrize("typed", ["#0143", "# 0143", "…0143", "...0143"])
def test_the_last_four_digits_after_the_marker_find_every_customer_whose_number_ends_so(staff_client, people, typed):
    html = search(staff_client, typed).content.decode()

    assert "elijah.herrick@example.com" in html and people["ends_alike"].email in html
    assert people["zoe"].email not in html


def test_more_last_digits_narrow_it_down(staff_client, people):
    html = search(staff_client, "#555-0143").content.decode()
    assert "elijah.herrick@example.com" in html and people["ends_alike"].email in html

    html = search(staff_client, "#2025550143").content.decode()
    assert "elijah.herrick@example.com" in html and people["ends_alike"].email not in html


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("(202) 555 0199", "No customer has the phone number +12025550199."),
        ("#9999", "No customer's phone number ends with 9999."),
    ],
)
def test_a_phone_number_nobody_has_says_so(staff_client, people, typed, said):
    response = search(staff_client, typed, htmx=True)

    assert response.status_code == 200
    assert said in response.content.decode()


def test_digits_without_the_marker_are_still_searched_in_emails(staff_client, people):
    CustomerFactory(email="jose.rivera1234@example.org", phone="")
    html = search(staff_client, "1234").content.decode()
    assert "jose.rivera1234@example.org" in html


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+1 202-555-0143", PhoneQuery(e164="+12025550143")),
        ("#12", None),  # fewer than four digits: not a phone search
        ("123", None),
        ("555-0143", None),  # a local number only: what is stored is whole
        ("elijah", None),
        ("#0143", PhoneQuery(last_digits="0143")),
    ],
)
def test_what_counts_as_a_phone_number(typed, expected):
    assert phone_query(typed) == expected


def test_phone_results_are_paged_newest_first(people):
    now = timezone.now()
    many = [
        CustomerFactory(phone="+16175550100", date_joined=now - timedelta(minutes=n), email=f"p{n}@example.com")
        for n in range(30)
    ]

    first = user_search(query="617 555 0100", page_size=25)
    second = user_search(query="617 555 0100", after=first.next_after, page_size=25)

    assert [user.pk for user in first.users + second.users] == [user.pk for user in many]
    assert second.next_after is None


@pytest.mark.parametrize(
    ("index", "sql_filter"),
    [
        ("accounts_user_phone_newest", "phone = '+12025550143'"),
        ("accounts_user_phone_end_newest", "RIGHT(phone, 4) = '0143' AND RIGHT(phone, 5) = '50143'"),
    ],
)
def test_phone_searches_are_served_by_their_index(people, index, sql_filter):
    # The planner's choice on a big table, forced on a small one by making the scan dear.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute(
                f"EXPLAIN SELECT id FROM accounts_user WHERE NOT (phone = '') AND {sql_filter}"
                " ORDER BY date_joined DESC, id DESC LIMIT 26"
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("SET enable_seqscan = on")
    assert index in plan and "Sort" not in plan


# --- ids -------------------------------------------------------------------------------------


def test_a_payment_id_opens_the_customers_payments_tab_with_the_payment_marked(staff_client, customer):
    payment = PaymentFactory(user=customer, gateway="stripe", gateway_id="pi_3QxTest0001")

    response = search(staff_client, "pi_3QxTest0001")

    url = f"{reverse('user_payments', args=[customer.pk])}?payment={payment.pk}#payment-{payment.pk}"
    assert response.status_code == 302 and response.url == url
    html = staff_client.get(url).content.decode()
    assert f'<tr id="payment-{payment.pk}" class="search-highlight" aria-current="true">' in html


def test_a_charge_id_typed_in_the_box_redirects_htmx_to_the_payment(staff_client, customer):
    payment = PaymentFactory(user=customer, gateway="stripe", gateway_id="ch_3QxCharge01")

    response = search(staff_client, "ch_3QxCharge01", htmx=True)

    assert response.status_code == 200
    assert response.headers["HX-Redirect"].endswith(f"?payment={payment.pk}#payment-{payment.pk}")


def test_an_old_payment_opens_on_the_page_that_holds_it(staff_client, customer):
    now = timezone.now()
    old = PaymentFactory(user=customer, gateway_id="pi_old_one", created_at=now - timedelta(days=400))
    newer = [PaymentFactory(user=customer, created_at=now - timedelta(days=n)) for n in range(12)]

    response = search(staff_client, "pi_old_one")

    assert f"before={newer[-1].pk}&payment={old.pk}" in response.url
    html = staff_client.get(response.url).content.decode()
    assert 'class="search-highlight"' in html and f'id="payment-{old.pk}"' in html


@pytest.mark.parametrize("typed", ["re_3QxRefund01", "RF-{pk:06d}", "rf-{pk}", "RF{pk}"])
def test_a_refund_id_or_reference_opens_its_payment_marked(staff_client, customer, typed):
    payment = PaymentFactory(user=customer, gateway="stripe", gateway_id="pi_3QxRefunded")
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3QxRefund01")

    response = search(staff_client, typed.format(pk=refund.pk))

    assert response.status_code == 302
    assert response.url == f"{reverse('user_payments', args=[customer.pk])}?payment={payment.pk}#payment-{payment.pk}"


@pytest.mark.parametrize("typed", ["pi_3NoSuchThing", "ch_nope123", "re_3NoSuchRefund", "RF-999999", "RF-0"])
def test_an_id_of_nothing_says_so(staff_client, customer, typed):
    for htmx in (False, True):
        response = search(staff_client, typed, htmx=htmx)
        html = response.content.decode()
        assert response.status_code == 200
        assert NO_SUCH_ID in html and 'id="search-id-missing"' in html
        assert customer.email not in html


def test_an_exact_email_opens_the_customer_once_submitted(staff_client, customer):
    detail = reverse("user_detail", args=[customer.pk])

    # Enter or the Search button (go=1), with or without htmx.
    assert search(staff_client, "Elijah.Herrick@example.com", go="1").url == detail
    assert search(staff_client, "elijah.herrick@example.com", htmx=True, go="1")["HX-Redirect"] == detail
    # While it is being typed, or a link to the results: the results, the exact match first, no jump.
    for htmx in (True, False):
        typed = search(staff_client, "elijah.herrick@example.com", htmx=htmx)
        assert typed.status_code == 200 and "HX-Redirect" not in typed.headers
        assert "elijah.herrick@example.com" in typed.content.decode()


def test_an_unknown_email_is_an_ordinary_search(staff_client, customer):
    response = search(staff_client, "nobody@example.com")
    assert response.status_code == 200
    assert "No users match" in response.content.decode()


def test_a_garbage_payment_marker_is_ignored(staff_client, customer):
    response = staff_client.get(reverse("user_payments", args=[customer.pk]), {"payment": "x" * 40})
    assert response.status_code == 200
    assert "search-highlight" not in response.content.decode()
