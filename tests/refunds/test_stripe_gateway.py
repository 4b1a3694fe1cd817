"""The Stripe gateway: the real Stripe SDK against a local server that answers as Stripe does
(`stripe_api`, tests/fakes/stripe.py)."""

import socket
import threading

import pytest
import stripe

from core.correlation import correlation_scope
from notifications.models import SmsMessage
from payments.gateway import GatewayDeclined, GatewayRefund, GatewayUnavailable, StripeGateway, gateway_for
from payments.gateway.stripe_api import STRIPE_API_VERSION
from payments.models import LedgerEntry, Payment
from refunds.models import Refund
from tests.factories import stripe_payment
from tests.fakes.stripe import API_KEY
from tests.helpers import assert_books_balance, refund_request, sms_jobs_for


def _gateway() -> StripeGateway:
    gateway = gateway_for("stripe")
    assert isinstance(gateway, StripeGateway)
    return gateway


def _ask(gateway: StripeGateway, *, payment_gateway_id: str = "pi_3Portal000001", reason="requested_by_customer"):
    return gateway.refund(
        payment_gateway_id=payment_gateway_id,
        amount=2500,
        currency="USD",
        reason=reason,
        idempotency_key="refund-form-8c1f0a",
        portal_refund_id=41,
        portal_staff_id=7,
    )


# The request the SDK sends.


def test_it_posts_the_refund_to_v1_refunds_with_amount_reason_metadata_key_and_api_key(stripe_api):
    answer = _ask(_gateway())

    (request,) = stripe_api.creates()
    assert request.path == "/v1/refunds"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Idempotency-Key"] == "refund-form-8c1f0a"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form.to_dict() == {
        "payment_intent": "pi_3Portal000001",
        "amount": "2500",
        "reason": "requested_by_customer",
        "metadata[portal_refund_id]": "41",
        "metadata[portal_staff_id]": "7",
    }
    assert answer == GatewayRefund(id=next(iter(stripe_api.refunds)), status="succeeded")


def test_it_refunds_a_charge_through_the_charge_field(stripe_api):
    _ask(_gateway(), payment_gateway_id="ch_3Portal000002")

    (request,) = stripe_api.creates()
    assert request.form["charge"] == "ch_3Portal000002"
    assert "payment_intent" not in request.form


def test_it_sends_our_other_reason_in_metadata_because_stripe_does_not_know_it(stripe_api):
    _ask(_gateway(), reason="other")

    (request,) = stripe_api.creates()
    assert "reason" not in request.form
    assert request.form["metadata[portal_reason]"] == "other"


def test_a_retried_500_is_replayed_by_stripe_for_the_same_key_so_it_stays_no_answer(settings, stripe_api):
    # Stripe keeps the first answer to a key, a 500 from its endpoint included: the SDK's retry
    # with the same key gets the same 500 back, never a refund.
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    stripe_api.faults = ["500"]

    with pytest.raises(GatewayUnavailable, match="HTTP 500"):
        _ask(_gateway())

    first, retry = stripe_api.creates()
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == "refund-form-8c1f0a"
    (_, _, first_headers), (status, body, retry_headers) = stripe_api.create_answers()
    assert (status, body["error"]["type"], retry_headers["Idempotent-Replayed"]) == (500, "api_error", "true")
    assert "Idempotent-Replayed" not in first_headers
    assert stripe_api.refunds == {}


def test_it_retries_an_error_at_stripes_edge_with_the_same_key_and_gets_the_refund(settings, stripe_api):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    stripe_api.faults = ["503"]  # before Stripe's idempotency layer: nothing kept for the key

    answer = _ask(_gateway())

    assert answer.status == "succeeded"
    first, retry = stripe_api.creates()
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == "refund-form-8c1f0a"
    assert len(stripe_api.refunds) == 1


def test_it_sends_the_api_version_it_was_written_for_with_every_request(stripe_api):
    gateway = _gateway()
    answer = _ask(gateway)
    gateway.retrieve_refund(refund_id=answer.id)
    list(gateway.refunds_list(payment_gateway_id="pi_3Portal000001"))

    requests = [request for request, _ in stripe_api.server.log]
    assert len(requests) == 3
    assert {request.headers["Stripe-Version"] for request in requests} == {STRIPE_API_VERSION}


