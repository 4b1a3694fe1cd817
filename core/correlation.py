"""A correlation id per request, carried into ledger rows, audit events and logs.

Taken from an incoming `X-Request-ID` (a load balancer's) when it looks sane, else made here;
echoed on the response so a staff member's bug report can be matched to the rows it wrote.
The client's address and user agent ride along for the audit trail.
"""

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_current: ContextVar[str] = ContextVar("correlation_id", default="")
_client: ContextVar[tuple[str | None, str]] = ContextVar("client", default=(None, ""))


def correlation_id() -> str:
    """The current request's id, or "" outside a request (commands, workers)."""
    return _current.get()


def request_client() -> tuple[str | None, str]:
    """The current request's client address and user agent, or (None, "") outside a request."""
    return _client.get()


def _client_address(request: HttpRequest) -> str | None:
    # Behind a proxy, the proxy's address is REMOTE_ADDR; trust X-Forwarded-For only when told to.
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _SANE.match(incoming) else uuid.uuid4().hex
        token = _current.set(value)
        client = _client.set((_client_address(request), request.headers.get("User-Agent", "")[:300]))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
            _client.reset(client)
        response["X-Request-ID"] = value
        return response
