"""The audit trail reads as words: only the fields that changed, money in its currency, credits as
numbers with signs, ids as links, and every time with its zone. The CSV export keeps the raw
values (tests/audit/test_audit_export.py)."""

import re

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from audit.templatetags.audit_trail import audit_change_list
from payments.audit import PaymentAction
from payments.services import credits_adjust
from refunds.audit import RefundAction
from refunds.models import Refund
from tests.factories import LedgerEntryFactory, PaymentFactory, StaffFactory, purchase_record
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db


def lines(event: AuditEvent) -> list[str]:
    """Each change as the table reads it: "Label: before → after (delta)"."""
    out = []
    for change in audit_change_list(event):
        if change.before is not None and change.after is not None:
            words = f"{change.before} → {change.after}" + (f" ({change.delta})" if change.delta else "")
        elif change.after is not None:
            words = change.after
        else:
            words = f"was {change.before}"
        out.append(f"{change.label}: {words}")
    return out


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").strip()


def test_a_credits_change_reads_as_the_balance_before_and_after_with_its_sign(customer, staff):
    credits_adjust(user=customer, new_balance=40, expected_balance=0, actor=staff, note="Goodwill")
    event = AuditEvent.objects.get()
    assert lines(event) == ["Credits: 0 → 40 (+40)", "Note: “Goodwill”"]


@pytest.mark.django_db(transaction=True)  # a refund takes its locks outside any transaction
def test_a_refund_request_shows_money_in_its_currency_not_cents(customer):
    finance = StaffFactory(roles=["Finance"], passwordless=True)
    payment = purchase_record(PaymentFactory(user=customer, gateway_id="pi_audit_words"))
    refund_request(payment, actor=finance, amount=1, credits_to_remove=3)
    requested = AuditEvent.objects.get(action=RefundAction.REQUESTED)
    assert lines(requested) == [
        "Status: Pending",
        "Type: Partial refund",
        "Amount: $0.01",
        "Reason: Requested by customer",
        "Refunded on the payment: was $0.00",
        "Refunded or pending: was $0.00",
        "Credits: \u22123",
        "Payment: pi_audit_words",
    ]


@pytest.mark.django_db(transaction=True)
def test_only_the_fields_that_changed_are_shown(customer):
    finance = StaffFactory(roles=["Finance"], passwordless=True)
    payment = purchase_record(PaymentFactory(user=customer))
    refund_request(payment, actor=finance, amount=2500)
    executed = AuditEvent.objects.get(action=RefundAction.EXECUTED)
    # Before: {"status": "pending"}; after: the refund's facts, with its gateway id and no failure.
    words = lines(executed)
    assert words[0] == "Status: Pending → Succeeded"
    changes = audit_change_list(executed)
    assert not changes[0].context and all(change.context for change in changes[1:])  # the facts, quieter
    assert "Amount: $25.00" in words
    assert not any(line.startswith("Why it failed") for line in words)  # empty: nothing to read
    refund = Refund.objects.get()
    assert f"Gateway refund id: {refund.gateway_refund_id}" in words


def test_a_field_recorded_the_same_on_both_sides_is_left_out(customer, staff):
    event = audit_record(
        action=PaymentAction.CREDITS_ADJUSTED,
        actor=staff,
        target_user=customer,
        before={"credits": 10, "note": "same"},
        after={"credits": 12, "note": "same"},
    )
    assert lines(event) == ["Credits: 10 → 12 (+2)"]


def test_a_zero_decimal_currency_has_no_cents(customer, staff):
    event = audit_record(
        action=PaymentAction.PAYMENT_RECORDED,
        actor_label="Stripe",
        target_user=customer,
        after={"gateway_id": "pi_yen", "amount": 500, "currency": "JPY", "credits": 100},
    )
    assert lines(event) == ["Amount: ¥500", "Credits: 100", "Payment: pi_yen"]


def test_a_change_asked_for_reads_as_one_signed_line(customer, staff):
    event = audit_record(
        action=PaymentAction.CREDITS_CHANGE_REQUESTED,
        actor=staff,
        target_user=customer,
        before={"credits": 1200},
        after={"new_balance": 200, "note": ""},
    )
    assert lines(event)[0] == "Credits (asked for): 1,200 → 200 (\u22121,000)"


def test_the_audit_log_shows_words_links_and_times_with_their_zone(admin_client, customer, staff):
    audit_record(
        action=PaymentAction.PAYMENT_RECORDED,
        actor_label="Stripe",
        target_user=customer,
        after={"gateway_id": "pi_linked", "amount": 1900, "currency": "USD", "credits": 100},
    )
    credits_adjust(user=customer, new_balance=20, expected_balance=0, actor=staff, note="Goodwill")
    html = admin_client.get(reverse("audit_log")).content.decode()
    words = text(html)
    assert "{'credits'" not in html and "&#x27;credits&#x27;" not in html  # no raw dicts
    assert "Credits: 0 → 20 (+20)" in words
    assert re.search(r"<time datetime=\"[^\"]+\">\w{3} \d{1,2}, \d{4} \d\d:\d\d:\d\d UTC</time>", html)
    assert f'<a href="{reverse("user_detail", args=[staff.pk])}">Adam Hobson</a>' in html
    assert f'<a href="{reverse("user_payments", args=[customer.pk])}">pi_linked</a>' in html
    assert "Amount: $19.00" in words
    assert "Ledger entry #" in words  # what the credit change is about


def test_the_credit_history_shows_times_with_their_zone(staff_client, customer):
    LedgerEntryFactory(user=customer, credits_delta=5)
    html = staff_client.get(reverse("user_activity", args=[customer.pk])).content.decode()
    history = html.split("Credit history")[1]
    assert re.search(r"<time datetime=\"[^\"]+\">\w{3} \d{1,2}, \d{4} \d\d:\d\d UTC</time>", history)


def test_on_one_page_a_staff_id_links_and_a_flag_under_the_same_key_does_not(admin_client):
    # A page reverses each link once for all its rows, and True == 1 as a key: the flag (older, so
    # read after the id) must not borrow the id's link.
    audit_record(action=PaymentAction.PAYMENT_RECORDED, actor_label="Stripe", after={"requested_by": True})
    audit_record(action=PaymentAction.PAYMENT_RECORDED, actor_label="Stripe", after={"requested_by": 1})
    html = admin_client.get(reverse("audit_log")).content.decode()
    assert f'<a href="{reverse("user_detail", args=[1])}">1</a>' in html
    assert 'class="change-label">Requested by:</span> True</li>' in html


def test_a_dispute_reads_its_evidence_date_as_a_time_and_its_flags_as_yes_or_no(customer):
    event = audit_record(
        action=PaymentAction.DISPUTE_CLOSED,
        actor_label="Stripe",
        target_user=customer,
        before={"status": "needs_response", "evidence_due_at": "2026-11-14T23:09:11.025216+00:00"},
        after={
            "status": "lost",
            "evidence_due_at": None,
            "charge_refundable": False,
            "credits_taken": 80,
            "money_delta": -1900,
            "currency": "usd",
        },
    )
    assert "Evidence due: Nov 14, 2026 23:09 UTC → —" in lines(event)
    assert "Charge refundable: No" in lines(event)
    assert "Credits taken back: 80" in lines(event)
    assert "Money in the books: -$19.00" in lines(event)


def test_a_time_that_does_not_read_as_one_is_shown_as_recorded(customer):
    event = audit_record(
        action=PaymentAction.DISPUTE_UPDATED,
        actor_label="Stripe",
        target_user=customer,
        after={"evidence_due_at": "soon"},
    )
    assert lines(event) == ["Evidence due: soon"]
