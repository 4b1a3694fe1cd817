"""Request count and latency per view, for Prometheus (`core.metrics.http_request_duration`).

The view is the URL's name as Django resolved it (`refund_create`, `user_list`), never the path:
`/users/42/` and `/users/43/` are one view, so the label takes as many values as there are URLs
in `statstak/urls.py`, plus "unmatched" for whatever resolves to nothing (scanners' 404s) and
"unnamed" for a URL without a name (the root's redirect).

Placed right after the correlation id middleware, so the time covers every other middleware
(sessions, login, CSRF) as well as the view. It also names the view and staff member for the
request's log lines (`core.correlation.log_context`).
"""

import time
from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

from core.correlation import request_view_set
from core.metrics import http_method_label, http_request_duration, http_status_label

UNMATCHED = "unmatched"
UNNAMED = "unnamed"


def view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.view_name if match.url_name else UNNAMED


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        http_request_duration.labels(
            view_label(request), http_method_label(request.method), http_status_label(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        # Called once the URL is resolved and the session loaded, before any view runs.
        session = getattr(request, "session", None)
        staff_id = str(session.get(SESSION_KEY, "")) if session is not None else ""
        request_view_set(view=view_label(request), staff_id=staff_id)
        return None
