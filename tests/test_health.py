"""/healthz and /readyz: what a load balancer and monitoring ask a web process."""

import json
from unittest import mock

import pytest
from django.db import OperationalError, connection, transaction

from notifications.services import sms_notify
from statstak import health
from tests.factories import CustomerFactory


@pytest.fixture(autouse=True)
def migrations_not_yet_checked():
    """Each test starts as a fresh process would: the migrations not yet found applied."""
    health._migrations_applied = False
    yield
    health._migrations_applied = False


def worker_heartbeat(seconds_ago: int = 0) -> None:
    """A queue worker's row as procrastinate keeps it, its last heartbeat `seconds_ago`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - make_interval(secs => %s))",
            [seconds_ago],
        )


@pytest.fixture
def live_worker(db):
    worker_heartbeat()


def answer(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


@pytest.mark.django_db
def test_readyz_answers_200_without_a_login_when_the_database_and_migrations_are_in_place(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = answer(response)
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "migrations": "ok"}


@pytest.mark.django_db
def test_healthz_also_reports_the_queue_workers_and_due_jobs(client, live_worker):
    with transaction.atomic():
        sms_notify(user=CustomerFactory(), body="Your refund is on its way.")

    response = client.get("/healthz")

    assert response.status_code == 200
    body = answer(response)
    assert body["checks"] == {"database": "ok", "migrations": "ok", "queue": "ok", "sms": "ok"}
    assert body["queue"]["workers"] == 1
    assert body["queue"]["last_worker_heartbeat_seconds"] < 5
    assert body["queue"]["due_jobs"] == 1
    assert body["queue"]["oldest_due_job_seconds"] >= 0


@pytest.mark.django_db
def test_neither_shows_customer_data(client):
    customer = CustomerFactory(email="private.person@example.com", phone="+12025550143")
    with transaction.atomic():
        sms_notify(user=customer, body="Your refund of $12.00 is on its way.")

    for url in ("/healthz", "/readyz"):
        content = client.get(url).content
        assert b"private.person" not in content
        assert b"202555" not in content
        assert b"refund" not in content


@pytest.mark.django_db
def test_readyz_is_503_until_the_migrations_are_applied(client):
    pending = [(mock.Mock(), False)]
    with mock.patch("statstak.health.MigrationExecutor.migration_plan", return_value=pending):
        response = client.get("/readyz")

    assert response.status_code == 503
    body = answer(response)
    assert body["status"] == "failing"
    assert body["failed"] == "1 migrations not applied"
    # Once applied, the next probe finds it (and the process remembers it from then on).
    assert client.get("/readyz").status_code == 200
    with mock.patch("statstak.health.MigrationExecutor") as executor:
        assert client.get("/readyz").status_code == 200
    executor.assert_not_called()


@pytest.mark.django_db
def test_both_are_503_naming_the_database_when_it_does_not_answer(client):
    with mock.patch("statstak.health._bounded_cursor", side_effect=OperationalError("connection refused")):
        ready, healthy = client.get("/readyz"), client.get("/healthz")

    for response in (ready, healthy):
        assert response.status_code == 503
        body = answer(response)
        assert body["failed"] == "database unreachable"
        assert b"connection refused" not in response.content  # the log has the details, not the answer


@pytest.mark.django_db
def test_healthz_is_503_naming_the_queue_when_its_tables_do_not_answer(client):
    with mock.patch("statstak.health.queue_check", side_effect=health.CheckFailed("queue unreachable")):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert answer(response)["checks"] == {"database": "ok", "migrations": "ok", "queue": "queue unreachable"}


@pytest.mark.django_db
def test_healthz_is_503_when_no_queue_worker_has_run(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = answer(response)
    assert body["checks"]["queue"] == body["failed"] == "no queue worker has run yet"
    assert body["queue"]["workers"] == 0
    # The web process itself is fine: the load balancer's check says so.
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_healthz_is_503_when_the_last_worker_went_quiet(client, settings):
    settings.QUEUE_WORKER_STALE_SECONDS = 60
    worker_heartbeat(seconds_ago=61)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert answer(response)["failed"].startswith("no queue worker seen for 6")


@pytest.mark.django_db
def test_healthz_is_200_again_once_a_worker_beats(client, settings):
    settings.QUEUE_WORKER_STALE_SECONDS = 60
    worker_heartbeat(seconds_ago=300)
    worker_heartbeat(seconds_ago=5)

    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_they_answer_when_the_portal_requires_two_factor_logins(client, settings, live_worker):
    settings.STATSTAK_REQUIRE_2FA = True

    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_they_are_not_cached(client):
    response = client.get("/readyz")

    assert "no-store" in response["Cache-Control"]


def test_it_rejects_post(client):
    assert client.post("/readyz").status_code == 405
    assert client.post("/healthz").status_code == 405
