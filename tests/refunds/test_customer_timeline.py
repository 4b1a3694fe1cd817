"""The customer's timeline on the Activity tab: every source in one list, newest first, filtered by
kind, paged by (time, kind, id) without gaps or repeats, at a fixed number of queries."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import CustomerNote
from accounts.roles import ADMINISTRATOR, FINANCE
from audit.models import AuditEvent
from notifications.models import SmsMessage
from payments.models import Dispute, LedgerEntry, Payment
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.selectors_timeline import TimelineCursor, TimelineKind, customer_timeline
from tests.factories import AuditEventFactory, CustomerFactory, StaffFactory

SOURCES = len(TimelineKind.ALL)


def history_make(customer, *, events: int, at=None) -> None:
    """About `events` entries of every kind for `customer` (most of them ledger entries), at `at`
    (every one at the same instant) or an hour apart, newest now."""
    now = timezone.now()

    def when(n: int):
        return at if at is not None else now - timedelta(hours=n)

    share = max(events // 10, 1)
    payments = Payment.objects.bulk_create(
        Payment(
            user=customer,
            gateway="sandbox",
            gateway_id=f"pi_timeline_{uuid.uuid4().hex}",
            description="Starter pack",
            amount=1900,
            currency="USD",
            credits_bought=100,
            created_at=when(n),
        )
        for n in range(share)
    )
    Refund.objects.bulk_create(
        Refund(
            payment=payment,
            user=customer,
            type=Refund.Type.PARTIAL,
            reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
            amount=100,
            currency="USD",
            status=Refund.Status.SUCCEEDED,
            idempotency_key=uuid.uuid4().hex,
            created_at=when(n),
        )
        for n, payment in enumerate(payments[:share])
    )
    Dispute.objects.bulk_create(
        Dispute(
            payment=payment,
            gateway_dispute_id=f"du_timeline_{uuid.uuid4().hex}",
            amount=1900,
            currency="USD",
            status=Dispute.Status.NEEDS_RESPONSE,
            reported_at=now,
            created_at=when(n),
        )
        for n, payment in enumerate(payments[: max(share // 10, 1)])
    )
    SmsMessage.objects.bulk_create(
        SmsMessage(user=customer, to=customer.phone, body=f"Notice {n}", status="delivered", created_at=when(n))
        for n in range(share)
    )
    staff = StaffFactory(passwordless=True)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=staff, actor_label="Staff", action="credits_adjusted", target_user=customer, created_at=when(n)
        )
        for n in range(share)
    )
    CustomerNote.objects.bulk_create(
        CustomerNote(user=customer, author=staff, text=f"Called about order {n}", created_at=when(n))
        for n in range(share)
    )
    ledger = max(events - 5 * share - max(share // 10, 1), 1)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            user=customer, kind=LedgerEntry.Kind.PURCHASE, credits_delta=1, balance_after=n + 1, created_at=when(n)
        )
        for n in range(ledger)
    )


def every_entry(customer) -> list[tuple]:
    """What the timeline should hold, in its order: (time, kind, id) of every row of every source."""
    rows = []
    for kind, model, field in [
        (TimelineKind.LEDGER, LedgerEntry, "user"),
        (TimelineKind.PAYMENT, Payment, "user"),
        (TimelineKind.REFUND, Refund, "user"),
        (TimelineKind.DISPUTE, Dispute, "payment__user"),
        (TimelineKind.MESSAGE, SmsMessage, "user"),
        (TimelineKind.AUDIT, AuditEvent, "target_user"),
        (TimelineKind.NOTE, CustomerNote, "user"),
    ]:
        rows += [(at, kind, pk) for at, pk in model.objects.filter(**{field: customer}).values_list("created_at", "pk")]
    return sorted(rows, reverse=True)


def pages_walk(customer, *, limit: int, kinds=TimelineKind.ALL) -> list[tuple]:
    seen, cursor = [], None
    while True:
        page = customer_timeline(user=customer, kinds=kinds, cursor=cursor, limit=limit)
        seen += [(entry.at, entry.kind, entry.id) for entry in page.entries]
        if page.next_cursor is None:
            return seen
        cursor = TimelineCursor.parse(str(page.next_cursor))  # as the pager's link carries it


@pytest.mark.parametrize("events", [3, 10_000])
def test_a_timeline_page_takes_the_same_queries_for_3_events_as_for_10000(db, events, django_assert_num_queries):
    customer = CustomerFactory()
    history_make(customer, events=events)
    # One query a source, plus one for the phases of the refunds on the page.
    with django_assert_num_queries(SOURCES + 1):
        first = customer_timeline(user=customer, limit=25)
    with django_assert_num_queries(SOURCES + 1):
        customer_timeline(user=customer, limit=25, cursor=first.next_cursor)


def test_the_activity_tab_takes_no_more_queries_for_10000_events_than_for_3(db, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(StaffFactory(roles=[FINANCE]))
    short, long = CustomerFactory(), CustomerFactory()
    history_make(short, events=3)
    history_make(long, events=10_000)
    counts = []
    for customer in (short, long):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("user_activity", args=[customer.pk]))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert b"Older events" in response.content


@pytest.mark.parametrize("limit", [1, 4, 7])
def test_paging_through_equal_timestamps_shows_every_entry_once_in_order(db, limit):
    customer = CustomerFactory()
    instant = timezone.now().replace(microsecond=123456)
    history_make(customer, events=40, at=instant)  # every entry at the same microsecond
    history_make(customer, events=12)  # and some an hour apart
    CustomerFactory()  # nobody else's entries

    seen = pages_walk(customer, limit=limit)

    assert seen == every_entry(customer)
    assert len(set(seen)) == len(seen)


def test_filtering_by_kind_shows_only_those_kinds_and_pages_through_all_of_them(db):
    customer = CustomerFactory()
    history_make(customer, events=60)

    seen = pages_walk(customer, limit=5, kinds=[TimelineKind.REFUND, TimelineKind.MESSAGE])

    expected = [row for row in every_entry(customer) if row[1] in (TimelineKind.REFUND, TimelineKind.MESSAGE)]
    assert seen == expected
    assert {row[1] for row in seen} == {TimelineKind.REFUND, TimelineKind.MESSAGE}


def test_another_customers_history_never_shows(db):
    customer, other = CustomerFactory(), CustomerFactory()
    history_make(other, events=30)
    assert customer_timeline(user=customer).entries == []


def test_a_refund_shows_its_phases_from_its_timestamps_and_audit_events(db, customer):
    from tests.factories import PaymentFactory, RefundFactory

    approver = StaffFactory(first_name="Ada", last_name="Approver", roles=[FINANCE], passwordless=True)
    refund = RefundFactory(
        payment=PaymentFactory(user=customer),
        status=Refund.Status.SUCCEEDED,
        approval_rule=Refund.ApprovalRule.REFUND,
        decided_by=approver,
        decided_at=timezone.now(),
        gateway_refund_id="re_timeline_1",
        settled_at=timezone.now(),
    )
    AuditEventFactory(action=RefundAction.REVERSED, target_user=customer, about=refund)
    assert refund.user == customer  # copied from its payment when saved

    entry = next(e for e in customer_timeline(user=customer).entries if e.kind == TimelineKind.REFUND)

    labels = [phase.label for phase in entry.phases]
    assert labels == ["Requested", "Awaiting approval", "Approved", "At the gateway", "Succeeded", "Reversed"]
    assert entry.phases[2].by == approver


@pytest.fixture
def admin_client(client, db):
    client.force_login(StaffFactory(roles=[ADMINISTRATOR]))
    return client


def test_each_kind_appears_on_the_activity_tab_with_a_link_to_its_details(admin_client, customer):
    history_make(customer, events=10)
    payment = Payment.objects.filter(user=customer).first()
    refund = Refund.objects.get(user=customer)
    message = SmsMessage.objects.get(user=customer)
    event = AuditEvent.objects.get(target_user=customer)

    response = admin_client.get(reverse("user_activity", args=[customer.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    for kind in TimelineKind.ALL:
        assert f'data-kind="{kind}"' in html, kind
    payments_tab = reverse("user_payments", args=[customer.pk])
    assert f'href="{payments_tab}?payment={payment.pk}#payment-{payment.pk}"' in html
    assert f'href="{reverse("refund_list", args=[customer.pk, payment.pk])}#refund-{refund.pk}"' in html
    assert f'#sms-{message.pk}"' in html and f'id="sms-{message.pk}"' in html
    assert f"Audit event {event.pk} in the Audit log" in html
    assert "#credit-history" in html or "Its payment" in html
    note = CustomerNote.objects.get(user=customer)
    assert f'id="timeline-note-{note.pk}"' in html and "Staff notes on the Overview" in html


def test_the_filter_form_narrows_the_tab_and_its_region_to_the_chosen_kinds(admin_client, customer):
    history_make(customer, events=10)

    response = admin_client.get(reverse("user_activity", args=[customer.pk]), {"kind": ["refund", "dispute"]})
    region = admin_client.get(
        reverse("user_timeline", args=[customer.pk]), {"kind": "message"}, headers={"hx-request": "true"}
    )

    html = response.content.decode()
    assert 'data-kind="refund"' in html and 'data-kind="dispute"' in html
    assert 'data-kind="ledger"' not in html and 'data-kind="payment"' not in html
    assert "Show everything" in html
    assert region.status_code == 200
    assert region.content.decode().count('data-kind="message"') == 1
    assert b'data-kind="refund"' not in region.content
    assert region.headers["HX-Push-Url"] == reverse("user_activity", args=[customer.pk]) + "?kind=message"


@pytest.mark.parametrize("marker", ["nonsense", "12-bogus-3", "99999999999999999999999-ledger-1", "1-ledger-x"])
def test_a_page_marker_the_page_did_not_write_is_refused_with_a_reason(admin_client, customer, marker):
    response = admin_client.get(reverse("user_activity", args=[customer.pk]), {"older": marker})
    assert response.status_code == 400
    assert b"page marker" in response.content


def test_an_unknown_kind_is_refused_with_a_reason(admin_client, customer):
    response = admin_client.get(reverse("user_timeline", args=[customer.pk]), {"kind": "everything"})
    assert response.status_code == 400
    assert b"not one of the available choices" in response.content


def test_every_detail_an_entry_can_show_comes_with_its_sources_query(admin_client, customer):
    """Each source reads only the columns the timeline shows (`_COLUMNS`): one the template asks for
    and the query left out would cost a query per entry. Every optional detail shown here."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import PaymentFactory, RefundFactory

    plain = CustomerFactory()
    history_make(plain, events=3)
    with CaptureQueriesContext(connection) as plain_queries:
        admin_client.get(reverse("user_activity", args=[plain.pk]))

    approver = StaffFactory(first_name="Ada", last_name="Approver", roles=[FINANCE], passwordless=True)
    history_make(customer, events=3)
    payment = PaymentFactory(user=customer)
    LedgerEntry.objects.create(
        user=customer, kind=LedgerEntry.Kind.ADJUSTMENT, credits_delta=5, balance_after=6, actor=approver,
        note="Goodwill", payment=payment, money_delta=100, currency="USD",
    )  # fmt: skip
    refund = RefundFactory(
        payment=payment,
        status=Refund.Status.FAILED,
        approval_rule=Refund.ApprovalRule.REFUND,
        decided_by=approver,
        decided_at=timezone.now(),
        gateway_refund_id="re_timeline_2",
        failure_reason="Card expired",
    )
    AuditEventFactory(action=RefundAction.REVERSED, target_user=customer, about=refund)
    Dispute.objects.filter(payment__user=customer).update(evidence_due_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("user_activity", args=[customer.pk]))

    html = response.content.decode()
    assert "by Ada Approver" in html and "Card expired" in html and "evidence due" in html
    assert "Goodwill" in html and "re_timeline_2" in html
    assert len(queries) == len(plain_queries)
