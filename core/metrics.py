"""Metrics counted where things happen, for Prometheus: any room may import this module.

What is recorded here is what only the process that did it can know: how long a request or a
call to Stripe or Twilio took, how a call failed, how a webhook delivery was answered. Everything
the database already knows (refunds pending, messages queued, jobs waiting, the last books check)
is read from it at scrape time instead (`statstak/metrics_collector.py`), the same whichever
process is asked.

gunicorn runs several worker processes, and the queue worker is another: each counts in its own
memory, which a scrape of one of them would show alone. With PROMETHEUS_MULTIPROC_DIR set (as
gunicorn.conf.py and Procfile.dev do), prometheus_client keeps every process's values in files
of that folder, and `/metrics` adds them all up (its multiprocess mode): every process on the
machine, web and queue worker, appears in one answer, and a recycled worker's counts are kept.
The folder is emptied when gunicorn starts (`metrics_folder_clean`).

Label values are few and known in advance: a view's URL name, an HTTP method, a status class,
an error kind from a fixed list. Never a customer, an amount, a path or an exception's text.
"""

import contextlib
import functools
import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_folder() -> Path | None:
    """The folder processes share their values through, or None (one process: values in memory)."""
    value = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(value) if value else None


def metrics_folder_clean() -> None:
    """Empty the shared folder (gunicorn's master, at start): counts of an earlier run, and of
    processes that no longer exist, would otherwise be added to this run's for ever."""
    folder = metrics_folder()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)


# prometheus_client chooses between in-memory and file-backed values when it is imported, from the
# environment; the folder must exist before the first value is made.
if (_folder := metrics_folder()) is not None:
    _folder.mkdir(parents=True, exist_ok=True)

from prometheus_client import Counter, Histogram  # noqa: E402  (after the folder exists)

# Web pages answer in milliseconds; a refund waits on Stripe for up to its timeout and one retry.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
EXTERNAL_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)

http_request_duration = Histogram(
    "statstak_http_request_duration_seconds",
    "Time to answer a request, by view (its URL name), method and status class; _count is the number of requests.",
    ["view", "method", "status"],
    buckets=REQUEST_BUCKETS,
)
external_call_duration = Histogram(
    "statstak_external_call_duration_seconds",
    "Time a call to a payment gateway or SMS provider took, SDK retries included, by outcome (ok or error).",
    ["service", "operation", "outcome"],
    buckets=EXTERNAL_CALL_BUCKETS,
)
external_call_errors = Counter(
    "statstak_external_call_errors_total",
    "Calls to a payment gateway or SMS provider that failed, by kind (declined, unavailable, temporary, "
    "permanent, unexpected) and the SDK's error class behind it.",
    ["service", "operation", "kind", "cause"],
)
webhook_deliveries = Counter(
    "statstak_webhook_deliveries_total",
    "Webhook calls received, by source and how they were answered (accepted, refused, error).",
    ["source", "result"],
)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Domain errors by class name (core imports no room, so no class is imported here): what the
# portal did with the failure. Anything else is a bug or an SDK surprise: "unexpected".
ERROR_KINDS = {
    "GatewayDeclined": "declined",
    "GatewayUnavailable": "unavailable",
    "SmsTemporaryError": "temporary",
    "SmsPermanentError": "permanent",
}
# The SDK errors worth telling apart on a dashboard (the domain error's __cause__); others: "other".
ERROR_CAUSES = frozenset(
    {
        # stripe
        "APIConnectionError",
        "APIError",
        "AuthenticationError",
        "CardError",
        "IdempotencyError",
        "InvalidRequestError",
        "PermissionError",
        "RateLimitError",
        # twilio, and requests beneath it
        "TwilioRestException",
        "TwilioServiceException",
        "TwilioException",
        "Timeout",
        "ReadTimeout",
        "ConnectTimeout",
        "ConnectionError",
    }
)


def http_method_label(method: str | None) -> str:
    return method if method in HTTP_METHODS else "other"


def http_status_label(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def error_labels(error: BaseException) -> tuple[str, str]:
    """(kind, cause) of a failed call: both from fixed lists, never the error's text."""
    kind = ERROR_KINDS.get(type(error).__name__, "unexpected")
    cause = error.__cause__
    if cause is None:
        return kind, "none"
    name = type(cause).__name__
    return kind, name if name in ERROR_CAUSES else "other"


class external_call(contextlib.ContextDecorator):
    """Times a call to a gateway or SMS provider and counts its failures by kind.

    As a decorator (`@external_call("stripe", "refund_create")`) or a context manager. The
    exception goes on unchanged: this only watches it pass.
    """

    def __init__(self, service: str, operation: str) -> None:
        self.service = service
        self.operation = operation
        self.started = 0.0

    def _recreate_cm(self) -> "external_call":
        # One instance decorates a method shared by every thread: each call times itself.
        return type(self)(self.service, self.operation)

    def __call__(self, func: Callable) -> Callable:
        if inspect.isgeneratorfunction(func):  # a paginated list: timed until the last page is read

            @functools.wraps(func)
            def pages(*args, **kwargs):
                with self._recreate_cm():
                    yield from func(*args, **kwargs)

            return pages
        return super().__call__(func)

    def __enter__(self) -> "external_call":
        self.started = time.perf_counter()
        return self

    def __exit__(self, exc_type, error, traceback) -> bool:
        seconds = time.perf_counter() - self.started
        outcome = "ok" if error is None else "error"
        external_call_duration.labels(self.service, self.operation, outcome).observe(seconds)
        if error is not None and isinstance(error, Exception):
            kind, cause = error_labels(error)
            external_call_errors.labels(self.service, self.operation, kind, cause).inc()
        return False


def webhook_result_label(status: int) -> str:
    if 200 <= status < 300:
        return "accepted"
    if 400 <= status < 500:
        return "refused"
    return "error"


def webhook_observed(source: str) -> Callable:
    """Counts a webhook view's deliveries by how they were answered; an exception is an "error"."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def observed(request, *args, **kwargs):
            try:
                response = view(request, *args, **kwargs)
            except Exception:
                webhook_deliveries.labels(source, "error").inc()
                raise
            webhook_deliveries.labels(source, webhook_result_label(response.status_code)).inc()
            return response

        return observed

    return decorate


def metrics_http_serve(*, address: str, port: int, token: str) -> Callable[[], None]:
    """Serve this machine's counted values (PROMETHEUS_MULTIPROC_DIR) at http://address:port/metrics,
    to `Authorization: Bearer <token>` only, from a thread; returns the function that stops it.

    For a queue worker on a machine of its own (`queue_worker` with QUEUE_WORKER_METRICS_PORT): its
    calls to Twilio and Stripe are counted nowhere a web process can see. Only what processes
    counted is served here; the database's gauges come from the web's /metrics.
    """
    import hmac
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    folder = metrics_folder()
    if folder is None:
        raise ValueError(f"{MULTIPROC_ENV} must be set for the metrics to be served from another process.")

    def app(environ, start_response):
        scheme, _, offered = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found.\n"]
        if not (scheme.lower() == "bearer" and offered and hmac.compare_digest(offered.encode(), token.encode())):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"A valid bearer token is needed.\n"]
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry, path=str(folder))
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(registry)]

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args) -> None:  # one line per scrape is noise
            pass

    server = make_server(address, port, app, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
