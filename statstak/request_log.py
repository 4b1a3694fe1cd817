"""One log line per request, safe to keep: what was asked, how it went, by which staff member.

    GET /users/42/payments/ 200 12.3ms request_id=3f2a… staff=7

Only the method, the path (never the query string: it holds search terms), the status, the
duration, the correlation id (`statstak/correlation.py`, also on the response as `X-Request-ID`)
and the staff member's id. Never a name, an email, a phone number, a body or a header. The same
fields ride on the record as `extra`, for a JSON formatter.
"""

import logging
import re
import time
from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

from core.correlation import correlation_id

logger = logging.getLogger("statstak.request")

# A request line's target, e.g. `"GET /users/?q=elijah HTTP/1.1"`: the query string goes.
_QUERY_STRING = re.compile(r"(\s/[^\s?\"]*)\?[^\s\"]*")


def _staff_id(request: HttpRequest) -> str:
    # The session's user id: no query, and set as soon as a login succeeds. Readable after a
    # logout too would be wrong, so a flushed session gives "-".
    session = getattr(request, "session", None)
    if session is None:
        return "-"
    return str(session.get(SESSION_KEY, "-"))


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 1),
            "request_id": correlation_id(),
            "staff_id": _staff_id(request),
        }
        level = logging.WARNING if response.status_code >= 500 else logging.INFO
        logger.log(
            level,
            "%s %s %s %.1fms request_id=%s staff=%s",
            fields["method"],
            fields["path"],
            fields["status"],
            fields["duration_ms"],
            fields["request_id"],
            fields["staff_id"],
            extra={"request_fields": fields},
        )
        return response


class QueryStringFilter(logging.Filter):
    """Drops query strings from request lines logged by others (runserver's `django.server`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _QUERY_STRING.sub(r"\1", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
