"""Path traversal and other bad URLs answer 4xx, never 500, on the development server (what
`make run` starts) as on gunicorn (production): both are started for real."""

import sys
import time
from pathlib import Path

import pytest
import requests

from tests.processes import environment, free_port, wait_ready

TRAVERSALS = [
    "/static/../manage.py",
    "/static/..%2fmanage.py",
    "/static/%2e%2e/manage.py",
    "/static/%2e%2e%2fmanage.py",
    "/static/css/../../statstak/settings.py",
    "/static/..\\manage.py",
    "/static/%00",
    "/static/css/portal.css%00",
    "/%2e%2e/%2e%2e/etc/passwd",
]
# Not files: an anonymous visitor is sent to the login page (302) or told no (4xx), never a 500.
ODD_URLS = [
    "/users/%00/",
    "/users/99999999999999999999999/",
    "/login/?next=%00",
]


def servers() -> dict[str, list[str]]:
    python = sys.executable
    return {
        "runserver": [python, "manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
        "gunicorn": [str(Path(python).parent / "gunicorn"), "-c", "gunicorn.conf.py", "statstak.wsgi"],
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server", ["runserver", "gunicorn"])
def test_bad_urls_answer_4xx_on_every_server(processes, server):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [part.format(port=port) for part in servers()[server]]
    env = environment() | {"DJANGO_DEBUG": "true", "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
    processes.start(server, command, env)
    wait_ready(base, processes, time.monotonic() + 60)

    # Else a server that 404s everything would pass: the stylesheet is served.
    assert requests.get(f"{base}/static/css/portal.css", timeout=10).status_code == 200
    answers = {}
    for path in TRAVERSALS + ODD_URLS:
        # A prepared request keeps the path as written (requests would resolve the dot segments).
        session = requests.Session()
        prepared = session.prepare_request(requests.Request("GET", base + "/"))
        prepared.url = base + path
        answers[path] = session.send(prepared, timeout=10, allow_redirects=False).status_code
    assert {path: answers[path] for path in TRAVERSALS} == dict.fromkeys(TRAVERSALS, 404), processes.logs()
    assert {path: status for path, status in answers.items() if status >= 500} == {}, processes.logs()
