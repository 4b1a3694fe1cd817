"""The Stripe gateway: the real Stripe SDK against a local server that answers as Stripe does.

`FakeStripe` (used by the webhook and reconciliation tests too) keeps Stripe's idempotency rule:
the first answer to an Idempotency-Key is kept and replayed to any later request with that key.
"""

import json
import re
import socket
import threading
import time
from itertools import count

import pytest
from django.contrib.auth.models import Group
from django.db.models import Sum
from werkzeug import Request, Response

from accounts.roles import FINANCE, roles_ensure
from notifications.models import SmsMessage
from payments.gateway import GatewayDeclined, GatewayRefund, GatewayUnavailable, StripeGateway, gateway_for
from payments.models import LedgerEntry, Payment
from payments.selectors import ledger_verify
from payments.services import payment_record_from_gateway
from refunds.models import Refund
from refunds.services import refund_execute
from tests.factories import CustomerFactory

API_KEY = "sk_test_portal_51Hx"
WEBHOOK_SECRET = "whsec_test_portal"
_ids = count(1)


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def stripe_error(status: int, type_: str, message: str, code: str | None = None) -> tuple[int, dict]:
    error = {"type": type_, "message": message}
    if code:
        error["code"] = code
    return status, {"error": error}


class FakeStripe:
    """Stripe's Refunds API, as far as the portal uses it, on pytest-httpserver.

    `faults` are what the next create requests meet, first to last:
    - "500", "503", "429": an error before Stripe did anything (at its edge): nothing is kept, so
      the same key sent again is a new attempt;
    - "already_refunded", "card_declined", "no_such_payment": Stripe's refusal, kept for the key;
    - "hold": Stripe makes the refund and keeps the answer, but holds the response until the test
      calls `release()` (the portal's read timeout expires first, unless it waits long enough).
    New refunds get the status `refund_status`; tests change `refunds[id]` to move them on.
    """

    def __init__(self, server):
        self.server = server
        self.refunds: dict[str, dict] = {}
        self.kept: dict[str, tuple[dict, int, dict]] = {}  # Idempotency-Key → (params, status, body)
        self.faults: list[str] = []
        self.refund_status = "succeeded"
        self.held = threading.Event()  # set when a "hold" request has arrived
        self._release = threading.Event()
        server.expect_request("/v1/refunds", method="POST").respond_with_handler(self._create)
        server.expect_request(re.compile(r"^/v1/refunds/[A-Za-z0-9_]+$"), method="GET").respond_with_handler(
            self._retrieve
        )

    def release(self) -> None:
        self._release.set()

    def creates(self) -> list[Request]:
        return [request for request, _ in self.server.log if request.method == "POST"]

    def lookups(self) -> list[Request]:
        return [request for request, _ in self.server.log if request.method == "GET"]

    def _create(self, request: Request) -> Response:
        params = request.form.to_dict()
        key = request.headers.get("Idempotency-Key", "")
        if key in self.kept:
            first_params, status, body = self.kept[key]
            if first_params != params:
                status, body = stripe_error(
                    400,
                    "idempotency_error",
                    f"Keys for idempotent requests can only be used with the same "
                    f"parameters they were first used with. Try using a key other than '{key}'.",
                )
                return _json(body, status)
            return _json(body, status, headers={"Idempotent-Replayed": "true"})

        fault = self.faults.pop(0) if self.faults else ""
        if fault in ("500", "503"):
            return _json(stripe_error(int(fault), "api_error", "An unknown error occurred")[1], int(fault))
        if fault == "429":
            return _json(stripe_error(429, "invalid_request_error", "Too many requests", "rate_limit")[1], 429)
        target = params.get("payment_intent") or params.get("charge", "")
        if fault == "already_refunded":
            status, body = stripe_error(
                400, "invalid_request_error", f"Charge {target} has already been refunded.", "charge_already_refunded"
            )
        elif fault == "card_declined":
            status, body = stripe_error(402, "card_error", "Your card was declined.", "card_declined")
        elif fault == "no_such_payment":
            status, body = stripe_error(
                400, "invalid_request_error", f"No such payment_intent: '{target}'", "resource_missing"
            )
        else:
            refund = self._refund_make(params)
            self.refunds[refund["id"]] = refund
            status, body = 200, refund
        self.kept[key] = (params, status, body)
        if fault == "hold":
            self.held.set()
            self._release.wait(timeout=10)
        return _json(body, status)

    def _refund_make(self, params: dict) -> dict:
        refund_id = f"re_3Fake{next(_ids):06d}"
        return {
            "id": refund_id,
            "object": "refund",
            "amount": int(params["amount"]),
            "currency": "usd",
            "charge": params.get("charge") or "ch_3FakeCharge",
            "payment_intent": params.get("payment_intent"),
            "reason": params.get("reason"),
            "status": self.refund_status,
            "failure_reason": None,
            "metadata": {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")},
            "created": int(time.time()),
        }

    def _retrieve(self, request: Request) -> Response:
        refund = self.refunds.get(request.path.rsplit("/", 1)[1])
        if refund is None:
            return _json(stripe_error(404, "invalid_request_error", "No such refund", "resource_missing")[1], 404)
        return _json(refund)


@pytest.fixture
def stripe_api(httpserver, settings):
    """Stripe at a local server: small timeouts, no SDK retries unless a test asks for them."""
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
    settings.STRIPE_TIMEOUT_SECONDS = 2.0
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fake = FakeStripe(httpserver)
    yield fake
    fake.release()  # never leave the server holding a response for the next test
    httpserver.check_assertions()  # no request the fake did not expect


def stripe_payment(*, gateway_id: str = "", amount: int = 10000, credits: int = 500, customer=None) -> Payment:
    """A customer's Stripe payment with its purchase ledger entry."""
    customer = customer or CustomerFactory()
    payment, _ = payment_record_from_gateway(
        user_id=customer.pk,
        gateway=Payment.Gateway.STRIPE,
        gateway_id=gateway_id or f"pi_3Portal{next(_ids):06d}",
        amount=amount,
        currency="USD",
        credits_bought=credits,
        description="Pro pack — 500 credits",
    )
    return payment


def staff_member():
    """Finance, without a password (hashing one is most of a test's time; refund_execute needs none)."""
    roles_ensure()
    staff = CustomerFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name=FINANCE))
    return staff


