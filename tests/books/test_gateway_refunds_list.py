"""The gateways' lists of refunds, for the drift report: Stripe's through the real SDK against the
fake Stripe (`GET /v1/refunds`, paged as Stripe pages), and the sandbox's, derived from what it
answered."""

from datetime import UTC, datetime, timedelta
from itertools import islice
from types import SimpleNamespace

import pytest
import stripe

from accounts.roles import FINANCE
from payments.gateway import GatewayRefundListed, GatewayUnavailable, StripeGateway, gateway_for
from refunds.models import Refund
from tests.factories import PaymentFactory, StaffFactory, purchase_record
from tests.fakes.stripe import API_KEY, stripe_refund
from tests.helpers import refund_request

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
PAYMENT = SimpleNamespace(gateway_id="pi_3Portal000001", currency="USD")


def _stripe() -> StripeGateway:
    gateway = gateway_for("stripe")
    assert isinstance(gateway, StripeGateway)
    return gateway


def _plant(stripe_api, number: int, at: datetime, status: str = "succeeded", **fields) -> str:
    """A refund made at Stripe (in its Dashboard, say) at `at`, of 100 + `number` cents."""
    refund_id = f"re_3List{number:06d}"
    stripe_api.refunds[refund_id] = stripe_refund(
        refund_id, PAYMENT, status=status, amount=100 + number, created=int(at.timestamp()), **fields
    )
    return refund_id


def test_it_lists_the_windows_refunds_newest_first_a_page_of_100_at_a_time(stripe_api):
    inside = [_plant(stripe_api, n, SINCE + timedelta(minutes=n)) for n in range(150)]
    _plant(stripe_api, 900, SINCE - timedelta(seconds=1))  # just before
    _plant(stripe_api, 901, UNTIL)  # the end is not included

    listed = list(_stripe().refunds_list(since=SINCE, until=UNTIL))

    assert [refund.id for refund in listed] == inside[::-1]
    first, second = stripe_api.listings()
    window = {"created[gte]": str(int(SINCE.timestamp())), "created[lt]": str(int(UNTIL.timestamp()))}
    assert first.args.to_dict() == window | {"limit": "100"}
    assert second.args.to_dict() == window | {"limit": "100", "starting_after": inside[50]}


def test_each_refund_comes_in_the_portals_words(stripe_api):
    _plant(
        stripe_api,
        7,
        SINCE + timedelta(days=2),
        reason="duplicate",
        metadata={"portal_refund_id": "41", "portal_staff_id": "7"},
        status="failed",
        failure_reason="lost_or_stolen_card",
    )
    _plant(stripe_api, 8, SINCE + timedelta(days=1), reason="expired_uncaptured_charge", metadata={"note": "x"})

    failed, plain = _stripe().refunds_list(since=SINCE, until=UNTIL)

    assert failed == GatewayRefundListed(
        id="re_3List000007",
        status="failed",
        failure_reason="The customer's card was reported lost or stolen, so the bank returned the refund.",
        amount=107,
        currency="USD",
        payment_gateway_ids=("pi_3Portal000001", "ch_3Charge000001"),
        portal_refund_id=41,
        reason="duplicate",
        created_at=SINCE + timedelta(days=2),
    )
    assert (plain.reason, plain.portal_refund_id, plain.failure_reason) == ("", None, "")


def test_a_page_that_fails_is_no_answer_rather_than_the_end_of_the_list(stripe_api):
    planted = [_plant(stripe_api, n, SINCE + timedelta(minutes=n)) for n in range(101)]
    listing = _stripe().refunds_list(since=SINCE, until=UNTIL)
    assert len(list(islice(listing, 100))) == 100
    del stripe_api.refunds[planted[1]]  # the first page's last: Stripe cannot go on from it

    with pytest.raises(GatewayUnavailable, match="HTTP 400"):
        next(listing)


# The fake is as strict about the list's parameters as Stripe.


@pytest.fixture
def client(stripe_api, settings) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": settings.STRIPE_API_BASE}, max_network_retries=0)


def test_the_fake_lists_ten_by_default_and_filters_by_payment(client, stripe_api):
    # The positive control: else the refusals below could be refusals of everything.
    for n in range(12):
        _plant(stripe_api, n, SINCE + timedelta(minutes=n))

    assert len(client.v1.refunds.list().data) == 10
    assert client.v1.refunds.list(params={"payment_intent": "pi_3Portal000001"}).has_more is True
    assert client.v1.refunds.list(params={"payment_intent": "pi_3Other"}).data == []


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"limit": 101}, "limit", "between 1 and 100"),
        ({"limit": 0}, "limit", "between 1 and 100"),
        ({"created": {"after": 5}}, "created[after]", "unknown parameter"),
        ({"created": {"gte": "yesterday"}}, "created[gte]", "Invalid integer"),
        ({"status": "succeeded"}, "status", "unknown parameter"),
        ({"starting_after": "re_3Unknown"}, "starting_after", "No such refund"),
    ],
)
def test_the_fake_refuses_list_parameters_stripe_would_refuse(client, stripe_api, params, param, words):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.list(params=params)

    assert refused.value.http_status == 400
    assert refused.value.param == param
    assert words in str(refused.value.user_message)


# The sandbox keeps nothing between processes: its list is what it answered, as recorded here.


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_lists_the_refunds_it_made_in_the_status_it_answers_now():
    refunder = StaffFactory(roles=[FINANCE], passwordless=True)
    succeeding = purchase_record(PaymentFactory())
    failing_later = purchase_record(PaymentFactory(gateway_id="pi_sandbox_faillater_drift"))
    done = refund_request(succeeding, actor=refunder)
    waiting = refund_request(failing_later, actor=refunder, amount=1500)
    assert (done.status, waiting.status) == (Refund.Status.SUCCEEDED, Refund.Status.PENDING)
    now = datetime.now(tz=UTC)

    listed = list(gateway_for("sandbox").refunds_list(since=now - timedelta(hours=1), until=now + timedelta(hours=1)))

    assert [(r.id, r.status, r.amount, r.portal_refund_id) for r in listed] == [
        (waiting.gateway_refund_id, "failed", 1500, waiting.pk),
        (done.gateway_refund_id, "succeeded", 2500, done.pk),
    ]
    assert listed[1].payment_gateway_ids == (succeeding.gateway_id,)
    assert (
        list(gateway_for("sandbox").refunds_list(since=now + timedelta(hours=1), until=now + timedelta(hours=2))) == []
    )
