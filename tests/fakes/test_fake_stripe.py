"""The fake Stripe refuses a refund request Stripe would refuse, and keeps Stripe's idempotency rules,
so a portal bug fails here, not live.

Through the real SDK, as the portal talks to it; each refused request must leave nothing behind
(no refund, nothing kept for its key), as at Stripe, where an invalid request never starts.
"""

import threading

import pytest
import requests
import stripe

from tests.fakes.stripe import API_KEY

KEY = "refund-form-4d2e7b"
VALID = {"payment_intent": "pi_3Portal000001", "amount": 2500, "reason": "requested_by_customer"}


@pytest.fixture
def client(stripe_api, settings) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": settings.STRIPE_API_BASE}, max_network_retries=0)


def create(client: stripe.StripeClient, params: dict, key: str = KEY):
    return client.v1.refunds.create(params=params, options={"idempotency_key": key})


@pytest.mark.parametrize("reason", ["duplicate", "fraudulent", "requested_by_customer", None])
def test_it_makes_a_refund_of_a_payment_intent_or_a_charge_for_each_of_stripes_reasons(client, stripe_api, reason):
    # The positive control: else the refusals below could be refusals of everything.
    params = VALID | {"reason": reason} if reason else {"payment_intent": "pi_3Portal000001", "amount": 2500}

    by_intent = create(client, params)
    by_charge = create(client, {"charge": "ch_3Portal000002", "amount": 1}, key="refund-form-by-charge")

    assert (by_intent.status, by_intent.amount, by_intent.reason) == ("succeeded", 2500, reason)
    assert (by_charge.charge, by_charge.amount) == ("ch_3Portal000002", 1)
    assert list(stripe_api.refunds) == [by_intent.id, by_charge.id]


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        (VALID | {"reason": "other"}, "reason", "must be one of duplicate, fraudulent, or requested_by_customer"),
        (VALID | {"amount": 0}, "amount", "Invalid positive integer"),
        (VALID | {"amount": -2500}, "amount", "Invalid positive integer"),
        (VALID | {"amount": "25.00"}, "amount", "Invalid integer: 25.00"),
        ({"payment_intent": "pi_3Portal000001", "reason": "duplicate"}, "amount", "must always send the amount"),
        ({"amount": 2500, "reason": "duplicate"}, None, "charge or payment_intent"),
        (VALID | {"charge": "ch_3Portal000002"}, "payment_intent", "both charge and payment_intent"),
        (VALID | {"payment_intnet": "pi_3Portal000001"}, "payment_intnet", "unknown parameter"),
    ],
)
def test_it_refuses_invalid_parameters_with_a_400_and_keeps_nothing_for_the_key(
    client, stripe_api, params, param, words
):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(client, params)

    assert refused.value.http_status == 400
    assert refused.value.param == param
    assert words in str(refused.value.user_message)
    assert stripe_api.refunds == {}
    # Nothing was kept for the key: the corrected request with the same key is a new refund, not a 400.
    assert create(client, VALID).status == "succeeded"


def test_a_refusal_waiting_in_the_faults_is_met_by_the_next_valid_request_only(client, stripe_api):
    stripe_api.faults = ["card_declined"]

    with pytest.raises(stripe.InvalidRequestError):
        create(client, VALID | {"reason": "other"})
    with pytest.raises(stripe.CardError):
        create(client, VALID)

    assert stripe_api.faults == []


# The API version.


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (None, "must pin the API version"),
        ("2024-09-30.acacia", "older than 2024-10-28"),
        ("latest", "Invalid Stripe API version"),
    ],
)
def test_it_refuses_a_request_without_a_pinned_api_version_new_enough_for_refund_events(
    stripe_api, settings, version, words
):
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/refunds",
        data=VALID,
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": KEY}
        | ({"Stripe-Version": version} if version else {}),
        timeout=5,
    )

    assert response.status_code == 400
    assert words in response.json()["error"]["message"]
    assert stripe_api.refunds == {} and stripe_api.kept == {}


# Idempotency, as Stripe's API reference states it.


def test_a_500_from_the_endpoint_is_kept_and_replayed_for_the_key_until_it_expires(client, stripe_api):
    stripe_api.faults = ["500"]

    for _ in range(2):
        with pytest.raises(stripe.APIError) as failed:
            create(client, VALID)
        assert failed.value.http_status == 500
    stripe_api.clock_advance(hours=23, seconds=59 * 60)
    with pytest.raises(stripe.APIError):
        create(client, VALID)
    replayed = [headers.get("Idempotent-Replayed") for _, _, headers in stripe_api.create_answers()]
    assert replayed == [None, "true", "true"]
    assert stripe_api.refunds == {}

    stripe_api.clock_advance(seconds=60)  # 24 hours after the key's first use: Stripe forgot it
    refund = create(client, VALID)

    assert (refund.status, list(stripe_api.refunds)) == ("succeeded", [refund.id])