def test_the_pinned_api_version_is_the_sdks_and_new_enough_for_refund_events_on_charges():
    # The SDK's types are generated for one API version: the pin moves with the SDK, deliberately.
    assert stripe.api_version == STRIPE_API_VERSION
    assert STRIPE_API_VERSION[:10] >= "2024-10-28"


def test_it_replays_the_first_answer_to_the_same_key_as_stripe_does(stripe_api):
    gateway = _gateway()

    first, second = _ask(gateway), _ask(gateway)

    assert first == second
    assert len(stripe_api.refunds) == 1


# What each answer means.


def test_it_declines_an_already_refunded_payment_with_a_reason_staff_can_read(stripe_api):
    stripe_api.faults = ["already_refunded"]

    with pytest.raises(GatewayDeclined) as declined:
        _ask(_gateway())

    assert str(declined.value) == "The payment has already been fully refunded at Stripe."


def test_it_declines_a_card_error_with_the_banks_reason(stripe_api):
    stripe_api.faults = ["card_declined"]

    with pytest.raises(GatewayDeclined) as declined:
        _ask(_gateway())

    assert str(declined.value) == "The customer's bank declined the refund."


def test_it_declines_an_invalid_request_it_has_no_words_for_with_stripes_message(stripe_api):
    stripe_api.server.expect_oneshot_request("/v1/refunds", method="POST").respond_with_json(
        {"error": {"type": "invalid_request_error", "message": "Amount must be at least 50 cents.", "param": "amount"}},
        status=400,
    )

    with pytest.raises(GatewayDeclined) as declined:
        _ask(_gateway())

    assert str(declined.value) == "Stripe refused the refund: Amount must be at least 50 cents."


@pytest.mark.parametrize("fault", ["500", "503", "429"])
def test_it_calls_5xx_and_rate_limits_no_answer(stripe_api, fault):
    stripe_api.faults = [fault]

    with pytest.raises(GatewayUnavailable) as unavailable:
        _ask(_gateway())

    assert f"HTTP {fault}" in str(unavailable.value)
    assert stripe_api.refunds == {}


def test_it_calls_a_read_timeout_no_answer(settings, stripe_api):
    # Long enough for a loaded machine to connect and send; far shorter than the fake's hold.
    settings.STRIPE_TIMEOUT_SECONDS = 1.0
    stripe_api.faults = ["hold"]

    with pytest.raises(GatewayUnavailable) as unavailable:
        _ask(_gateway())

    assert "APIConnectionError" in str(unavailable.value)
    assert stripe_api.held.wait(timeout=5)  # the request did reach Stripe
    assert len(stripe_api.refunds) == 1  # made at Stripe all the same: only the answer was lost


def test_a_request_while_stripe_is_still_answering_the_same_key_is_a_409_and_no_answer(settings, stripe_api):
    stripe_api.faults = ["hold"]
    first: list = []
    worker = threading.Thread(target=lambda: first.append(_ask(_gateway())))
    settings.STRIPE_TIMEOUT_SECONDS = 5.0
    worker.start()
    try:
        assert stripe_api.held.wait(timeout=5)
        with pytest.raises(GatewayUnavailable, match="HTTP 409"):
            _ask(_gateway())
    finally:
        stripe_api.release()
        worker.join()

    assert first[0].status == "succeeded"
    assert len(stripe_api.refunds) == 1


def test_it_calls_a_refused_connection_no_answer(settings, stripe_api):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(GatewayUnavailable) as unavailable:
        _ask(_gateway())

    assert "APIConnectionError" in str(unavailable.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****51Hx"}),
        (403, {"type": "invalid_request_error", "message": "The provided key does not have access."}),
        (400, {"type": "idempotency_error", "message": "Keys for idempotent requests can only be used once."}),
    ],
)
def test_it_never_fails_a_refund_on_a_refused_key_or_a_reused_idempotency_key(stripe_api, status, error):
    # These say nothing about the refund made with the key, if any: failing it could release money
    # Stripe did refund, so it stays pending for a person (and reconciliation) to look at.
    stripe_api.server.expect_oneshot_request("/v1/refunds", method="POST").respond_with_json(
        {"error": error}, status=status
    )

    with pytest.raises(GatewayUnavailable):
        _ask(_gateway())


