"""The approval threshold and the daily cap are per currency (REFUND_APPROVAL_THRESHOLDS,
REFUND_DAILY_CAPS, written in each currency with Stripe's decimals), because one number is not one
amount: 50000 is $500.00, ¥50,000 or 50.000 KWD. A currency not listed keeps the single
REFUND_APPROVAL_THRESHOLD / REFUND_DAILY_CAP in its own minor units. A setting the portal cannot
read stops it at start-up in one line."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from accounts.roles import FINANCE
from accounts.selectors import staff_limits
from refunds.limits import refund_approval_threshold, refund_daily_cap
from refunds.models import Refund
from refunds.services.request import RefundRefused
from statstak.environment import EnvironmentRefused, env_currency_amounts
from tests.factories import StaffFactory
from tests.helpers import refund_request

NBSP = "\u00a0"


# Reading the settings.


def test_amounts_are_read_per_currency_in_stripes_minor_units(monkeypatch):
    monkeypatch.setenv("SOME_AMOUNTS", " usd=500.00, JPY=75000 ,kwd=150.000,huf=180000.00,isk=70000.00 ")
    assert env_currency_amounts("SOME_AMOUNTS") == {
        "USD": 50000,
        "JPY": 75000,
        "KWD": 150000,
        "HUF": 18000000,
        "ISK": 7000000,
    }
    monkeypatch.delenv("SOME_AMOUNTS")
    assert env_currency_amounts("SOME_AMOUNTS") == {}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("usd=500.00,xyz=5.00", "'xyz' is not a currency Stripe takes"),
        ("usd=50000", "usd='50000' is not a USD amount written with its 2 decimals, like usd=500.00 (no thousands"),
        ("usd=500.0", "is not a USD amount written with its 2 decimals"),
        ("jpy=500.00", "jpy='500.00' is not a JPY amount written without decimals, like jpy=500 ("),
        ("kwd=150.00", "is not a KWD amount written with its 3 decimals, like kwd=500.000 ("),
        ("usd=-5.00", "is not a USD amount"),
        ("usd=\u09ea00.00", "is not a USD amount"),  # a Bengali four
        ("usd=1,000.00", "usd='1' is not a USD amount"),
        ("usd=500.00,USD=400.00", "USD is given twice."),
        ("usd 500.00", "is not code=amount, like usd=500.00."),
    ],
)
def test_a_value_it_cannot_read_is_refused_in_words(monkeypatch, value, says):
    monkeypatch.setenv("SOME_AMOUNTS", value)
    with pytest.raises(EnvironmentRefused) as refused:
        env_currency_amounts("SOME_AMOUNTS")
    assert str(refused.value).startswith(f"SOME_AMOUNTS={value!r}: ")
    assert says in str(refused.value)


def _manage_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_portal_starts_with_amounts_per_currency():
    # Else the refusals below could come from anything.
    result = _manage_check(REFUND_APPROVAL_THRESHOLDS="usd=500.00,jpy=75000", REFUND_DAILY_CAPS="kwd=1500.000")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFUND_APPROVAL_THRESHOLDS", "usd=500.00,xyz=5.00"),  # a code Stripe does not take
        ("REFUND_APPROVAL_THRESHOLDS", "usd=50000"),  # cents or dollars?
        ("REFUND_DAILY_CAPS", "eur=5000.00,jpy=500.5"),
        ("REFUND_DAILY_CAPS", "gbp"),
    ],
)
def test_the_portal_refuses_to_start_on_a_currency_or_an_amount_it_cannot_read(name, value):
    result = _manage_check(**{name: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {name}=")


# The limits, per currency.


def test_a_listed_currency_takes_its_own_limits_and_others_the_fallback(settings):
    settings.REFUND_APPROVAL_THRESHOLD, settings.REFUND_DAILY_CAP = 50000, 500000
    settings.REFUND_APPROVAL_THRESHOLDS = {"JPY": 75000, "KWD": 150000}
    settings.REFUND_DAILY_CAPS = {"HUF": 18000000}
    assert refund_approval_threshold(currency="jpy") == 75000
    assert refund_approval_threshold(currency="KWD") == 150000
    assert refund_approval_threshold(currency="USD") == 50000
    assert refund_daily_cap(currency="HUF") == 18000000
    assert refund_daily_cap(currency="JPY") == 500000


@pytest.mark.django_db(transaction=True)
def test_the_approval_threshold_is_the_payment_currencys(settings, make_payment, refunder):
    settings.REFUND_APPROVAL_THRESHOLD = 50000  # $500.00, but only ¥50,000
    settings.REFUND_APPROVAL_THRESHOLDS = {"JPY": 75000}
    yen = make_payment(amount=100000, currency="JPY", credits_bought=100)
    dollars = make_payment(amount=100000, currency="USD", credits_bought=100)

    under = refund_request(yen, actor=refunder, amount=60000)  # ¥60,000: over 50000, under ¥75,000
    over = refund_request(dollars, actor=refunder, amount=60000)  # $600.00: over the fallback

    assert under.status == Refund.Status.SUCCEEDED
    assert over.status == Refund.Status.AWAITING_APPROVAL
    assert over.approval_rule == Refund.ApprovalRule.REFUND


@pytest.mark.django_db(transaction=True)
def test_the_daily_cap_is_the_payment_currencys(settings, make_payment, refunder):
    settings.REFUND_APPROVAL_THRESHOLD, settings.REFUND_DAILY_CAP = 10**12, 500000  # HUF 5,000 a day
    settings.REFUND_DAILY_CAPS = {"HUF": 3000000}  # HUF 30,000 a day
    forints = make_payment(amount=5000000, currency="HUF", credits_bought=100)  # HUF 50,000

    first = refund_request(forints, actor=refunder, amount=2000000)  # HUF 20,000: over the fallback
    with pytest.raises(RefundRefused) as refused:
        refund_request(forints, actor=refunder, amount=1500000)

    assert first.status == Refund.Status.SUCCEEDED
    assert str(refused.value) == (
        f"That would bring your refunds today to HUF{NBSP}35,000, over the daily limit of HUF{NBSP}30,000 per staff "
        f"member; HUF{NBSP}10,000 remains today. Ask another Finance colleague or an Administrator."
    )
    assert Refund.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_dialog_shows_the_limits_of_the_payments_currency(settings, client, finance, make_payment):
    settings.REFUND_APPROVAL_THRESHOLDS = {"JPY": 75000}
    settings.REFUND_DAILY_CAPS = {"JPY": 750000}
    payment = make_payment(amount=100000, currency="JPY", credits_bought=100)
    client.force_login(finance)

    html = client.get(
        reverse("refund_create", args=[payment.user_id, payment.pk]), headers={"HX-Request": "true"}
    ).content.decode()

    assert "Up to ¥75,000 goes ahead without a second person." in html
    assert "¥0 of your ¥750,000 daily limit; ¥750,000 left." in html


@pytest.mark.django_db
def test_the_staff_page_shows_the_us_dollar_limits_when_they_are_listed(settings):
    settings.REFUND_APPROVAL_THRESHOLDS = {"USD": 75000, "JPY": 75000}
    settings.REFUND_DAILY_CAPS = {"USD": 1000000}
    member = StaffFactory(roles=[FINANCE], passwordless=True)

    (refunds,) = [limit for limit in staff_limits(member=member) if limit.startswith("Refunds:")]

    assert refunds.startswith("Refunds: $10,000.00 a day; over $750.00 (alone,")
