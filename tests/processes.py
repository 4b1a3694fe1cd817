"""Real processes for tests where the fault, or the fix, is a process: gunicorn, the development
server, queue workers, on the test database (or a PostgreSQL of their own)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection

from statstak.database import EMBEDDED_DATABASE, embedded_start, embedded_stop
from tests.factories import STAFF_PASSWORD


def database_url() -> str:
    """The test database, as a URL the subprocesses' settings read (a socket directory works too)."""
    db = connection.settings_dict
    host = quote(str(db["HOST"] or "localhost"), safe="")
    password = quote(str(db["PASSWORD"] or ""), safe="")
    return f"postgres://{quote(str(db['USER']), safe='')}:{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STRIPE_", "STATSTAK_TEST"))}
    env.update(
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="statstak.settings",
        STATSTAK_ENV="development",
        DJANGO_DEBUG="false",
        LOG_LEVEL="INFO",
        # Finance submits faster here than any person: the guard rails are not what is tested.
        REFUND_RATE_LIMIT_PER_MINUTE="100000",
        # Each web process: 2 workers x 2 threads, a fraction of the production sizing.
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        QUEUE_WORKER_CONCURRENCY="2",
    )
    return env


class Processes:
    """Subprocesses with their logs; every one is ended, whatever happens."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Path:
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(  # noqa: S603  (our own command line)
                command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.running.append((name, process))
        return log

    def stop(self, name: str) -> None:
        for each, process in self.running:
            if each == name and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def stop_all(self) -> None:
        for name, _ in self.running:
            self.stop(name)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.tmp_path.glob("*.log"))


def wait_ready(base: str, processes: Processes, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still starting its workers
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} never became ready\n{processes.logs()}")


@pytest.fixture
def processes(tmp_path):
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def login(base: str, email: str = "finance@statstak.test") -> requests.Session:
    """A real login through the login page of one web process."""
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        {"username": email, "password": STAFF_PASSWORD},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base}/login/"},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    return session


@dataclass
class PrivatePostgres:
    pgdata: Path
    url: str

    def stop(self) -> None:
        embedded_stop(self.pgdata)

    def start(self) -> None:
        embedded_start(self.pgdata)


@pytest.fixture
def private_postgres():
    """A PostgreSQL server of the test's own (embedded, in a temporary folder), to stop and start
    under real processes without touching the server every other test uses. Empty: migrate it."""
    folder = Path(tempfile.mkdtemp(prefix="statstak-pg-", dir="/tmp"))
    folder.chmod(0o755)  # as root, the server runs as its own user and must reach its folder
    server = PrivatePostgres(pgdata=folder / "data", url="")
    info = embedded_start(server.pgdata)
    server.url = f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{EMBEDDED_DATABASE}"
    try:
        yield server
    finally:
        embedded_stop(server.pgdata)
        shutil.rmtree(folder, ignore_errors=True)