def test_it_reads_a_refund_that_failed_with_the_reason_in_staff_words(stripe_api):
    answer = _ask(_gateway())
    stripe_api.refunds[answer.id] |= {"status": "failed", "failure_reason": "expired_or_canceled_card"}

    looked_up = _gateway().retrieve_refund(refund_id=answer.id)

    assert looked_up == GatewayRefund(
        id=answer.id,
        status="failed",
        failure_reason="The customer's card has expired or was canceled, so the bank returned the refund.",
    )
    assert stripe_api.lookups()[0].path == f"/v1/refunds/{answer.id}"


def test_it_calls_a_failed_lookup_no_answer(stripe_api):
    with pytest.raises(GatewayUnavailable):
        _gateway().retrieve_refund(refund_id="re_3Unknown")


# refund_execute through the real SDK (phases need real commits: the gateway is never called in a transaction).


@pytest.mark.django_db(transaction=True)
def test_refund_execute_refunds_at_stripe_once_with_ledger_entry_payment_status_and_one_sms(stripe_api, refunder):
    payment = stripe_payment(amount=10000, credits=500)

    refund = refund_request(
        payment, actor=refunder, amount=2500, idempotency_key="form-key-success", credits_to_remove=125
    )

    assert refund.status == Refund.Status.SUCCEEDED
    (request,) = stripe_api.creates()
    assert request.headers["Idempotency-Key"] == "form-key-success"
    assert request.form["payment_intent"] == payment.gateway_id
    assert request.form["metadata[portal_refund_id]"] == str(refund.pk)
    assert request.form["metadata[portal_staff_id]"] == str(refunder.pk)
    assert refund.gateway_refund_id == next(iter(stripe_api.refunds))
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (2500, Payment.Status.PARTIALLY_REFUNDED)
    entry = LedgerEntry.objects.get(refund_id=refund.pk)
    assert (entry.kind, entry.money_delta, entry.credits_delta, entry.actor) == ("refund", -2500, -125, refunder)
    payment.user.refresh_from_db()
    assert payment.user.credits == 375
    (sms,) = sms_jobs_for(refund)
    assert "$25.00" in sms.body
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_refund_execute_fails_an_already_refunded_payment_and_releases_the_amount(stripe_api, refunder):
    payment = stripe_payment(amount=10000)
    stripe_api.faults = ["already_refunded"]

    refund = refund_request(payment, actor=refunder, amount=10000, idempotency_key="form-key-refunded-1")

    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason == "The payment has already been fully refunded at Stripe."
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert sms_jobs_for(refund) == []
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (0, Payment.Status.SUCCEEDED)
    # The reservation is released: the whole amount can be refunded again.
    again = refund_request(payment, actor=refunder, amount=10000, idempotency_key="form-key-refunded-2")
    assert again.status == Refund.Status.SUCCEEDED
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_refund_execute_fails_a_card_decline_with_the_reason_shown(stripe_api, refunder):
    payment = stripe_payment()
    stripe_api.faults = ["card_declined"]

    refund = refund_request(payment, actor=refunder, amount=4000, idempotency_key="form-key-declined")

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason == "The customer's bank declined the refund."
    assert refund.settled_at is not None
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert SmsMessage.objects.count() == 0
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_refund_execute_sends_stripe_the_id_of_the_request_that_asked_and_keeps_it(stripe_api, refunder):
    payment = stripe_payment(amount=10000)

    with correlation_scope("req-Refund-0001"):
        refund = refund_request(payment, actor=refunder, amount=2500, idempotency_key="form-key-traced")

    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.correlation_id == "req-Refund-0001"
    (request,) = stripe_api.creates()
    assert request.form["metadata[portal_request_id]"] == "req-Refund-0001"


@pytest.mark.django_db(transaction=True)
def test_a_refund_asked_outside_a_request_sends_no_request_id(stripe_api, refunder):
    refund = refund_request(stripe_payment(amount=10000), actor=refunder, amount=2500, idempotency_key="form-key-cli")

    assert (refund.status, refund.correlation_id) == (Refund.Status.SUCCEEDED, "")
    (request,) = stripe_api.creates()
    assert "metadata[portal_refund_id]" in request.form  # else the check below would pass on nothing
    assert "metadata[portal_request_id]" not in request.form
