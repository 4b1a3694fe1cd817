"""Refunds as finance runs them in a burst: `refund_execute` on distinct payments, sandbox gateway.

Each refund is what the modal's Execute refund sends (Full refund, the purchased credits taken
back, the customer told by SMS), POSTed to the real view (`refunds.views.refund_create`):

- in-process, through Django's test client, one after another: the view's own latency, beside
  the floor view measured in the same run;
- over HTTP to gunicorn started with the production configuration (`gunicorn.conf.py`), first by
  one client, then by 8 clients at once: the throughput ratio, and whether anything deadlocked
  (PostgreSQL's own deadlock counter for the database, before and after) or failed.

Every payment is refunded once, by one request, on a different customer, so the clients compete
for the machine, not for one row. Afterwards each refund is checked in the database: succeeded,
one ledger entry, one SMS queued.
"""

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from bench.search import Timings, percentile
from notifications.models import SmsMessage
from payments.models import LedgerEntry, Payment
from refunds.models import Refund

TARGET_P95_MS = 60.0
TARGET_SPEEDUP = 1.5
OUT_DIR = Path(__file__).resolve().parent / "out"


@dataclass(frozen=True)
class RefundTarget:
    payment_id: int
    user_id: int
    credits: int


@dataclass
class HttpRun:
    clients: int
    refunds: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deadlocks: int = 0

    @property
    def per_second(self) -> float:
        return self.refunds / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)


@dataclass
class RefundResult:
    in_process: Timings
    floor: Timings
    sequential: HttpRun
    concurrent: HttpRun
    checked: int  # refunds verified in the database
    problems: list[str]
    gunicorn: str  # the configuration the HTTP runs used

    @property
    def speedup(self) -> float:
        return self.concurrent.per_second / self.sequential.per_second


def refund_targets(count: int) -> list[RefundTarget]:
    """`count` payments never refunded, each of a different customer (newest first: the bulk
    payments, not the demo's featured ones)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.id, p.user_id, p.credits_bought FROM payments_payment p
            WHERE p.gateway_id ~ '^pi_bench_[0-9]' AND p.status = 'succeeded'
              AND NOT EXISTS (SELECT 1 FROM refunds_refund r WHERE r.payment_id = p.id)
            ORDER BY p.id DESC LIMIT %s
            """,
            [count * 3],
        )
        rows = cursor.fetchall()
    targets, users = [], set()
    for payment_id, user_id, credits in rows:
        if user_id not in users:
            users.add(user_id)
            targets.append(RefundTarget(payment_id, user_id, credits))
    if len(targets) < count:
        raise RuntimeError(
            f"Only {len(targets)} unrefunded payments of distinct customers are left; rebuild with --fresh."
        )
    return targets[:count]


def refund_form(target: RefundTarget) -> dict[str, str]:
    """What the modal sends for a Full refund with the purchased credits taken back."""
    return {
        "type": "full",
        "amount": "",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": str(target.credits),
        "notify_customer": "on",
        "idempotency_key": uuid.uuid4().hex,
        "expected_reserved": "0",
    }


def in_process_run(client: Client, targets: list[RefundTarget], floor_pk: int) -> tuple[Timings, Timings]:
    """Each refund POSTed through the test client, with a floor request between two refunds."""
    refunds, floor = Timings(), Timings()
    floor_url = reverse("bench_user_floor", args=[floor_pk])
    for n, target in enumerate(targets):
        url = reverse("refund_create", args=[target.user_id, target.payment_id])
        started = time.perf_counter()
        response = client.post(url, refund_form(target), headers={"hx-request": "true", "hx-target": "modal"})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or b"Success!" not in response.content:
            raise RuntimeError(
                f"refund of payment {target.payment_id}: {response.status_code} {response.content[:300]!r}"
            )
        if n >= 5:  # the first few warm the caches
            refunds.samples_ms.append(elapsed)
        started = time.perf_counter()
        client.get(floor_url)
        if n >= 5:
            floor.samples_ms.append((time.perf_counter() - started) * 1000)
    return refunds, floor


