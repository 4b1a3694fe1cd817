"""`/metrics`: for a Prometheus server holding METRICS_TOKEN, and nobody else.

No token configured: the page does not exist (404), whoever asks and whatever they send. A token
configured: only `Authorization: Bearer <that token>` gets the metrics; no header, another scheme,
a wrong token (even one that shares its first characters), or a logged-in staff session gets 401
and no metric. The token's setting is strict: a short one stops the portal at start-up.
"""

import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from tests.helpers import METRICS_TOKEN


@pytest.fixture
def token_set(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN


def _get(client, authorization: str | None = None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get("/metrics", headers=headers)


@pytest.mark.django_db
def test_it_does_not_exist_when_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    assert _get(client).status_code == 404
    assert _get(client, "Bearer ").status_code == 404
    assert _get(client, f"Bearer {METRICS_TOKEN}").status_code == 404


@pytest.mark.django_db
def test_it_answers_the_right_token_with_the_metrics(client, token_set):
    response = _get(client, f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    assert "statstak_metrics_database_up 1.0" in body
    assert "# TYPE statstak_http_request_duration_seconds histogram" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token",
        f"Bearer {METRICS_TOKEN[:-1]}",  # all but the last character
        f"Bearer {METRICS_TOKEN}x",
        f"Basic {METRICS_TOKEN}",
        METRICS_TOKEN,
        "Bearer ünïcødé-tøken",
    ],
)
def test_it_refuses_a_missing_or_wrong_token(client, token_set, authorization):
    response = _get(client, authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"statstak_" not in response.content


@pytest.mark.django_db
def test_a_staff_session_is_not_a_token(staff_client, token_set):
    response = _get(staff_client)
    assert response.status_code == 401
    assert b"statstak_" not in response.content


@pytest.mark.django_db
def test_it_takes_only_get(client, token_set):
    response = client.post("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 405


def _settings_load(**env: str) -> subprocess.CompletedProcess:
    script = "import django; django.setup()"
    return subprocess.run(  # noqa: S603  (our own command line)
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "statstak.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_short_token_stops_the_portal_at_start_up():
    assert _settings_load(METRICS_TOKEN=METRICS_TOKEN).returncode == 0  # else the check below proves nothing
    refused = _settings_load(METRICS_TOKEN="short-token")
    assert refused.returncode != 0
    assert "METRICS_TOKEN is too short" in refused.stderr
