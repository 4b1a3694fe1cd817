"""SMS queue benchmark: how fast workers drain a backlog, and how long a message waits.

    make bench-sms                                  # 10,000 messages, console then Twilio, one worker
    .venv/bin/python -m bench.sms --workers 2 --backend twilio --messages 10000

For each backend it enqueues the backlog with `sms_notify` (1,000 per transaction), starts real
workers (`manage.py procrastinate worker --one-shot`, separate processes) and reports messages per
second and enqueue-to-sent times. The Twilio backend runs the real SDK against a local server that
answers at once, so the numbers are the portal's own cost, not Twilio's. Then a steady-state run:
one worker waiting (LISTEN/NOTIFY), messages enqueued one by one at a fixed rate, and their
enqueue-to-sent times.

It works in its own database on the embedded server (`statstak_bench_sms`), never the portal's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BENCH_DATABASE = "statstak_bench_sms"
os.environ["STATSTAK_EMBEDDED_DATABASE"] = BENCH_DATABASE
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statstak.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
if os.environ.get("DATABASE_URL"):
    sys.exit("bench.sms runs on the embedded server's own benchmark database: unset DATABASE_URL.")

import django  # noqa: E402  (settings need the environment above)

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from accounts.models import User  # noqa: E402
from notifications.models import SmsMessage  # noqa: E402
from notifications.services import sms_notify  # noqa: E402

ACCOUNT_SID = "AC" + "0" * 32
OUT = Path(settings.BASE_DIR) / "bench" / "out"


class InstantTwilio(BaseHTTPRequestHandler):
    """Twilio's Messages API, answering every create with a 201 at once (keep-alive)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the second waits for the
    # client's delayed ACK (40 ms), and the benchmark would measure that instead of the portal.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"sid": "SM" + uuid.uuid4().hex, "account_sid": ACCOUNT_SID, "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def reset() -> list[User]:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, procrastinate_workers,"
            " notifications_smsmessage RESTART IDENTITY CASCADE"
        )
    users = list(User.objects.filter(email__endswith="@bench.statstak.test").order_by("pk"))
    for n in range(len(users), 100):
        users.append(User.objects.create_user(f"customer{n}@bench.statstak.test", phone=f"+1202555{n:04d}"))
    return users


def enqueue(users: list[User], count: int) -> float:
    started = time.perf_counter()
    for batch in range(0, count, 1000):
        with transaction.atomic():
            for n in range(batch, min(batch + 1000, count)):
                sms_notify(user=users[n % len(users)], body=f"Your refund #{n} of $12.00 is on its way.")
    return count / (time.perf_counter() - started)


def worker_environment(backend: str, twilio_url: str) -> dict[str, str]:
    env = os.environ | {"LOG_LEVEL": "WARNING", "DJANGO_DEBUG": "false"}
    if backend == "twilio":
        env |= {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "bench",
            "TWILIO_FROM_NUMBER": "+15005550006",
            "TWILIO_API_BASE_URL": twilio_url,
            "PUBLIC_BASE_URL": "https://portal.example.com",
        }
    else:
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            env.pop(name, None)
    return env


def start_workers(count: int, env: dict[str, str], *, one_shot: bool) -> list[subprocess.Popen]:
    command = [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "sms"]
    if one_shot:
        command.append("--one-shot")
    return [
        subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
        for _ in range(count)
    ]


def sent_times() -> list[tuple[float, float, float]]:
    rows = SmsMessage.objects.filter(status=SmsMessage.Status.SENT).values_list("created_at", "sent_at")
    return [(created.timestamp(), sent.timestamp(), (sent - created).total_seconds()) for created, sent in rows]


def drain(backend: str, users: list[User], count: int, workers: int, twilio_url: str) -> dict:
    reset()
    enqueue_rate = enqueue(users, count)
    started = time.time()
    processes = start_workers(workers, worker_environment(backend, twilio_url), one_shot=True)
    for process in processes:
        process.wait()
    elapsed = time.time() - started
    times = sent_times()
    if len(times) != count:
        sys.exit(f"{backend}: only {len(times)} of {count} messages were sent.")
    first_sent, last_sent = min(t[1] for t in times), max(t[1] for t in times)
    waits = [t[2] for t in times]
    return {
        "backend": backend,
        "workers": workers,
        "messages": count,
        "enqueue_per_second": round(enqueue_rate),
        "sent_per_second": round(count / (last_sent - first_sent)),
        "sent_per_second_with_startup": round(count / elapsed),
        "enqueue_to_sent_p50_s": round(percentile(waits, 50), 2),
        "enqueue_to_sent_p95_s": round(percentile(waits, 95), 2),
    }


def steady(backend: str, users: list[User], count: int, rate: float, twilio_url: str) -> dict:
    reset()
    [process] = start_workers(1, worker_environment(backend, twilio_url), one_shot=False)
    try:
        time.sleep(3)  # the worker's start-up, not part of what is measured
        for n in range(count):
            sms_notify(user=users[n % len(users)], body=f"Steady message #{n}.")
            time.sleep(1 / rate)
        deadline = time.time() + 60
        while SmsMessage.objects.filter(status=SmsMessage.Status.SENT).count() < count and time.time() < deadline:
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait()
    waits = [t[2] * 1000 for t in sent_times()]
    return {
        "backend": backend,
        "messages": count,
        "offered_per_second": rate,
        "sent": len(waits),
        "enqueue_to_sent_p50_ms": round(percentile(waits, 50), 1),
        "enqueue_to_sent_p95_ms": round(percentile(waits, 95), 1),
        "enqueue_to_sent_max_ms": round(max(waits), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--backend", choices=["console", "twilio", "both"], default="both")
    parser.add_argument("--steady", type=int, default=500, help="messages in the steady-state run (0: skip it)")
    parser.add_argument("--rate", type=float, default=50, help="messages per second offered in the steady-state run")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), InstantTwilio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    twilio_url = f"http://127.0.0.1:{server.server_address[1]}"
    users = reset()

    backends = ["console", "twilio"] if args.backend == "both" else [args.backend]
    results = {"drain": [], "steady": []}
    for backend in backends:
        result = drain(backend, users, args.messages, args.workers, twilio_url)
        results["drain"].append(result)
        print(
            f"drain  {backend:8} {result['workers']} worker(s): {result['messages']:,} messages, "
            f"{result['sent_per_second']:,}/s sent ({result['sent_per_second_with_startup']:,}/s with start-up), "
            f"enqueue-to-sent p50 {result['enqueue_to_sent_p50_s']} s, p95 {result['enqueue_to_sent_p95_s']} s; "
            f"enqueued at {result['enqueue_per_second']:,}/s",
            flush=True,
        )
    for backend in backends if args.steady else []:
        result = steady(backend, users, args.steady, args.rate, twilio_url)
        results["steady"].append(result)
        print(
            f"steady {backend:8} 1 worker: {result['sent']:,} of {result['messages']:,} sent at "
            f"{result['offered_per_second']:g}/s offered, enqueue-to-sent p50 {result['enqueue_to_sent_p50_ms']} ms, "
            f"p95 {result['enqueue_to_sent_p95_ms']} ms, max {result['enqueue_to_sent_max_ms']} ms",
            flush=True,
        )
    server.shutdown()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sms.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"Written to {OUT / 'sms.json'}")


if __name__ == "__main__":
    main()