# --- over HTTP, to gunicorn -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(log: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    out = log.open("w")
    process = subprocess.Popen(  # noqa: S603  (our own command line)
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "statstak.wsgi"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start-up: {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not become ready in 90 s")


def gunicorn_stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def http_run(port: int, session: str, targets: list[RefundTarget], clients: int) -> HttpRun:
    """`clients` threads, each with its own keep-alive connection, share out the refunds."""
    csrf = uuid.uuid4().hex  # a CSRF secret of our own, in the cookie and the header alike
    headers = {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
        "HX-Request": "true",
        "HX-Target": "modal",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    run = HttpRun(clients=clients, refunds=len(targets), seconds=0)
    lock = threading.Lock()
    queue = list(reversed(targets))
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        while True:
            with lock:
                if not queue:
                    break
                target = queue.pop()
            body = urlencode(refund_form(target))
            started = time.perf_counter()
            try:
                conn.request("POST", f"/users/{target.user_id}/payments/{target.payment_id}/refund/", body, headers)
                response = conn.getresponse()
                content = response.read()
                ok = response.status == 200 and b"Success!" in content
                problem = "" if ok else f"payment {target.payment_id}: HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                problem = f"payment {target.payment_id}: {type(error).__name__} {error}"
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                run.latencies_ms.append(elapsed)
                if problem:
                    run.errors.append(problem)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    deadlocks_before = _deadlocks()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    run.seconds = time.perf_counter() - started
    run.deadlocks = _deadlocks() - deadlocks_before
    return run


def refunds_check(targets: list[RefundTarget]) -> list[str]:
    """Each payment refunded once, in full; one ledger entry and one SMS per refund."""
    payment_ids = [t.payment_id for t in targets]
    problems = []
    refunds = list(Refund.objects.filter(payment_id__in=payment_ids))
    by_payment: dict[int, list[Refund]] = {}
    for refund in refunds:
        by_payment.setdefault(refund.payment_id, []).append(refund)
    for payment in Payment.objects.filter(pk__in=payment_ids):
        mine = by_payment.get(payment.pk, [])
        if len(mine) != 1 or mine[0].status != Refund.Status.SUCCEEDED:
            problems.append(f"payment {payment.pk}: refunds {[(r.pk, r.status) for r in mine]}")
        elif payment.status != Payment.Status.REFUNDED or payment.amount_refunded != payment.amount:
            problems.append(f"payment {payment.pk}: {payment.status}, {payment.amount_refunded} of {payment.amount}")
    refund_ids = [r.pk for r in refunds]
    entries = LedgerEntry.objects.filter(refund_id__in=refund_ids, kind=LedgerEntry.Kind.REFUND).count()
    if entries != len(refund_ids):
        problems.append(f"{entries} ledger entries for {len(refund_ids)} refunds")
    messages = SmsMessage.objects.filter(about_id__in=refund_ids).count()
    with_phone = User.objects.filter(pk__in=[t.user_id for t in targets]).exclude(phone="").count()
    if messages != len(refund_ids):
        problems.append(f"{messages} text messages for {len(refund_ids)} refunds ({with_phone} customers have a phone)")
    return problems


def queue_clear_bench_jobs() -> None:
    """The bench database has no worker: drop the SMS jobs the refunds queued, so runs do not pile
    them up (the messages stay `queued`; bench/sms.py measures sending on a database of its own)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo' AND task_name = 'notifications.sms_send'")


def refunds_run(
    client: Client, *, floor_pk: int, in_process: int, sequential: int, concurrent: int, clients: int
) -> RefundResult:
    warmup = 4 * clients
    targets = refund_targets(in_process + warmup + sequential + concurrent)
    first, warm = targets[:in_process], targets[in_process : in_process + warmup]
    second = targets[in_process + warmup : in_process + warmup + sequential]
    third = targets[in_process + warmup + sequential :]
    print(f"Refunds: {in_process} in-process through the view…", flush=True)
    in_process_timings, floor = in_process_run(client, first, floor_pk)

    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    OUT_DIR.mkdir(exist_ok=True)
    process, port = gunicorn_start(OUT_DIR / "gunicorn.log")
    try:
        gunicorn = _gunicorn_sizing(OUT_DIR / "gunicorn.log")
        # Warm every worker process (imports, connections, template caches) before timing.
        http_run(port, session, warm, clients)
        print(f"Refunds: {sequential} over HTTP, one client…", flush=True)
        seq = http_run(port, session, second, 1)
        print(f"Refunds: {concurrent} over HTTP, {clients} clients at once…", flush=True)
        conc = http_run(port, session, third, clients)
    finally:
        gunicorn_stop(process)
    problems = refunds_check(targets)
    queue_clear_bench_jobs()
    return RefundResult(
        in_process=in_process_timings,
        floor=floor,
        sequential=seq,
        concurrent=conc,
        checked=len(targets),
        problems=problems,
        gunicorn=gunicorn,
    )


def _gunicorn_sizing(log: Path) -> str:
    for line in log.read_text().splitlines():
        if "statstak:" in line:
            return line.split("statstak: ", 1)[1]
    return "(see gunicorn.conf.py)"
