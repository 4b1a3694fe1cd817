"""Stripe, as far as the portal uses it: the Refunds API on a local server, and signed webhook events.

`FakeStripe` is as strict as Stripe where money goes wrong (Stripe's OpenAPI description of
`POST /v1/refunds` and `GET /v1/refunds`, and its API reference on idempotent requests):

- Every request names the API version it was written for (`Stripe-Version`), and one at least as
  new as the portal's webhooks need (2024-10-28: from then on Stripe sends `refund.*` events for
  charge refunds); else a 400. (Stripe itself would fall back to the account's default version:
  the fake refuses, so a client that forgets to pin fails here, not silently in production.)
- The create request's parameters are checked: no unknown one, exactly one of `charge` and
  `payment_intent`, `reason` one of Stripe's three, `amount` a positive integer that the payment's
  currency can take (its own table of Stripe's currency rules below, not the portal's), metadata
  within Stripe's limits. A request that fails validation keeps nothing for its key, as at Stripe,
  where it never reached the endpoint.
- Idempotency: the first answer to a key is kept and replayed (with `Idempotent-Replayed: true`)
  to any later request with that key, 500s included: a 500 from the endpoint is kept like any
  answer. Only errors before the endpoint (429, a 503 at Stripe's edge, an invalid request) keep
  nothing. The same key with other parameters is a 400 `idempotency_error`; a request while
  another with its key is still being answered is a 409 (`idempotency_key_in_use`); a key is
  forgotten 24 hours after its first use, by the fake's clock (`clock_advance`), so the same key
  after that is a new request.
- Refunds take Stripe's statuses: `pending`, `requires_action`, `succeeded`, `failed`, `canceled`.
- Its list of refunds (`GET /v1/refunds`) pages as Stripe's does: newest first, `limit` (1 to 100,
  default 10) to a page, `starting_after` the last id of the page before, `has_more` while any
  remain, `charge`/`payment_intent` to list one payment's; the parameters are checked as strictly.
"""

import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass
from itertools import count

from werkzeug import Request, Response

API_KEY = "sk_test_portal_51Hx"
WEBHOOK_SECRET = "whsec_test_portal"

# The oldest API version the portal may speak: before it, Stripe sends no `refund.*` events for
# charge refunds, so refunds made in the Dashboard and late failures would never reach the portal.
OLDEST_API_VERSION = "2024-10-28"
API_VERSION_FORMAT = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[a-z]+)?$")

# Stripe's reasons for a refund; anything else is refused (the portal's own "other" travels in metadata).
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")
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

# Metadata (Stripe's API reference, "Metadata"): up to 50 keys, keys up to 40 characters and
# without square brackets, values up to 500 characters.
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
IDEMPOTENCY_KEY_MAX_LENGTH = 255
# Stripe keeps a key's first answer for (at least) 24 hours; the fake forgets it at 24 hours.
IDEMPOTENCY_KEY_WINDOW_SECONDS = 24 * 3600

# Stripe's currency rules (docs.stripe.com/currencies), stated here for the fake alone: a fake that
# took the portal's table would agree with the portal's mistakes. Amounts are in the currency's
# minor unit as Stripe counts it:
# - zero-decimal currencies: the amount is whole units (¥500 is 500); any positive integer;
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
# - three-decimal currencies: thousandths, and the last digit must be 0 (5.124 KWD cannot be sent);
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# - ISK: two decimals in the API, but whole krónur only (a multiple of 100) since April 2023;
WHOLE_UNITS_IN_CENTS_CURRENCIES = frozenset({"isk"})
# - HUF and TWD: two decimals in the API, fractions allowed for charges and refunds (only payouts
#   must be whole units); every other currency: two decimals.

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
    headers = {"Request-Id": f"req_Fake{next(_ids):010d}"} | (headers or {})
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


def api_version_problem(version: str | None) -> tuple[int, dict] | None:
    """The 400 for a request without a pinned API version, or one older than the portal needs."""
    if not version:
        return stripe_error(
            400,
            "invalid_request_error",
            "FakeStripe: no Stripe-Version header; the portal must pin the API version it was written for.",
        )
    matched = API_VERSION_FORMAT.match(version)
    if matched is None:
        return stripe_error(400, "invalid_request_error", f"Invalid Stripe API version: {version}")
    if matched.group(1) < OLDEST_API_VERSION:
        return stripe_error(
            400,
            "invalid_request_error",
            f"FakeStripe: API version {version} is older than {OLDEST_API_VERSION}, the first that sends "
            "refund.* events for charge refunds.",
        )
    return None


