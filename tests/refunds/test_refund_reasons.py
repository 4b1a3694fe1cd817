"""Refund reasons at the gateway: every reason staff can choose reaches Stripe as a reason Stripe
accepts, or travels only in metadata; the sandbox refuses what Stripe would refuse."""

import pytest

from payments.gateway import STRIPE_REFUND_REASONS, SandboxGateway, gateway_for, stripe_refund_reason
from refunds.models import Refund

# What Stripe's API reference lists for `reason` when a refund is created (POST /v1/refunds):
# written out here, not taken from the gateway, so that the test checks the gateway against it.
STRIPE_DOCUMENTED_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


def sandbox_refund(sandbox: SandboxGateway, reason: str):
    return sandbox.refund(
        payment_gateway_id="pi_sandbox_reasons",
        amount=2500,
        currency="USD",
        reason=reason,
        idempotency_key=f"reason-{reason}",
        portal_refund_id=41,
        portal_staff_id=7,
    )


@pytest.mark.parametrize("reason", Refund.Reason.values)
def test_every_refund_reason_maps_to_a_reason_stripe_accepts_or_travels_only_in_metadata(reason):
    assert stripe_refund_reason(reason) in STRIPE_DOCUMENTED_REASONS | {None}


def test_our_reasons_named_after_stripes_are_sent_to_stripe_as_themselves():
    named_after_stripes = STRIPE_DOCUMENTED_REASONS & set(Refund.Reason.values)
    assert named_after_stripes  # else the check below would pass on nothing

    assert {reason: stripe_refund_reason(reason) for reason in named_after_stripes} == {
        reason: reason for reason in named_after_stripes
    }


@pytest.mark.django_db
@pytest.mark.parametrize("reason", Refund.Reason.values)
def test_the_sandbox_accepts_every_refund_reason(reason):
    assert sandbox_refund(SandboxGateway(), reason).status == "succeeded"


@pytest.mark.django_db
def test_the_sandbox_refuses_a_reason_stripe_would_not_accept(monkeypatch):
    sandbox = SandboxGateway()
    assert sandbox_refund(sandbox, "goodwill").status == "succeeded"  # unmapped: travels in metadata

    monkeypatch.setitem(STRIPE_REFUND_REASONS, "goodwill", "goodwill")

    with pytest.raises(ValueError, match="goodwill"):
        sandbox_refund(sandbox, "goodwill")


@pytest.mark.parametrize("reason", Refund.Reason.values)
def test_the_strict_fake_stripe_accepts_every_refund_reason_as_the_gateway_sends_it(stripe_api, reason):
    # The fake refuses what Stripe's OpenAPI description refuses (a reason outside its enum, say).
    answer = gateway_for("stripe").refund(
        payment_gateway_id="pi_3Reasons0001",
        amount=2500,
        currency="USD",
        reason=reason,
        idempotency_key=f"reason-{reason}",
        portal_refund_id=41,
        portal_staff_id=7,
    )

    assert answer.status == "succeeded"
    (request,) = stripe_api.creates()
    sent = request.form.get("reason") or request.form["metadata[portal_reason]"]
    assert sent == (stripe_refund_reason(reason) or reason)
