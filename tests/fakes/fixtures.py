"""The fakes as fixtures, registered for every test by the root conftest (`pytest_plugins`)."""

from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from procrastinate.contrib.django import app
from pytest_httpserver import HTTPServer

from tests.fakes.stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.fakes.twilio import PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, FakeTwilio
from tests.helpers import queue_clear


@pytest.fixture(scope="session")
def make_httpserver() -> Iterator[HTTPServer]:
    """pytest-httpserver's server, threaded: a request left hanging must not hold up the next one."""
    server = HTTPServer(host="localhost", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def stripe_api(httpserver: HTTPServer, settings) -> Iterator[FakeStripe]:
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


@pytest.fixture
def twilio(settings, httpserver: HTTPServer) -> Iterator[FakeTwilio]:
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


@pytest.fixture
def queue(transactional_db) -> Iterator[None]:
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