def refund_card(payment: Payment, *, amount: int, key: str, credits_to_remove: int = 0, staff=None) -> Refund:
    return refund_execute(
        payment=Payment.objects.get(pk=payment.pk),
        type=Refund.Type.PARTIAL,
        amount=amount,
        reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
        note="",
        actor=staff or staff_member(),
        idempotency_key=key,
        credits_to_remove=credits_to_remove,
    )


def sms_jobs_for(refund: Refund) -> list[SmsMessage]:
    """The SMS messages about a refund, each checked to have exactly one send job in the queue."""
    from django.contrib.contenttypes.models import ContentType
    from procrastinate.contrib.django.models import ProcrastinateJob

    messages = list(
        SmsMessage.objects.filter(about_type=ContentType.objects.get_for_model(Refund), about_id=refund.pk).order_by(
            "pk"
        )
    )
    for message in messages:
        jobs = ProcrastinateJob.objects.filter(task_name="notifications.sms_send", args={"message_id": message.pk})
        assert jobs.count() == 1, f"SMS {message.pk} has {jobs.count()} send jobs"
    return messages


def assert_books_balance() -> None:
    """The invariants of DESIGN.md that these scenarios touch."""
    assert ledger_verify().mismatch_count == 0
    for payment in Payment.objects.all():
        refunds = Refund.objects.filter(payment=payment)
        reserved = refunds.filter(status__in=Refund.RESERVING).aggregate(total=Sum("amount"))["total"] or 0
        succeeded = refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount"))["total"] or 0
        assert reserved <= payment.amount, f"payment {payment.pk}: {reserved} reserved of {payment.amount}"
        assert payment.amount_refunded == succeeded
    for refund in Refund.objects.all():
        entries = LedgerEntry.objects.filter(refund_id=refund.pk, kind=LedgerEntry.Kind.REFUND).count()
        reversals = LedgerEntry.objects.filter(refund_id=refund.pk, kind=LedgerEntry.Kind.REFUND_REVERSAL).count()
        if refund.status == Refund.Status.SUCCEEDED:
            assert (entries, reversals) == (1, 0), f"refund {refund.pk}: {entries} entries, {reversals} reversals"
        else:
            assert entries == reversals <= 1, f"refund {refund.pk}: {entries} entries, {reversals} reversals"


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


def test_it_retries_a_500_with_the_same_idempotency_key(settings, stripe_api):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    stripe_api.faults = ["500"]

    answer = _ask(_gateway())

    assert answer.status == "succeeded"
    first, retry = stripe_api.creates()
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == "refund-form-8c1f0a"
    assert len(stripe_api.refunds) == 1


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
    settings.STRIPE_TIMEOUT_SECONDS = 0.3
    stripe_api.faults = ["hold"]

    with pytest.raises(GatewayUnavailable) as unavailable:
        _ask(_gateway())

    assert "APIConnectionError" in str(unavailable.value)
    assert len(stripe_api.refunds) == 1  # made at Stripe all the same: only the answer was lost


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
def test_refund_execute_refunds_at_stripe_once_with_ledger_entry_payment_status_and_one_sms(stripe_api):
    payment = stripe_payment(amount=10000, credits=500)
    staff = staff_member()

    refund = refund_card(payment, amount=2500, key="form-key-success", credits_to_remove=125, staff=staff)

    assert refund.status == Refund.Status.SUCCEEDED
    (request,) = stripe_api.creates()
    assert request.headers["Idempotency-Key"] == "form-key-success"
    assert request.form["payment_intent"] == payment.gateway_id
    assert request.form["metadata[portal_refund_id]"] == str(refund.pk)
    assert request.form["metadata[portal_staff_id]"] == str(staff.pk)
    assert refund.gateway_refund_id == next(iter(stripe_api.refunds))
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (2500, Payment.Status.PARTIALLY_REFUNDED)
    entry = LedgerEntry.objects.get(refund_id=refund.pk)
    assert (entry.kind, entry.money_delta, entry.credits_delta, entry.actor) == ("refund", -2500, -125, staff)
    payment.user.refresh_from_db()
    assert payment.user.credits == 375
    (sms,) = sms_jobs_for(refund)
    assert "$25.00" in sms.body
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_refund_execute_fails_an_already_refunded_payment_and_releases_the_amount(stripe_api):
    payment = stripe_payment(amount=10000)
    stripe_api.faults = ["already_refunded"]

    refund = refund_card(payment, amount=10000, key="form-key-refunded-1")

    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason == "The payment has already been fully refunded at Stripe."
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert sms_jobs_for(refund) == []
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (0, Payment.Status.SUCCEEDED)
    # The reservation is released: the whole amount can be refunded again.
    again = refund_card(payment, amount=10000, key="form-key-refunded-2")
    assert again.status == Refund.Status.SUCCEEDED
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_refund_execute_fails_a_card_decline_with_the_reason_shown(stripe_api):
    payment = stripe_payment()
    stripe_api.faults = ["card_declined"]

    refund = refund_card(payment, amount=4000, key="form-key-declined")

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason == "The customer's bank declined the refund."
    assert refund.settled_at is not None
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert SmsMessage.objects.count() == 0
    assert_books_balance()