def test_a_500_after_the_refund_was_made_is_replayed_and_the_refund_is_listed(client, stripe_api):
    stripe_api.faults = ["500_refunded"]

    for _ in range(2):
        with pytest.raises(stripe.APIError):
            create(client, VALID)

    (listed,) = client.v1.refunds.list(params={"payment_intent": VALID["payment_intent"]}).data
    assert (listed.amount, listed.metadata.to_dict()) == (2500, {})
    assert len(stripe_api.refunds) == 1


def test_errors_at_stripes_edge_keep_nothing_for_the_key(client, stripe_api):
    stripe_api.faults = ["429", "503"]

    with pytest.raises(stripe.RateLimitError):
        create(client, VALID)
    with pytest.raises(stripe.APIError):
        create(client, VALID)

    assert create(client, VALID).status == "succeeded"


def test_the_same_key_with_other_parameters_is_a_400_idempotency_error(client, stripe_api):
    first = create(client, VALID)

    with pytest.raises(stripe.IdempotencyError) as refused:
        create(client, VALID | {"amount": 2600})

    assert refused.value.http_status == 400
    assert "same parameters" in str(refused.value.user_message)
    assert list(stripe_api.refunds) == [first.id]


def test_a_request_while_its_key_is_in_use_is_a_409_and_the_key_is_free_once_answered(client, stripe_api, settings):
    stripe_api.faults = ["hold"]
    held: list = []
    slow = threading.Thread(target=lambda: held.append(create(client, VALID)))
    slow.start()
    try:
        assert stripe_api.held.wait(timeout=5)
        with pytest.raises(stripe.APIError) as in_use:
            create(client, VALID)
    finally:
        stripe_api.release()
        slow.join()

    assert in_use.value.http_status == 409
    assert in_use.value.error.code == "idempotency_key_in_use"
    again = create(client, VALID)
    assert again.id == held[0].id
    assert len(stripe_api.refunds) == 1


@pytest.mark.parametrize("status", ["pending", "requires_action", "succeeded", "failed", "canceled"])
def test_refunds_take_each_of_stripes_statuses(client, stripe_api, status):
    stripe_api.refund_status = status

    assert create(client, VALID).status == status


# Metadata and amounts.


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({f"key{n}": "x" for n in range(51)}, "up to 50 keys"),
        ({"k" * 41: "x"}, "up to 40 characters"),
        ({"portal_refund_id": "x" * 501}, "up to 500 characters"),
    ],
)
def test_it_refuses_metadata_beyond_stripes_limits(client, stripe_api, metadata, words):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(client, VALID | {"metadata": metadata})

    assert (refused.value.param, stripe_api.refunds) == ("metadata", {})
    assert words in str(refused.value.user_message)
    assert create(client, VALID | {"metadata": {f"key{n}": "x" * 500 for n in range(50)}}).status == "succeeded"


@pytest.mark.parametrize(
    ("currency", "refused", "taken"),
    [("kwd", 1255, 1250), ("isk", 25050, 25000), ("usd", None, 2501), ("jpy", None, 251), ("huf", None, 25050)],
)
def test_it_refuses_an_amount_the_payments_currency_cannot_take(client, stripe_api, currency, refused, taken):
    stripe_api.payment(VALID["payment_intent"], currency=currency)

    if refused is not None:
        with pytest.raises(stripe.InvalidRequestError) as refusal:
            create(client, VALID | {"amount": refused}, key="refused-amount")
        assert refusal.value.param == "amount"
        assert stripe_api.refunds == {}
    refund = create(client, VALID | {"amount": taken})

    assert (refund.amount, refund.currency) == (taken, currency)


def test_it_refuses_a_refund_of_more_than_remains_on_a_payment_it_knows(client, stripe_api):
    stripe_api.payment(VALID["payment_intent"], currency="usd", amount=3000)
    create(client, VALID)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        create(client, VALID | {"amount": 501}, key="second-refund")
    last = create(client, VALID | {"amount": 500}, key="third-refund")

    assert refused.value.code == "amount_too_large"
    with pytest.raises(stripe.InvalidRequestError) as nothing_left:
        create(client, VALID | {"amount": 1}, key="fourth-refund")
    assert nothing_left.value.code == "charge_already_refunded"
    assert [r["amount"] for r in stripe_api.refunds.values()] == [2500, last.amount]
