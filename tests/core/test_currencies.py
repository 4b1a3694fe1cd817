"""Stripe's currency rules (core/currencies.py, from docs.stripe.com/currencies), and money read,
written and typed by them rather than by CLDR's decimals."""

import pytest
from babel.numbers import get_currency_precision

from core.currencies import STRIPE_CURRENCIES, stripe_amount_problem, stripe_currency
from core.money import MoneyParseError, currency_exponent, money_format, money_parse, money_to_decimal_text

NBSP = "\u00a0"
ALL_CODES = sorted(STRIPE_CURRENCIES)


def test_the_table_holds_what_stripes_page_lists():
    # 134 presentment currencies and the five three-decimal ones; a code dropped or mistyped shows here.
    assert len(STRIPE_CURRENCIES) == 139
    zero_decimal = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF"}
    assert {code for code, c in STRIPE_CURRENCIES.items() if c.exponent == 0} == zero_decimal | {"XPF"}
    assert {code for code, c in STRIPE_CURRENCIES.items() if c.exponent == 3} == {"BHD", "JOD", "KWD", "OMR", "TND"}
    assert {code for code, c in STRIPE_CURRENCIES.items() if c.step == 100} == {"ISK", "UGX"}
    assert {code for code, c in STRIPE_CURRENCIES.items() if c.payout_step == 100} == {"ISK", "UGX", "HUF", "TWD"}
    assert stripe_currency("usd") == stripe_currency(" USD ") == STRIPE_CURRENCIES["USD"]
    assert stripe_currency("XYZ") is None


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_stripe_currency_reads_writes_and_parses_by_stripes_exponent(code):
    currency = STRIPE_CURRENCIES[code]
    assert currency_exponent(code) == currency.exponent
    # 1,234 whole units and a bit, as Stripe would count them, on a step Stripe takes.
    amount = 1234 * 10**currency.exponent + (currency.step if currency.decimals_allowed else 0)
    assert stripe_amount_problem(amount, code) == ""
    text = money_to_decimal_text(amount, code)
    assert money_parse(text, code) == amount  # what the form shows is read back as the same amount
    assert "1,234" in money_format(amount, code)
    assert money_parse("1234", code.lower()) == 1234 * 10**currency.exponent


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_stripe_currency_refuses_in_words_an_amount_off_its_step(code):
    currency = STRIPE_CURRENCIES[code]
    if currency.step == 1:
        # Else this test would prove nothing about the currencies that have a step.
        assert stripe_amount_problem(1, code) == ""
        return
    problem = stripe_amount_problem(10**currency.exponent + 1, code)
    assert problem.startswith(f"Stripe takes {'whole ' if currency.decimals_allowed == 0 else ''}{code} amounts")
    with pytest.raises(MoneyParseError, match=f"Stripe takes .*{code}"):
        money_parse("1." + "0" * (currency.exponent - 1) + "1", code)


# The special cases, one by one.


def test_huf_has_two_decimals_at_stripe_and_shows_none_when_there_are_none():
    # CLDR says HUF has no decimals; Stripe counts fillér: 100000 is 1,000 Ft, not 100,000.
    assert get_currency_precision("HUF") == 0
    assert currency_exponent("HUF") == 2
    assert money_format(100000, "HUF") == f"HUF{NBSP}1,000"
    assert money_format(25000, "HUF") == f"HUF{NBSP}250"
    assert money_format(100050, "HUF") == f"HUF{NBSP}1,000.50"
    assert money_parse("250", "HUF") == 25000
    assert money_to_decimal_text(100000, "HUF") == "1000"
    # Charges and refunds may carry fillér (only manual payouts are whole forints, which the portal
    # does not make): Stripe takes them, so the form does.
    assert money_parse("250.50", "HUF") == 25050
    assert STRIPE_CURRENCIES["HUF"].payout_step == 100


def test_twd_has_two_decimals_and_whole_unit_payouts():
    assert currency_exponent("TWD") == 2
    assert money_format(80045, "TWD") == "NT$800.45"
    assert money_parse("800.45", "TWD") == 80045
    assert STRIPE_CURRENCIES["TWD"].payout_step == 100


def test_isk_is_sent_with_two_decimals_that_are_always_00():
    assert currency_exponent("ISK") == 2
    assert money_parse("5", "ISK") == 500  # Stripe's example: 5 ISK is amount=500
    assert money_format(500, "ISK") == f"ISK{NBSP}5"
    with pytest.raises(MoneyParseError) as refused:
        money_parse("40.10", "ISK")
    assert str(refused.value) == "Stripe takes whole ISK amounts only, no fractions: use 40 or 41 ISK instead of 40.10."
    with pytest.raises(MoneyParseError, match="Stripe takes whole ISK amounts only"):
        money_parse("40.105", "ISK")


def test_ugx_is_sent_with_two_decimals_despite_stripes_zero_decimal_list():
    # Stripe's zero-decimal list names UGX, its special cases (and its API) want 500 for 5 UGX.
    assert currency_exponent("UGX") == 2
    assert money_parse("5", "UGX") == 500
    assert stripe_amount_problem(550, "UGX").startswith("Stripe takes whole UGX amounts only")


def test_jpy_is_zero_decimal():
    assert currency_exponent("JPY") == 0
    assert money_format(500, "JPY") == "¥500"
    assert money_parse("500", "JPY") == 500
    with pytest.raises(MoneyParseError, match=r"JPY amounts have no decimals\."):
        money_parse("5.5", "JPY")


@pytest.mark.parametrize("code", ["BHD", "JOD", "KWD", "OMR", "TND"])
def test_three_decimal_currencies_need_a_last_digit_of_0(code):
    assert currency_exponent(code) == 3
    assert money_parse("5.12", code) == 5120
    assert money_format(5120, code) == f"{code}{NBSP}5.120"
    with pytest.raises(MoneyParseError) as refused:
        money_parse("5.124", code)
    assert str(refused.value) == (
        f"Stripe takes {code} amounts to 2 decimals only (the third must be 0): "
        f"use 5.12 or 5.13 {code} instead of 5.124."
    )
    assert stripe_amount_problem(5124, code) == str(refused.value)
    assert stripe_amount_problem(5130, code) == ""


def test_idr_has_two_decimals_at_stripe_though_cldr_shows_none():
    assert get_currency_precision("IDR") == 0
    assert money_parse("10000", "IDR") == 1000000
    assert money_format(1000000, "IDR") == f"IDR{NBSP}10,000"


def test_a_currency_stripe_does_not_take_still_reads_by_cldr_and_is_refused_at_stripe():
    assert money_format(12345, "XYZ") == f"XYZ{NBSP}123.45"
    assert stripe_amount_problem(12345, "XYZ") == "Stripe does not take payments in XYZ."


def test_ordinary_amounts_read_as_before():
    assert money_format(1900, "USD") == "$19.00"
    assert money_format(-1900, "USD") == "-$19.00"
    assert money_format(100, "CHF") == f"CHF{NBSP}1.00"
    assert money_parse("1,234.5", "USD") == 123450


def test_plain_spaces_keep_a_text_message_in_gsm_7():
    assert money_format(25000, "HUF", plain_spaces=True) == "HUF 250"
    assert money_format(100000, "XOF", plain_spaces=True) == "F CFA 100,000"
    assert money_format(2500, "USD", plain_spaces=True) == "$25.00"