def currency_amount_problem(amount: int, currency: str) -> tuple[int, dict] | None:
    """Stripe's 400 for an amount the currency cannot take, or None."""
    currency = currency.lower()
    if currency in THREE_DECIMAL_CURRENCIES and amount % 10:
        return stripe_error(
            400,
            "invalid_request_error",
            f"Invalid amount: {currency.upper()} is a three-decimal currency and its amounts must end in 0 "
            f"(got {amount}).",
            "parameter_invalid",
            "amount",
        )
    if currency in WHOLE_UNITS_IN_CENTS_CURRENCIES and amount % 100:
        return stripe_error(
            400,
            "invalid_request_error",
            f"Invalid amount. Currency {currency.upper()} has become effectively zero-decimal and charged amounts "
            "must be evenly divisible by 100. See https://stripe.com/docs/currencies#special-cases for more "
            "information.",
            "invalid_charge_amount_no_decimal_compatible",
            "amount",
        )
    return None


def metadata_problem(params: dict[str, str]) -> tuple[int, dict] | None:
    """Stripe's 400 for metadata beyond its limits, or None."""

    def invalid(message: str) -> tuple[int, dict]:
        return stripe_error(400, "invalid_request_error", message, "parameter_invalid", "metadata")

    keys = [name[len("metadata[") : -1] for name in params if name.startswith("metadata[") and name.endswith("]")]
    if len(keys) > METADATA_MAX_KEYS:
        return invalid(
            f"Invalid metadata: metadata can have up to {METADATA_MAX_KEYS} keys, but {len(keys)} were sent."
        )
    for key in keys:
        if "[" in key or "]" in key:
            return invalid(f"Invalid metadata: keys cannot contain '[' or ']' (got {key!r}).")
        if len(key) > METADATA_MAX_KEY_LENGTH:
            return invalid(f"Invalid metadata: keys can be up to {METADATA_MAX_KEY_LENGTH} characters long.")
        if len(params[f"metadata[{key}]"]) > METADATA_MAX_VALUE_LENGTH:
            return invalid(f"Invalid metadata: values can be up to {METADATA_MAX_VALUE_LENGTH} characters long.")
    return None


def refund_create_problem(params: dict[str, str], currency: str = "usd") -> tuple[int, dict] | None:
    """Stripe's 400 for create-refund parameters it would refuse (on a payment in `currency`), or
    None when they are valid."""

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
    if problem := currency_amount_problem(int(params["amount"]), currency):
        return problem
    return metadata_problem(params)


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


@dataclass
class Kept:
    """What Stripe keeps for an idempotency key: the first request's parameters and its answer."""

    params: dict[str, str]
    status: int
    body: dict
    at: float  # when the key was first used, by the fake's clock


