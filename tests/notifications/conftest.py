"""SMS test fixtures: Twilio played by a local HTTP server, and a real queue worker."""

import json
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://portal.example.com"
SEND_TASK = "notifications.sms_send"

Answer = Callable[[Request], Response]


def accept(request: Request) -> Response:
    """Twilio's 201 for a message it took."""
    payload = {
        "sid": "SM" + uuid.uuid4().hex,
        "account_sid": TWILIO_ACCOUNT_SID,
        "to": request.form.get("To"),
        "from": request.form.get("From"),
        "messaging_service_sid": request.form.get("MessagingServiceSid"),
        "body": request.form.get("Body"),
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
    }
    return Response(json.dumps(payload), status=201, content_type="application/json")


def error(status: int, code: int | None = None, message: str = "") -> Answer:
    """Twilio's error document (or, with no code, a bare error page as from a proxy)."""

    def answer(request: Request) -> Response:
        if code is None:
            return Response("<html>Internal Server Error</html>", status=status, content_type="text/html")
        payload = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return Response(json.dumps(payload | {"status": status}), status=status, content_type="application/json")

    return answer


def hang(seconds: float) -> Answer:
    """No answer in time: the client gives up first (then a 504, which nobody reads)."""

    def answer(request: Request) -> Response:
        time.sleep(seconds)
        return Response("gateway timeout", status=504)

    return answer


class FakeTwilio:
    """Twilio's Messages API on a local server: gives the queued answers in order, then accepts."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.path = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []  # every request, as it arrived (answered or not)
        self.accepted: list[dict] = []  # the form of every message answered with a 201
        server.expect_request(self.path, method="POST").respond_with_handler(self._handle)

    def will_answer(self, *answers: Answer) -> None:
        self._answers.extend(answers)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            _ = request.form  # parsed now, while the request is open, to be read after it is answered
            self.requests.append(request)
            answer = self._answers.pop(0) if self._answers else accept
        response = answer(request)
        if response.status_code == 201:
            with self._lock:
                self.accepted.append(dict(request.form) | {"sid": json.loads(response.get_data())["sid"]})
        return response


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's server, threaded: a request left hanging must not hold up the next one."""
    server = HTTPServer(host="localhost", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def twilio(settings, httpserver: HTTPServer) -> FakeTwilio:
    """The Twilio backend, its SDK talking to a local server; retries due at once unless a test says otherwise."""
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = TWILIO_ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = TWILIO_FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = httpserver.url_for("/")
    settings.TWILIO_TIMEOUT_SECONDS = 5
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.SMS_SEND_MAX_ATTEMPTS = 4
    settings.SMS_RETRY_BACKOFF_SECONDS = 0
    fake = FakeTwilio(httpserver)
    yield fake
    httpserver.check_assertions()  # no request the fake did not expect


def queue_clear() -> None:
    # The queue's tables are not Django-managed, so the transactional tests' flush skips them.
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, procrastinate_workers"
            " RESTART IDENTITY CASCADE"
        )


@pytest.fixture
def queue(transactional_db):
    """Committed data, and a queue emptied before and after the test."""
    queue_clear()
    yield
    queue_clear()


@pytest.fixture
def run_worker(queue) -> Callable[[], None]:
    """A real worker, in this process, until no job is due: `manage.py procrastinate worker --one-shot`."""

    def run() -> None:
        # Jobs run in the worker's threads, each with its own Django connection: close them after
        # each job, so none is left open on the test database when it is dropped.
        conn_max_age = connection.settings_dict["CONN_MAX_AGE"]
        connection.settings_dict["CONN_MAX_AGE"] = 0
        try:
            with app.replace_connector(app.connector.get_worker_connector()):
                # One job at a time, so that a retry due at once is run before the worker stops.
                app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False, concurrency=1)
        finally:
            connection.settings_dict["CONN_MAX_AGE"] = conn_max_age

    return run


def send_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=SEND_TASK).order_by("id"))


def jobs_make_due() -> None:
    """Time travel for backoff: jobs waiting for a later retry become due now."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")
