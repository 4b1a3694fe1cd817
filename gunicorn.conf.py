"""gunicorn, the portal's production web server: `gunicorn statstak.wsgi` reads this file.

Sized from the machine it runs on, every number overridable from the environment:

- workers: 2 x CPUs + 1 processes (gunicorn's own advice): while one waits on PostgreSQL another
  runs Python, and a crashed or recycled one leaves the others serving.
- threads: 4 per process (`gthread`): a request waiting on Stripe (up to STRIPE_TIMEOUT_SECONDS)
  holds a thread, not a whole process, so a slow gateway cannot starve the Users search.

Each thread keeps its own PostgreSQL connection (CONN_MAX_AGE), so one machine holds at most
workers x threads connections: 5 x 4 = 20 on 2 CPUs. README (Deployment) adds up the budget
against PostgreSQL's `max_connections`.

Metrics (/metrics): every worker process counts requests in its own memory, so prometheus_client's
multiprocess mode keeps them in files of PROMETHEUS_MULTIPROC_DIR (a folder per portal on this machine,
made here when unset), added up at each scrape. The folder is emptied when gunicorn starts; a queue worker
on the same machine given the same folder is counted in the same answer (core/metrics.py).

Stopping: on SIGTERM gunicorn stops accepting connections and gives requests in flight
GUNICORN_GRACEFUL_TIMEOUT seconds to finish before it kills the workers (docs/runbook.md, "Stopping").

Static files are served by WhiteNoise inside the application (after `collectstatic`): nothing else
needs to run beside these processes, and any number of machines can run them behind one load
balancer, all stateless (sessions, jobs and locks live in PostgreSQL).
"""

import os
import re
import tempfile

from statstak.environment import env_bool, env_choice, env_int, env_str


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this container may use, not the host's
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


bind = [env_str("GUNICORN_BIND") or f"0.0.0.0:{env_int('PORT', 8000, minimum=1, maximum=65535)}"]

# Before the application is imported (prometheus_client reads it then), and inherited by every worker.
if not env_str("PROMETHEUS_MULTIPROC_DIR"):
    _address = re.sub(r"[^A-Za-z0-9]+", "-", bind[0]).strip("-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(tempfile.gettempdir(), f"statstak-metrics-{_address}")
workers = env_int("WEB_CONCURRENCY", 2 * _cpus() + 1, minimum=1)
worker_class = "gthread"
threads = env_int("GUNICORN_THREADS", 4, minimum=1)

# A request that takes longer than this is killed with its worker: above the gateway's timeout
# and its one retry (STRIPE_TIMEOUT_SECONDS, 10 s each), well under a load balancer's.
timeout = env_int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (a deploy, a scale-in) requests in flight get this long to finish.
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Longer than a load balancer's idle timeout (60 s on the common ones), so that the balancer,
# not gunicorn, closes idle connections: otherwise it may send a request on one being closed (502).
keepalive = env_int("GUNICORN_KEEPALIVE", 75)
# Recycle each process after about this many requests: a slow leak never becomes an outage.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# `make run` restarts the workers when code changes (GUNICORN_RELOAD). Otherwise Django is imported
# once in the master: workers start (and restart) fast, and a broken release fails at start-up,
# before it takes traffic. Nothing connects to PostgreSQL at import time.
reload = env_bool("GUNICORN_RELOAD", False)
preload_app = not reload
# The workers' heartbeat files in memory, not on a container's overlay disk (which can stall them).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Logs: to stdout/stderr, for the platform to collect. The access log has the path without its
# query string: a search (`?q=maria`) would otherwise put customer names in the logs. With the
# request id (echoed by the portal as X-Request-ID) and the time taken in milliseconds.
accesslog = "-"
errorlog = "-"
loglevel = env_choice("GUNICORN_LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical"))
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms id=%({x-request-id}o)s'

# LOG_FORMAT=json (statstak/settings.py): gunicorn's own lines as JSON objects too, and no access line: the
# portal's request line (statstak.request) says the same, with the view and the staff member.
if env_choice("LOG_FORMAT", "plain", ("plain", "json")) == "json":
    accesslog = None
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": ["json_console"]},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
        "handlers": {
            "json_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["mask_phone_numbers"],
                "stream": "ext://sys.stderr",
            }
        },
        "filters": {"mask_phone_numbers": {"()": "core.log_masking.PhoneNumberMaskingFilter"}},
        "formatters": {"json": {"()": "core.log_format.JsonLogFormatter"}},
    }


def on_starting(server) -> None:
    # Counts of an earlier run (or of its dead workers) must not be added to this one's.
    from core.metrics import metrics_folder_clean

    metrics_folder_clean()


def child_exit(server, worker) -> None:
    # What a dead worker counted stays in its files (counters must not go back); only its live gauges go.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def when_ready(server) -> None:
    server.log.info(
        "statstak: %d workers x %d threads: at most %d PostgreSQL connections from this machine",
        server.cfg.workers,
        server.cfg.threads,
        server.cfg.workers * server.cfg.threads,
    )
