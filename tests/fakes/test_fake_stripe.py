"""The fake Stripe refuses a refund request Stripe would refuse, so a portal bug fails here, not live.

Through the real SDK, as the portal talks to it; each refused request must leave nothing behind
(no refund, nothing kept for its key), as at Stripe, where an invalid request never starts.
"""

import pytest
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
