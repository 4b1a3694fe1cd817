"""Stripe, as far as the portal uses it: the Refunds API on a local server, and signed webhook events.

`FakeStripe` keeps Stripe's idempotency rule: the first answer to an Idempotency-Key is kept and
replayed to any later request with that key (500s at Stripe's edge excepted: nothing was done, so
nothing is kept), and the same key with other parameters is a 400. It checks the create request's
parameters as Stripe's API reference states them (`POST /v1/refunds`), and a request it refuses as
invalid keeps nothing for its key, as at Stripe, where a request that fails validation never
reached the endpoint. Its list of refunds (`GET /v1/refunds`) pages as Stripe's does: newest
first, `limit` (1 to 100, default 10) to a page, `starting_after` the last id of the page before,
`has_more` while any remain; the parameters are checked as strictly.
"""

import hashlib
import hmac
import json
import re
import threading
import time
from itertools import count

from werkzeug import Request, Response

API_KEY = "sk_test_portal_51Hx"
WEBHOOK_SECRET = "whsec_test_portal"

# Stripe's reasons for a refund; anything else is refused (the portal's own "other" travels in metadata).
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
# The create request's parameters (Stripe's OpenAPI description: `additionalProperties: false`).
REFUND_CREATE_PARAMS = {
    "amount",
    "charge",
    "currency",
    "customer",
    "expand",
    "instructions_email",
    "metadata",
    "origin",
    "payment_intent",
    "reason",
    "refund_application_fee",
    "reverse_transfer",
}

# The list request's parameters (Stripe's OpenAPI description of `GET /v1/refunds`).
REFUND_LIST_PARAMS = {"charge", "created", "ending_before", "expand", "limit", "payment_intent", "starting_after"}
# `created` as a range: each bound a Unix time.
CREATED_BOUNDS = {"gt", "gte", "lt", "lte"}

_ids = count(1)