class FakeStripe:
    """Stripe's Refunds API, as far as the portal uses it, on pytest-httpserver.

    `faults` are what the next create requests meet, first to last:
    - "500": the endpoint began and failed, making nothing; the 500 is kept for the key and
      replayed to every request with it (Stripe's rule), until the key expires;
    - "500_refunded": the endpoint made the refund and then failed: the refund exists at Stripe
      (listed, retrievable), and the 500 is what is kept and replayed for the key;
    - "503", "429": an error at Stripe's edge, before the endpoint: nothing is kept, so the same
      key sent again is a new attempt;
    - "already_refunded", "card_declined", "no_such_payment": Stripe's refusal, kept for the key;
    - "hold": Stripe makes the refund and keeps the answer, but holds the response until the test
      calls `release()` (the portal's read timeout expires first, unless it waits long enough);
      meanwhile the key is in use: another request with it gets a 409.
    A request with invalid parameters is refused before any fault is used up.
    New refunds get the status `refund_status`; tests change `refunds[id]` to move them on, or
    add one (`stripe_refund(...)`) as if made in Stripe's Dashboard. `payment(...)` tells the fake a
    payment's currency (and amount, to refuse a refund of more than remains); unknown payments are
    in USD. `clock_advance(...)` moves the fake's clock (refunds' `created`, keys' expiry).
    """

    def __init__(self, server):
        self.server = server
        self.refunds: dict[str, dict] = {}
        self.kept: dict[str, Kept] = {}  # Idempotency-Key → what Stripe keeps for it
        self.payments: dict[str, dict] = {}  # a payment's id → {"currency": "usd", "amount": int | None}
        self.faults: list[str] = []
        self.refund_status = "succeeded"
        self.clock_offset = 0.0  # seconds the fake's clock is ahead of the real one
        # How long a "hold" keeps its answer back unless released (past the portal's read timeout).
        self.hold_seconds = 10.0
        self.held = threading.Event()  # set when a "hold" request has arrived
        self._release = threading.Event()
        # The server answers each request in its own thread: one request at a time reads and
        # writes what Stripe keeps (a held answer waits outside it, its key marked in use).
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self.in_use: set[str] = set()  # keys whose request is still being answered
        server.expect_request("/v1/refunds", method="POST").respond_with_handler(self._create)
        server.expect_request("/v1/refunds", method="GET").respond_with_handler(self._list)
        server.expect_request(re.compile(r"^/v1/refunds/[A-Za-z0-9_]+$"), method="GET").respond_with_handler(
            self._retrieve
        )

    # What a test steers.

    def now(self) -> float:
        return time.time() + self.clock_offset

    def clock_advance(self, *, hours: float = 0, minutes: float = 0, seconds: float = 0) -> None:
        self.clock_offset += hours * 3600 + minutes * 60 + seconds

    def payment(self, gateway_id: str, *, currency: str, amount: int | None = None) -> None:
        """A payment Stripe knows, in `currency` (and of `amount`, when given: a refund of more
        than remains on it is refused, as at Stripe)."""
        self.payments[gateway_id] = {"currency": currency.lower(), "amount": amount}

    def release(self) -> None:
        """Let held answers go, and wait until they are sent (their keys free again)."""
        self._release.set()
        with self._answered:
            self._answered.wait_for(lambda: not self.in_use, timeout=5)

    # What a test reads.

    def creates(self) -> list[Request]:
        return [request for request, _ in self.server.log if request.method == "POST"]

    def create_answers(self) -> list[tuple[int, dict, dict]]:
        """Each create request's answer as sent: (status, body, headers)."""
        return [
            (response.status_code, json.loads(response.get_data()), dict(response.headers))
            for request, response in self.server.log
            if request.method == "POST"
        ]

    def lookups(self) -> list[Request]:
        """Requests for one refund (`GET /v1/refunds/<id>`)."""
        return [request for request, _ in self.server.log if request.method == "GET" and request.path != "/v1/refunds"]

    def listings(self) -> list[Request]:
        """Requests for a page of the list of refunds (`GET /v1/refunds`)."""
        return [request for request, _ in self.server.log if request.method == "GET" and request.path == "/v1/refunds"]

    # Stripe.

    def _create(self, request: Request) -> Response:
        if problem := api_version_problem(request.headers.get("Stripe-Version")):
            return _json(problem[1], problem[0])
        key = request.headers.get("Idempotency-Key", "")
        with self._lock:
            status, body, headers, fault = self._create_answer(request, key)
        if fault == "hold":
            self.held.set()
            self._release.wait(timeout=self.hold_seconds)
            with self._answered:
                self.in_use.discard(key)
                self._answered.notify_all()
        return _json(body, status, headers)

    def _create_answer(self, request: Request, key: str) -> tuple[int, dict, dict, str]:
        params = request.form.to_dict()
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            status, body = stripe_error(
                400,
                "invalid_request_error",
                f"Invalid idempotency key: it can be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters long.",
            )
            return status, body, {}, ""
        if key in self.in_use:
            status, body = stripe_error(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotent Key (that probably means you "
                "submitted twice, and that's fine). Please try again later.",
                "idempotency_key_in_use",
            )
            return status, body, {}, ""
        kept = self.kept.get(key) if key else None
        if kept is not None and self.now() - kept.at >= IDEMPOTENCY_KEY_WINDOW_SECONDS:
            del self.kept[key]  # pruned: the same key now starts a new request
            kept = None
        if kept is not None:
            if kept.params != params:
                status, body = stripe_error(
                    400,
                    "idempotency_error",
                    f"Keys for idempotent requests can only be used with the same "
                    f"parameters they were first used with. Try using a key other than '{key}' if you meant "
                    "to execute a different request.",
                )
                return status, body, {}, ""
            return kept.status, kept.body, {"Idempotent-Replayed": "true"}, ""

        fault = self.faults[0] if self.faults else ""
        if fault in ("503", "429"):  # at Stripe's edge, before the idempotency layer: nothing kept
            self.faults.pop(0)
            if fault == "429":
                status, body = stripe_error(429, "invalid_request_error", "Too many requests", "rate_limit")
            else:
                status, body = stripe_error(503, "api_error", "Stripe is temporarily unavailable.")
            return status, body, {}, ""
        target = params.get("payment_intent") or params.get("charge", "")
        payment = self.payments.get(target, {"currency": "usd", "amount": None})
        problem = refund_create_problem(params, payment["currency"])
        if problem is not None:
            return *problem, {}, ""
        if fault:
            self.faults.pop(0)
        remaining = None
        if payment["amount"] is not None:
            taken = sum(
                refund["amount"]
                for refund in self.refunds.values()
                if target in (refund["payment_intent"], refund["charge"])
                and refund["status"] in ("pending", "requires_action", "succeeded")
            )
            remaining = payment["amount"] - taken
        if fault == "already_refunded" or remaining == 0:
            status, body = stripe_error(
                400, "invalid_request_error", f"Charge {target} has already been refunded.", "charge_already_refunded"
            )
        elif remaining is not None and int(params["amount"]) > remaining:
            status, body = stripe_error(
                400,
                "invalid_request_error",
                f"Refund amount ({params['amount']}) is greater than unrefunded amount on charge ({remaining})",
                "amount_too_large",
                "amount",
            )
        elif fault == "card_declined":
            status, body = stripe_error(402, "card_error", "Your card was declined.", "card_declined")
        elif fault == "no_such_payment":
            status, body = stripe_error(
                400, "invalid_request_error", f"No such payment_intent: '{target}'", "resource_missing"
            )
        elif fault == "500":
            status, body = stripe_error(500, "api_error", "An unknown error occurred")
        else:
            refund = self._refund_make(params, payment["currency"])
            self.refunds[refund["id"]] = refund
            status, body = 200, refund
            if fault == "500_refunded":
                status, body = stripe_error(500, "api_error", "An unknown error occurred")
        if key:  # without a key Stripe keeps nothing: the same request again is another refund
            self.kept[key] = Kept(params=params, status=status, body=body, at=self.now())
            if fault == "hold":
                self.in_use.add(key)
        return status, body, {}, fault

    def _refund_make(self, params: dict, currency: str) -> dict:
        if self.refund_status not in REFUND_STATUSES:
            raise ValueError(f"FakeStripe: {self.refund_status!r} is not one of Stripe's refund statuses.")
        refund_id = f"re_3Fake{next(_ids):06d}"
        return {
            "id": refund_id,
            "object": "refund",
            "amount": int(params["amount"]),
            "currency": currency,
            "charge": params.get("charge") or "ch_3FakeCharge",
            "payment_intent": params.get("payment_intent"),
            "reason": params.get("reason"),
            "status": self.refund_status,
            "failure_reason": None,
            "next_action": {"type": "display_details"} if self.refund_status == "requires_action" else None,
            "metadata": {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")},
            "created": int(self.now()),
        }

    def _list(self, request: Request) -> Response:
        if problem := api_version_problem(request.headers.get("Stripe-Version")):
            return _json(problem[1], problem[0])
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
        if problem := api_version_problem(request.headers.get("Stripe-Version")):
            return _json(problem[1], problem[0])
        with self._lock:
            refund = self.refunds.get(request.path.rsplit("/", 1)[1])
        if refund is None:
            return _json(stripe_error(404, "invalid_request_error", "No such refund", "resource_missing")[1], 404)
        return _json(refund)


# Webhooks: what Stripe posts to /webhooks/stripe/.


# The API version of the webhook endpoint the events are made for (the version the portal pins).
EVENT_API_VERSION = "2026-10-28.endive"


def stripe_event(
    event_type: str,
    data_object: dict,
    *,
    event_id: str = "",
    created: int | None = None,
    api_version: str = EVENT_API_VERSION,
) -> dict:
    """A Stripe event as an endpoint on `api_version` receives it."""
    return {
        "id": event_id or f"evt_3Test{next(_ids):06d}",
        "object": "event",
        "api_version": api_version,
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
