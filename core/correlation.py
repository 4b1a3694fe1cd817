"""A correlation id per request, carried into ledger rows, audit events and logs.

Taken from an incoming `X-Request-ID` (a load balancer's) when it looks sane, else made here;
echoed on the response so a staff member's bug report can be matched to the rows it wrote.
The client's address and user agent ride along for the audit trail; the view's name and the
staff member's id ride along for the logs (`log_context`). A job enqueued by a request carries the
request's id, and the worker runs it inside `correlation_scope(that id)`, so the job's log lines,
ledger rows and audit events name the request that caused them.
"""

import ipaddress
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.text import text_clean

_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_current: ContextVar[str] = ContextVar("correlation_id", default="")
_client: ContextVar[tuple[str | None, str]] = ContextVar("client", default=(None, ""))
# (view name, staff id) of the current request, once known: set by the request metrics middleware.
_request_view: ContextVar[tuple[str, str]] = ContextVar("request_view", default=("", ""))


def correlation_id() -> str:
    """The current request's id, or "" outside a request (commands, workers)."""
    return _current.get()


def request_client() -> tuple[str | None, str]:
    """The current request's client address and user agent, or (None, "") outside a request."""
    return _client.get()


def correlation_id_sane(value: str) -> bool:
    """Whether `value` may be used as a correlation id (taken from a header or a job's arguments)."""
    return bool(_SANE.match(value or ""))


@contextmanager
def correlation_scope(value: str) -> Iterator[None]:
    """Run a block (a queue job) under a correlation id carried from the request that caused it;
    an insane or empty one is replaced by a fresh id, so every job's lines can still be told apart."""
    token = _current.set(value if correlation_id_sane(value) else uuid.uuid4().hex)
    try:
        yield
    finally:
        _current.reset(token)


def correlation_job_kwargs() -> dict[str, str]:
    """The keyword arguments that carry the current request's id into a job it enqueues (none
    outside a request), for a task that runs itself under `correlation_scope(correlation_id)`."""
    value = _current.get()
    return {"correlation_id": value} if value else {}


def request_view_set(*, view: str, staff_id: str) -> None:
    """Name the current request's view and staff member for its log lines (reset with the request)."""
    _request_view.set((view, staff_id))


def log_context() -> dict[str, str]:
    """What a log line may say about where it was written: request id, view, staff id (or "")."""
    view, staff_id = _request_view.get()
    return {"request_id": _current.get(), "view": view, "staff_id": staff_id}


def _client_address(request: HttpRequest) -> str | None:
    # Behind a proxy, the proxy's address is REMOTE_ADDR; trust X-Forwarded-For only when told to.
    # Stored as an `inet`: anything that is not an address is left out, never a failed insert.
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = _address(request.headers.get("X-Forwarded-For", "").split(",")[0])
        if forwarded:
            return forwarded
    return _address(request.META.get("REMOTE_ADDR", ""))


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


# Headers that are stored (the audit trail, the login lockout's attempts): cleaned at the door, for
# every reader, so that whatever a client sends (NUL, control characters, a megabyte) can neither
# fail an insert nor, by failing it, skip the lockout or the audit record.
STORED_HEADERS = {"HTTP_USER_AGENT": 300}


def _stored_headers_clean(request: HttpRequest) -> None:
    for key, max_length in STORED_HEADERS.items():
        if key in request.META:
            request.META[key] = text_clean(request.META[key], max_length=max_length)
    request.__dict__.pop("headers", None)  # `request.headers` is read from META once, then cached


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _stored_headers_clean(request)
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _SANE.match(incoming) else uuid.uuid4().hex
        token = _current.set(value)
        client = _client.set((_client_address(request), request.META.get("HTTP_USER_AGENT", "")))
        view = _request_view.set(("", ""))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
            _client.reset(client)
            _request_view.reset(view)
        response["X-Request-ID"] = value
        return response