def stripe_error(
    status: int, type_: str, message: str, code: str | None = None, param: str | None = None
) -> tuple[int, dict]:
    """An error answer as Stripe writes it: `(status, {"error": {...}})`."""
    error = {"type": type_, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return status, {"error": error}


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def refund_create_problem(params: dict[str, str]) -> tuple[int, dict] | None:
    """Stripe's 400 for create-refund parameters it would refuse, or None when they are valid."""

    def invalid(message: str, param: str) -> tuple[int, dict]:
        return stripe_error(400, "invalid_request_error", message, "parameter_invalid", param)

    for name in params:
        if name.split("[", 1)[0] not in REFUND_CREATE_PARAMS:
            return stripe_error(
                400, "invalid_request_error", f"Received unknown parameter: {name}", "parameter_unknown", name
            )
    targets = [name for name in ("charge", "payment_intent") if params.get(name)]
    if not targets:
        return stripe_error(
            400,
            "invalid_request_error",
            "One of the following params should be provided for this request: charge or payment_intent.",
            "parameter_missing",
        )
    if len(targets) > 1:
        return invalid("You cannot pass both charge and payment_intent: refund one or the other.", "payment_intent")
    if "reason" in params and params["reason"] not in REFUND_REASONS:
        return invalid("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", "reason")
    if "amount" not in params:
        # Stripe would refund all that remains; the fake knows no payment's total, and the portal
        # always says how much (a refund of "everything" it did not count would go unnoticed here).
        return stripe_error(
            400, "invalid_request_error", "FakeStripe: the portal must always send the amount.", param="amount"
        )
    if not re.fullmatch(r"-?[0-9]+", params["amount"]):
        return invalid(f"Invalid integer: {params['amount']}", "amount")
    if int(params["amount"]) < 1:
        return invalid("Invalid positive integer", "amount")
    return None


def refund_list_problem(params: dict[str, str]) -> tuple[int, dict] | None:
    """Stripe's 400 for list-refunds parameters it would refuse, or None when they are valid."""

    def invalid(message: str, param: str, code: str = "parameter_invalid") -> tuple[int, dict]:
        return stripe_error(400, "invalid_request_error", message, code, param)

    for name, value in params.items():
        base, _, rest = name.partition("[")
        if base not in REFUND_LIST_PARAMS:
            return invalid(f"Received unknown parameter: {name}", name, "parameter_unknown")
        if base == "created":
            bound = rest.rstrip("]")
            if rest and bound not in CREATED_BOUNDS:
                return invalid(f"Received unknown parameter: {name}", name, "parameter_unknown")
            if not re.fullmatch(r"[0-9]+", value):
                return invalid(f"Invalid integer: {value}", name)
    if "limit" in params:
        if not re.fullmatch(r"-?[0-9]+", params["limit"]):
            return invalid(f"Invalid integer: {params['limit']}", "limit")
        if not 1 <= int(params["limit"]) <= 100:
            return invalid("This value must be between 1 and 100.", "limit")
    if "ending_before" in params:
        # Stripe pages backwards with it; the portal only pages forwards, so the fake refuses it
        # rather than answer it wrongly.
        return invalid("FakeStripe: ending_before is not faked.", "ending_before")
    return None


def _created_within(refund: dict, params: dict[str, str]) -> bool:
    created = refund["created"]
    if "created" in params:
        return created == int(params["created"])
    bounds = {name[len("created[") : -1]: int(value) for name, value in params.items() if name.startswith("created[")}
    return (
        created > bounds.get("gt", -1)
        and created >= bounds.get("gte", -1)
        and created < bounds.get("lt", 2**63)
        and created <= bounds.get("lte", 2**63)
    )


class FakeStripe:
    """Stripe's Refunds API, as far as the portal uses it, on pytest-httpserver.

    `faults` are what the next create requests meet, first to last:
    - "500", "503", "429": an error before Stripe did anything (at its edge): nothing is kept, so
      the same key sent again is a new attempt;
    - "already_refunded", "card_declined", "no_such_payment": Stripe's refusal, kept for the key;
    - "hold": Stripe makes the refund and keeps the answer, but holds the response until the test
      calls `release()` (the portal's read timeout expires first, unless it waits long enough).
    A request with invalid parameters is refused before any refusal or hold is used up.
    New refunds get the status `refund_status`; tests change `refunds[id]` to move them on, or
    add one (`stripe_refund(...)`) as if made in Stripe's Dashboard.
    """

    def __init__(self, server):
        self.server = server
        self.refunds: dict[str, dict] = {}
        self.kept: dict[str, tuple[dict, int, dict]] = {}  # Idempotency-Key → (params, status, body)
        self.faults: list[str] = []
        self.refund_status = "succeeded"
        # How long a "hold" keeps its answer back unless released (past the portal's read timeout).
        self.hold_seconds = 10.0
        self.held = threading.Event()  # set when a "hold" request has arrived
        self._release = threading.Event()
        # The server answers each request in its own thread: one request at a time reads and
        # writes what Stripe keeps (a held answer waits outside it).
        self._lock = threading.Lock()
        server.expect_request("/v1/refunds", method="POST").respond_with_handler(self._create)
        server.expect_request("/v1/refunds", method="GET").respond_with_handler(self._list)
        server.expect_request(re.compile(r"^/v1/refunds/[A-Za-z0-9_]+$"), method="GET").respond_with_handler(
            self._retrieve
        )

    def release(self) -> None:
        self._release.set()

    def creates(self) -> list[Request]:
        return [request for request, _ in self.server.log if request.method == "POST"]

    def lookups(self) -> list[Request]:
        """Requests for one refund (`GET /v1/refunds/<id>`)."""
        return [request for request, _ in self.server.log if request.method == "GET" and request.path != "/v1/refunds"]

    def listings(self) -> list[Request]:
        """Requests for a page of the list of refunds (`GET /v1/refunds`)."""
        return [request for request, _ in self.server.log if request.method == "GET" and request.path == "/v1/refunds"]

    def _create(self, request: Request) -> Response:
        with self._lock:
            status, body, headers, fault = self._create_answer(request)
        if fault == "hold":
            self.held.set()
            self._release.wait(timeout=self.hold_seconds)
        return _json(body, status, headers)

    def _create_answer(self, request: Request) -> tuple[int, dict, dict, str]:
        params = request.form.to_dict()
        key = request.headers.get("Idempotency-Key", "")
        if key and key in self.kept:
            first_params, status, body = self.kept[key]
            if first_params != params:
                status, body = stripe_error(
                    400,
                    "idempotency_error",
                    f"Keys for idempotent requests can only be used with the same "
                    f"parameters they were first used with. Try using a key other than '{key}'.",
                )
                return status, body, {}, ""
            return status, body, {"Idempotent-Replayed": "true"}, ""

        fault = self.faults[0] if self.faults else ""
        if fault in ("500", "503", "429"):
            self.faults.pop(0)
            if fault == "429":
                status, body = stripe_error(429, "invalid_request_error", "Too many requests", "rate_limit")
            else:
                status, body = stripe_error(int(fault), "api_error", "An unknown error occurred")
            return status, body, {}, ""
        problem = refund_create_problem(params)
        if problem is not None:
            return *problem, {}, ""
        if fault:
            self.faults.pop(0)
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
        if key:  # without a key Stripe keeps nothing: the same request again is another refund
            self.kept[key] = (params, status, body)
        return status, body, {}, fault

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

    def _list(self, request: Request) -> Response:
        params = request.args.to_dict()
        problem = refund_list_problem(params)
        if problem is not None:
            return _json(problem[1], problem[0])
        with self._lock:
            # Newest first; refunds made in the same second, the later-made first.
            made = list(self.refunds.values())
            listed = [
                refund
                for _, refund in sorted(enumerate(made), key=lambda pair: (pair[1]["created"], pair[0]), reverse=True)
                if _created_within(refund, params)
                and params.get("payment_intent", refund["payment_intent"]) == refund["payment_intent"]
                and params.get("charge", refund["charge"]) == refund["charge"]
            ]
        if after := params.get("starting_after"):
            ids = [refund["id"] for refund in listed]
            if after not in self.refunds:
                status, body = stripe_error(
                    400, "invalid_request_error", f"No such refund: '{after}'", "resource_missing", "starting_after"
                )
                return _json(body, status)
            listed = listed[ids.index(after) + 1 :] if after in ids else []
        limit = int(params.get("limit", 10))
        return _json({"object": "list", "url": "/v1/refunds", "has_more": len(listed) > limit, "data": listed[:limit]})

    def _retrieve(self, request: Request) -> Response:
        with self._lock:
            refund = self.refunds.get(request.path.rsplit("/", 1)[1])
        if refund is None:
            return _json(stripe_error(404, "invalid_request_error", "No such refund", "resource_missing")[1], 404)
        return _json(refund)


# Webhooks: what Stripe posts to /webhooks/stripe/.


def stripe_event(event_type: str, data_object: dict, *, event_id: str = "", created: int | None = None) -> dict:
    return {
        "id": event_id or f"evt_3Test{next(_ids):06d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "type": event_type,
        "livemode": False,
        "data": {"object": data_object},
    }


def stripe_signature(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header as Stripe makes it: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def stripe_refund(refund_id: str, payment, *, status: str, amount: int, **fields) -> dict:
    """A Stripe Refund object on `payment` (a payments.Payment), as a webhook event carries it."""
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": payment.currency.lower(),
        "charge": "ch_3Charge" + payment.gateway_id[-6:],
        "payment_intent": payment.gateway_id,
        "status": status,
        "reason": None,
        "failure_reason": None,
        "metadata": {},
        "created": int(time.time()),
    } | fields
