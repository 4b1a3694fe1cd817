"""`make run` holds a burst: 60 concurrent requests, 5 times over, against the web server that
Procfile.dev starts (run as honcho runs it), every one answered, and PostgreSQL connections
bounded by the server's workers x threads rather than growing with each burst."""

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.db import connection

from accounts.roles import FINANCE
from tests.factories import StaffFactory
from tests.processes import environment, free_port, login, wait_ready

CLIENTS = 60
BURSTS = 5
WEB_CONCURRENCY = 2
THREADS = 4


def database_connections() -> int:
    """Connections to the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_web_server_of_make_run_answers_every_request_of_repeated_bursts(processes):
    StaffFactory(email="finance@statstak.test", roles=[FINANCE])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    honcho = str(Path(sys.executable).parent / "honcho")
    env = environment() | {"PORT": str(port), "WEB_CONCURRENCY": str(WEB_CONCURRENCY), "GUNICORN_THREADS": str(THREADS)}
    processes.start("make-run-web", [honcho, "start", "-f", "Procfile.dev", "web"], env)
    wait_ready(base, processes, time.monotonic() + 60)
    session = login(base)
    cookies = session.cookies.get_dict()

    def fetch(index: int) -> int | str:
        try:
            url = f"{base}/users/?q=a{index % 7}" if index % 2 else f"{base}/readyz"
            return requests.get(url, cookies=cookies, timeout=60).status_code
        except requests.RequestException as error:
            return type(error).__name__

    connections = []
    for _ in range(BURSTS):
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answers = list(pool.map(fetch, range(CLIENTS)))
        assert answers == [200] * CLIENTS, (answers, processes.logs())
        connections.append(database_connections())
    # Each gunicorn thread keeps at most one connection: the bound holds burst after burst.
    assert max(connections) <= WEB_CONCURRENCY * THREADS, connections
