"""Flat cost: what a page costs as the data grows, every figure beside the floor of the same run.

1. search shapes: prefixes typed letter by letter (o, o', o'b, o'br, o'brien; j, j., j.s),
   punctuation alone, middling words (john, alex, lee, 123), the second page of a common word;
2. growth: the same shapes on a database of 100,000 customers (`statstak_growth_bench`, measured
   by a child process: `python -m bench.flat growth`), beside the million;
3. the Payments and Activity tabs of customers with 500, 20,000 and 100,000 payments;
4. the Audit log at two million events with each filter, and its CSV export (rows/s, memory);
5. four typists of punctuation prefixes over gunicorn while another client opens a profile page:
   its p95 against the same page with nobody typing.

The floor is `bench.urls.user_floor` (routing, middleware, session, staff check, one user by
primary key, a line of HTML), measured interleaved with each page. See bench/README.md.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import http.client
import json
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.selectors_search import user_search  # noqa: E402
from audit.models import AuditEvent  # noqa: E402
from bench import seed  # noqa: E402
from bench.search import Timings, bench_staff, measure, requester  # noqa: E402
from payments.models import LedgerEntry, Payment  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "out"
GROWTH_DATABASE = "statstak_growth_bench"
GROWTH_CUSTOMERS = 100_000
TARGET_SEARCH_P95_MS = 50.0
TARGET_SEARCH_FLOOR_RATIO = 5.0
TARGET_GROWTH = 1.5
TARGET_TAB_GROWTH = 1.5  # the tab at 100,000 payments against 500
TARGET_AUDIT_P95_MS = 20.0
TARGET_EXPORT_ROWS_PER_S = 30_000
TARGET_TYPISTS_RATIO = 1.5

# (label, typed, page): page 2 is the page after the first page of that search.
SHAPES = [
    ("typed", "o", 1),
    ("typed", "o'", 1),
    ("typed", "o'b", 1),
    ("typed", "o'br", 1),
    ("typed", "o'brien", 1),
    ("typed", "j", 1),
    ("typed", "j.", 1),
    ("typed", "j.s", 1),
    ("punctuation", "'", 1),
    ("punctuation", "_", 1),
    ("punctuation", "%", 1),
    ("punctuation", "+", 1),
    ("punctuation", "-p", 1),
    ("punctuation", "d'", 1),
    ("middling word", "john", 1),
    ("middling word", "alex", 1),
    ("middling word", "lee", 1),
    ("middling word", "123", 1),
    ("common word", "maria", 1),
    ("common word, page 2", "maria", 2),
    ("common word, page 2", "pier", 2),
    ("rare word", "herr", 1),
    ("two words", "elijah herr", 1),
    ("miss", "xqzvbk", 1),
]
TYPIST_KEYS = ["o", "o'", "o'b", "o'br", "o'bri", "o'brie", "o'brien", "j", "j.", "j.s", "'", "-p", "d'", "_", "%"]


def _ms(value: float) -> str:
    return f"{value:,.1f}"


@dataclass
class Side:
    """One page beside the floor, measured in alternating rounds."""

    p50: float
    p95: float
    floor_p50: float
    floor_p95: float
    n: int

    @property
    def ratio_p95(self) -> float:
        return self.p95 / self.floor_p95

    @property
    def ratio_p50(self) -> float:
        return self.p50 / self.floor_p50


def beside_floor(page, floor, *, warmup: int, repeat: int, rounds: int = 5) -> Side:
    page_t, floor_t = Timings(), Timings()
    for _ in range(rounds):
        t, _ = measure(page, warmup=max(1, warmup // rounds), repeat=max(2, repeat // rounds))
        page_t.samples_ms += t.samples_ms
        t, _ = measure(floor, warmup=max(1, warmup // rounds), repeat=max(2, repeat // rounds))
        floor_t.samples_ms += t.samples_ms
    return Side(page_t.p50, page_t.p95, floor_t.p50, floor_t.p95, len(page_t.samples_ms))


def _floor_request(client: Client):
    pk = User.objects.filter(is_staff=False).order_by("id").values_list("pk", flat=True).first()
    return requester(client, reverse("bench_user_floor", args=[pk]), {})


# --- 1 and 2: search shapes, and their growth ------------------------------------------------


@dataclass
class ShapeResult:
    label: str
    query: str
    page: int
    rows: int
    side: Side
    selector_p50: float  # user_search alone: its SQL and Python, no view, no template
    selector_p95: float

    @property
    def meets_target(self) -> bool:
        return self.side.p95 <= TARGET_SEARCH_P95_MS and self.side.ratio_p95 <= TARGET_SEARCH_FLOOR_RATIO


def shapes_run(client: Client, *, warmup: int, repeat: int) -> list[ShapeResult]:
    floor = _floor_request(client)
    url = reverse("user_list")
    results = []
    for label, query, page_number in SHAPES:
        params = {"q": query}
        if page_number == 2:
            first = user_search(query=query)
            if first.next_after is None:
                continue
            params["after"] = str(first.next_after)
        print(f"  search {label}: {query!r} page {page_number}", flush=True)
        # What the search box requests while typing: the results region.
        page = requester(client, url, params, hx_request="true", hx_target="user-results")
        side = beside_floor(page, floor, warmup=warmup, repeat=repeat)
        after = int(params["after"]) if "after" in params else None
        selector = Timings()
        for n in range(warmup + repeat):
            started = time.perf_counter()
            found = user_search(query=query, after=after)
            if n >= warmup:
                selector.samples_ms.append((time.perf_counter() - started) * 1000)
        results.append(ShapeResult(label, query, page_number, len(found.users), side, selector.p50, selector.p95))
    return results


def shapes_table(results: list[ShapeResult]) -> list[str]:
    lines = [
        "| shape | typed | page | rows | p50 / p95 ms | floor p50 / p95 ms | page/floor p95 | "
        "user_search alone p50 / p95 ms | n | target (p95 <= 50 ms and <= 5x floor) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.side
        lines.append(
            f"| {r.label} | `{r.query}` | {r.page} | {r.rows} | {_ms(s.p50)} / {_ms(s.p95)} | "
            f"{_ms(s.floor_p50)} / {_ms(s.floor_p95)} | {s.ratio_p95:.1f}x | "
            f"{_ms(r.selector_p50)} / {_ms(r.selector_p95)} | {s.n} | {'yes' if r.meets_target else 'NO'} |"
        )
    return lines


def growth_run(*, warmup: int, repeat: int) -> dict:
    """Run in a child process on the 100,000-customer database: build it once, measure the shapes."""
    name = connection.settings_dict["NAME"]
    assert name == GROWTH_DATABASE, name
    call_command("migrate", verbosity=0, interactive=False)
    seconds = None
    if User.objects.filter(is_staff=False).count() < GROWTH_CUSTOMERS:
        from payments.demo import demo_customers_insert

        started = time.perf_counter()
        demo_customers_insert(GROWTH_CUSTOMERS)
        seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) accounts_user")
    client = Client()
    client.force_login(bench_staff())
    results = shapes_run(client, warmup=warmup, repeat=repeat)
    return {
        "customers": User.objects.filter(is_staff=False).count(),
        "seeded_seconds": seconds,
        "shapes": [asdict(r) for r in results],
    }


def growth_child(*, warmup: int, repeat: int) -> dict:
    """`python -m bench.flat growth` on the growth database, as a child process."""
    out = OUT_DIR / "growth.json"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env |= {"BENCH_DATABASE": GROWTH_DATABASE, "LOG_LEVEL": "WARNING"}
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [GROWTH_DATABASE])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{GROWTH_DATABASE}"')
    subprocess.run(  # noqa: S603  (our own command line)
        [
            sys.executable,
            "-m",
            "bench.flat",
            "growth",
            "--warmup",
            str(warmup),
            "--repeat",
            str(repeat),
            "--out",
            str(out),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
    )
    return json.loads(out.read_text())


def growth_table(small: dict, large: list[ShapeResult]) -> tuple[list[str], bool]:
    by_key = {(s["query"], s["page"]): s for s in small["shapes"]}
    lines = [
        f"| typed | page | p95 ms at {small['customers']:,} / at 1M | growth | floor p95 ms at 100k / 1M | "
        "user_search alone p95 ms at 100k / 1M | growth | target (page p95 grows <= 1.5x) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    all_met = True
    for r in large:
        s = by_key.get((r.query, r.page))
        if s is None:
            continue
        growth = r.side.p95 / s["side"]["p95"]
        selector_growth = r.selector_p95 / s["selector_p95"]
        met = growth <= TARGET_GROWTH
        all_met &= met
        lines.append(
            f"| `{r.query}` | {r.page} | {_ms(s['side']['p95'])} / {_ms(r.side.p95)} | {growth:.2f}x | "
            f"{_ms(s['side']['floor_p95'])} / {_ms(r.side.floor_p95)} | {_ms(s['selector_p95'])} / "
            f"{_ms(r.selector_p95)} | {selector_growth:.2f}x | {'yes' if met else 'NO'} |"
        )
    return lines, all_met


# --- 3: long histories ------------------------------------------------------------------------


@dataclass
class TabResult:
    label: str
    customer_rows: int
    side: Side
    queries: int


def tabs_run(client: Client, *, warmup: int, repeat: int) -> list[TabResult]:
    from bench.pages import _queries

    customers = [User.objects.get(email=seed.MANY_PAYMENTS_EMAIL)] + [
        User.objects.get(email=email) for email in seed.LONG_PAYMENTS.values()
    ]
    results = []
    for customer in customers:
        payments = Payment.objects.filter(user=customer).count()
        entries = LedgerEntry.objects.filter(user=customer).count()
        floor = requester(client, reverse("bench_user_floor", args=[customer.pk]), {})
        for label, url_name, rows in (
            ("Payments tab", "user_payments", payments),
            ("Activity tab", "user_activity", entries),
        ):
            print(f"  {label}, {rows:,} rows", flush=True)
            page = requester(
                client, reverse(url_name, args=[customer.pk]), {}, hx_request="true", hx_target="profile-tabs"
            )
            side = beside_floor(page, floor, warmup=warmup, repeat=repeat)
            results.append(TabResult(label, rows, side, _queries(page)))
    return results


def tabs_table(results: list[TabResult]) -> tuple[list[str], dict[str, float]]:
    lines = [
        "| tab (htmx tab switch) | customer's rows | p50 / p95 ms | floor p50 / p95 ms | page/floor p95 | "
        "p95 against the 500-payment customer's | SQL per request |",
        "|---|---|---|---|---|---|---|",
    ]
    first = {}  # the 500-payment customer's p95, per tab (measured first)
    for r in results:
        first.setdefault(r.label, r.side.p95)
    growth = {}
    for r in results:
        ratio = r.side.p95 / first[r.label]
        growth[r.label] = ratio
        lines.append(
            f"| {r.label} | {r.customer_rows:,} | {_ms(r.side.p50)} / {_ms(r.side.p95)} | "
            f"{_ms(r.side.floor_p50)} / {_ms(r.side.floor_p95)} | {r.side.ratio_p95:.1f}x | {ratio:.2f}x | "
            f"{r.queries} |"
        )
    return lines, growth


# --- 4: the audit log ------------------------------------------------------------------------


@dataclass
class AuditResult:
    label: str
    params: dict[str, str]
    rows: int
    side: Side

    @property
    def meets_target(self) -> bool:
        return self.side.p95 <= TARGET_AUDIT_P95_MS


@dataclass
class ExportResult:
    rows: int
    seconds: float
    rss_mb: list[float] = field(default_factory=list)  # resident memory at 0%, 25%, 50%, 75%, 100%

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def audit_cases() -> list[tuple[str, dict[str, str]]]:
    # auditor00 never acts: every event of its turn is the system's (one in ten).
    staff = User.objects.get(email=f"auditor01@{seed.AUDIT_STAFF_DOMAIN}")
    newest = AuditEvent.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    month_end = (newest - timedelta(days=200)).date()
    month = {"since": str(month_end - timedelta(days=30)), "until": str(month_end)}
    day = {"since": str(month_end), "until": str(month_end)}
    first_page = AuditEvent.objects.order_by("-created_at", "-id").values_list("id", flat=True)[49]
    return [
        ("no filter", {}),
        ("no filter, page 2", {"before": str(first_page)}),
        ("staff member", {"staff": str(staff.pk)}),
        ("customer (busy: 1% of events)", {"customer": seed.MANY_PAYMENTS_EMAIL}),
        ("customer (two events)", {"customer": User.objects.get(pk=7919 * 3 % 1_000_000 + 1).email}),
        ("action, common", {"action": "audit_exported"}),
        ("action, rare", {"action": "two_factor_enrolled"}),
        ("a past month", month),
        ("a past day", day),
        ("a past month, staff member", month | {"staff": str(staff.pk)}),
        ("a past month, rare action", month | {"action": "two_factor_enrolled"}),
        (
            "every filter",
            month | {"staff": str(staff.pk), "action": "audit_exported", "customer": seed.MANY_PAYMENTS_EMAIL},
        ),
    ]


def audit_run(client: Client, *, warmup: int, repeat: int) -> tuple[list[AuditResult], ExportResult]:
    from audit.forms import AuditFilterForm
    from audit.selectors import audit_events

    floor = _floor_request(client)
    url = reverse("audit_log")
    results = []
    for label, params in audit_cases():
        print(f"  audit log: {label}", flush=True)
        page = requester(client, url, params)
        side = beside_floor(page, floor, warmup=warmup, repeat=repeat)
        form = AuditFilterForm(params)
        rows = audit_events(filters=form.filters()).count() if form.is_valid() and params.get("before") is None else 0
        results.append(AuditResult(label, params, rows, side))
    # The export: a year of events (about a million rows), streamed as the browser would read it.
    newest = AuditEvent.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    params = {"since": str((newest - timedelta(days=365)).date()), "until": str(newest.date())}
    print(f"  audit export {params}", flush=True)
    response = client.get(reverse("audit_export"), params)
    rows, marks = 0, []
    expected = AuditEvent.objects.filter(created_at__date__gte=params["since"]).count()
    checkpoints = [int(expected * q) for q in (0.25, 0.5, 0.75)]
    marks.append(_rss_mb())
    started = time.perf_counter()
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        if checkpoints and rows >= checkpoints[0]:
            checkpoints.pop(0)
            marks.append(_rss_mb())
    seconds = time.perf_counter() - started
    marks.append(_rss_mb())
    return results, ExportResult(rows=rows - 1, seconds=seconds, rss_mb=marks)


def audit_table(results: list[AuditResult], export: ExportResult) -> list[str]:
    lines = [
        "| filter | events matching | p50 / p95 ms | floor p50 / p95 ms | page/floor p95 | n | target (p95 <= 20 ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {r.rows:,} | {_ms(r.side.p50)} / {_ms(r.side.p95)} | {_ms(r.side.floor_p50)} / "
            f"{_ms(r.side.floor_p95)} | {r.side.ratio_p95:.1f}x | {r.side.n} | {'yes' if r.meets_target else 'NO'} |"
        )
    lines += [
        "",
        f"CSV export of a year of events: {export.rows:,} rows in {export.seconds:.1f} s, "
        f"**{export.per_second:,.0f} rows/s** (target >= {TARGET_EXPORT_ROWS_PER_S:,}); the process's resident memory "
        f"at 0 / 25 / 50 / 75 / 100% of it: {' / '.join(f'{m:.0f}' for m in export.rss_mb)} MB.",
    ]
    return lines


# --- 5: typists over gunicorn ----------------------------------------------------------------


@dataclass
class TypistsResult:
    idle: Timings
    busy: Timings
    typists: Timings  # the typists' own searches
    errors: int

    @property
    def ratio_p95(self) -> float:
        return self.busy.p95 / self.idle.p95


def typists_run(client: Client, *, typists: int = 4, samples: int = 200) -> TypistsResult:
    from bench.refunds import gunicorn_start, gunicorn_stop

    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    customer = User.objects.get(email=seed.MANY_PAYMENTS_EMAIL)
    profile = f"/users/{customer.pk}/"
    process, port = gunicorn_start(OUT_DIR / "gunicorn-typists.log")
    try:

        def timed_get(conn: http.client.HTTPConnection, path: str, extra: dict | None = None) -> tuple[float, int]:
            started = time.perf_counter()
            conn.request("GET", path, headers=headers | (extra or {}))
            response = conn.getresponse()
            response.read()
            return (time.perf_counter() - started) * 1000, response.status

        def profile_samples(count: int) -> Timings:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(10):
                timed_get(conn, profile)
            timings = Timings()
            for _ in range(count):
                ms, status = timed_get(conn, profile)
                if status != 200:
                    raise RuntimeError(f"profile page answered {status}")
                timings.samples_ms.append(ms)
                time.sleep(0.02)
            conn.close()
            return timings

        idle = profile_samples(samples)
        stop = threading.Event()
        typed = Timings()
        errors = [0]
        lock = threading.Lock()

        def typist(offset: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            n = offset
            while not stop.is_set():
                key = TYPIST_KEYS[n % len(TYPIST_KEYS)]
                n += 1
                ms, status = timed_get(
                    conn, "/users/?" + urlencode({"q": key}), {"HX-Request": "true", "HX-Target": "user-results"}
                )
                with lock:
                    typed.samples_ms.append(ms)
                    errors[0] += status not in (200, 422)
                time.sleep(0.1)  # a fast typist: a key every 100 ms (the search box waits 250 ms)
            conn.close()

        threads = [threading.Thread(target=typist, args=(k * 3,)) for k in range(typists)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        busy = profile_samples(samples)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        gunicorn_stop(process)
    return TypistsResult(idle=idle, busy=busy, typists=typed, errors=errors[0])


def typists_table(r: TypistsResult) -> list[str]:
    return [
        "| run | requests | p50 / p95 ms |",
        "|---|---|---|",
        f"| profile page, nobody typing | {len(r.idle.samples_ms)} | {_ms(r.idle.p50)} / {_ms(r.idle.p95)} |",
        f"| profile page, 4 typists at once | {len(r.busy.samples_ms)} | {_ms(r.busy.p50)} / {_ms(r.busy.p95)} |",
        f"| the typists' searches (punctuation prefixes, htmx) | {len(r.typists.samples_ms)} | "
        f"{_ms(r.typists.p50)} / {_ms(r.typists.p95)} |",
        "",
        f"Profile p95 with typists / idle: **{r.ratio_p95:.2f}x** (target <= {TARGET_TYPISTS_RATIO}x); "
        f"typists' errors (not 200 or 422): {r.errors}.",
    ]


# --- the child process's entry point --------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.flat")
    parser.add_argument("what", choices=["growth"])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = growth_run(warmup=args.warmup, repeat=args.repeat)
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
