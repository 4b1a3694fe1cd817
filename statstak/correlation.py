"""A correlation id per request, carried into ledger rows and logs.

Taken from an incoming `X-Request-ID` (a load balancer's) when it looks sane, else made here;
echoed on the response so a staff member's bug report can be matched to the rows it wrote.
"""

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_current: ContextVar[str] = ContextVar("correlation_id", default="")


def correlation_id() -> str:
    """The current request's id, or "" outside a request (commands, workers)."""
    return _current.get()


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _SANE.match(incoming) else uuid.uuid4().hex
        token = _current.set(value)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = value
        return response
