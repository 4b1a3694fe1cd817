"""Search benchmark: the portal's Users search against Django's admin search, on a million users.

Run from the checkout: `python -m bench.search` (or `make bench`). See bench/README.md.

Both sides are measured end to end through Django's test client, logged in as a superuser: URL
routing, middleware, session and user loading, the view, its SQL, template rendering. Ours is
`accounts.views.user_list` (and through it `accounts.selectors_search.user_search`); the baseline is a
stock `ModelAdmin` changelist with `search_fields = first_name, last_name, email`, on the same
data, in the same process, in the same run.
"""

import os

# Before anything imports Django's settings: bench.settings picks the bench database and adds
# the admin. Forced, not defaulted, so a DJANGO_SETTINGS_MODULE left in the shell cannot point a
# million inserts at the development database.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from tqdm import tqdm  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.search import SearchableText, folded_value  # noqa: E402
from accounts.selectors_search import user_search  # noqa: E402
from payments.models import Payment  # noqa: E402
from refunds.models import Refund  # noqa: E402

try:
    # Customers with the ledger entries that explain their opening balances.
    from payments.demo import demo_customers_insert
except ImportError:  # before the ledger existed, customers alone were seeded by accounts
    from accounts.demo import demo_customers_insert

OUT_DIR = Path(__file__).resolve().parent / "out"
BENCH_STAFF_EMAIL = "bench-staff@statstak.test"
TARGET_RATIO = 0.1  # our p95 at most a tenth of the admin's
TARGET_P95_MS = 50.0  # and under 50 ms, on a 2-core machine
DEEP_ROWS = 10_000  # "a page deep": the page that starts this many rows into the newest-first list
EXPLAIN_QUERY = "elijah herr"


@dataclass(frozen=True)
class Case:
    """One thing a staff member does on the Users list, and the same thing in the admin."""

    label: str
    query: str  # what is typed in the search box ("" for the plain list)
    ours: dict[str, str]
    admin: dict[str, str]
    expect: str | None = None  # text both pages must contain (a matching customer's email)
    is_search: bool = True  # counted in the "overall" row (the empty list is reported apart)


@dataclass
class Timings:
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0  # SQL statements per request

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)


@dataclass
class CaseResult:
    case: Case
    matches: int | None
    ours: Timings
    htmx: Timings
    admin: Timings

    @property
    def ratio_p50(self) -> float:
        return self.ours.p50 / self.admin.p50

    @property
    def ratio_p95(self) -> float:
        return self.ours.p95 / self.admin.p95

    @property
    def meets_target(self) -> bool:
        return self.ours.p95 < TARGET_P95_MS and self.ratio_p95 <= TARGET_RATIO


@dataclass
class SeedReport:
    users: int  # customers in the bench database after seeding
    created: int  # how many this run inserted
    seconds: float | None  # time to insert them (None when nothing was inserted)
    vacuum_seconds: float
    previous: dict | None  # the last run that did seed, when this one reused its data


def percentile(samples: Sequence[float], pct: int) -> float:
    # "inclusive" interpolates between measured values, never beyond the slowest one.
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


# --- the database ---------------------------------------------------------------------------


def database_recreate() -> None:
    """Drop and recreate the bench database, to time seeding from an empty table."""
    name = connection.settings_dict["NAME"]
    assert str(name).endswith("bench")  # bench.settings refuses any other name; belt and braces
    connection.close()
    # The maintenance database, as Django's test runner does to create its test database.
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


def database_seed(users: int) -> SeedReport:
    call_command("migrate", verbosity=0, interactive=False)
    existing = User.objects.filter(is_staff=False).count()
    created, seconds = 0, None
    seed_file = OUT_DIR / "seed.json"
    if existing < users:
        started = time.perf_counter()
        with tqdm(total=users, unit=" users", desc="seeding", mininterval=2) as progress:
            created = demo_customers_insert(users, progress=progress)
        seconds = time.perf_counter() - started
        seed_file.write_text(
            json.dumps({"users": users, "created": created, "seconds": seconds, "at": _now()}, indent=2)
        )
    # VACUUM as well as ANALYZE: it merges the trigram index's pending list (GIN "fastupdate")
    # and sets the visibility map, leaving the table as autovacuum would in production, so that
    # the first measured query does not pay for the bulk load.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {User._meta.db_table}")
    vacuum_seconds = time.perf_counter() - started
    previous = json.loads(seed_file.read_text()) if seconds is None and seed_file.exists() else None
    return SeedReport(
        users=User.objects.filter(is_staff=False).count(),
        created=created,
        seconds=seconds,
        vacuum_seconds=vacuum_seconds,
        previous=previous,
    )


def bench_staff() -> User:
    # A superuser: the admin shows a model's changelist only to someone with its view permission.
    staff = User.objects.filter(email=BENCH_STAFF_EMAIL).first()
    if staff is None:
        staff = User.objects.create_superuser(BENCH_STAFF_EMAIL, None, first_name="Bench", last_name="Staff")
    return staff


def match_count(query: str) -> int:
    """How many users the query matches (context for the table; not timed)."""
    matches = User.objects.alias(searchable=SearchableText())
    for word in query.split():
        matches = matches.filter(searchable__contains=folded_value(word))
    return matches.count()


# --- the cases --------------------------------------------------------------------------------


def cases_build() -> list[Case]:
    searches = [
        # (label, typed, a customer the page must show)
        ("first name", "maria", None),
        ("surname fragment", "herr", None),
        ("email prefix", "jose.rivera", None),
        ("two words", "elijah herr", "elijah.herrick@example.com"),
        ("whole email", "elijah.herrick@example.com", "elijah.herrick@example.com"),
        ("two letters, as typed", "el", None),
        # A whole surname can be two letters (Xu, Wu, Li, Ng); none of the demo customers is a Xu.
        ("two-letter surname, no match", "xu", None),
        ("miss", "xqzvbk", None),
        # Customer 360 (c360a): a phone number as people write it, its last digits after the
        # marker, and ids (a hit answers with a jump: a redirect, or HX-Redirect to htmx). At a
        # million demo users a number is shared by some 500 of them: no one customer is expected.
        ("phone, international", "+1 202-555-0143", None),
        ("phone, national", "(202) 555 0143", None),
        ("phone, digits", "2025550143", None),
        ("phone, last digits", "#0143", None),
        ("phone, last five digits", "#50143", None),
        ("phone, miss", "(999) 555 0000", None),
        ("payment id, miss", "pi_3NoSuchPaymentAtAll", None),
        ("refund reference, miss", "RF-999999999", None),
    ]
    newest_payment = Payment.objects.order_by("-id").values_list("gateway_id", flat=True).first()
    newest_refund = Refund.objects.order_by("-id").values_list("pk", flat=True).first()
    if newest_payment:
        searches.append(("payment id", newest_payment, None))
    if newest_refund:
        searches.append(("refund reference", f"RF-{newest_refund:06d}", None))
    cases = [Case(label, q, {"q": q}, {"q": q}, expect) for label, q, expect in searches]
    # The plain list, newest first. Ours pages by keyset (`after` = the last id of the previous
    # page); the admin pages by OFFSET (`p`, 100 rows a page): both start DEEP_ROWS rows in.
    deep_after = (
        User.objects.order_by("-date_joined", "-id").values_list("pk", flat=True)[DEEP_ROWS - 1 : DEEP_ROWS].get()
    )
    admin_page = DEEP_ROWS // 100 + 1
    cases += [
        Case("newest users, first page", "", {}, {}, is_search=False),
        Case(
            f"newest users, {DEEP_ROWS:,} rows deep",
            "",
            {"after": str(deep_after)},
            {"p": str(admin_page)},
            is_search=False,
        ),
    ]
    return cases


# --- measuring --------------------------------------------------------------------------------


def measure(
    request: Callable[[], bytes], *, warmup: int, repeat: int, budget_s: float | None = None
) -> tuple[Timings, bytes]:
    """Warm up, then time `repeat` requests (fewer if they would blow `budget_s`)."""
    body = b""
    warm: list[float] = []
    for _ in range(warmup):
        started = time.perf_counter()
        body = request()
        warm.append(time.perf_counter() - started)
    if budget_s is not None and warm:
        # A slow case still gets enough samples for a p95 (at least 20), within the budget.
        repeat = max(min(repeat, 20), min(repeat, int(budget_s / statistics.median(warm))))
    timings = Timings()
    for _ in range(repeat):
        started = time.perf_counter()
        request()
        timings.samples_ms.append((time.perf_counter() - started) * 1000)
    return timings, body


def requester(client: Client, url: str, params: dict[str, str], **headers: str) -> Callable[[], bytes]:
    def request() -> bytes:
        response = client.get(url, params, headers=headers)
        if response.status_code not in (200, 302):  # 302: the search bar's jump to an id
            raise RuntimeError(f"GET {url} {params} answered {response.status_code}")
        return response.content

    return request


def queries_per_request(request: Callable[[], bytes]) -> int:
    with CaptureQueriesContext(connection) as captured:
        request()
    return len(captured)


def case_run(client: Client, case: Case, *, warmup: int, repeat: int, budget_s: float) -> CaseResult:
    ours_url = reverse("user_list")
    admin_url = reverse("bench_admin:accounts_user_changelist")
    sides = {
        "ours": requester(client, ours_url, case.ours),
        # What the search box sends as the staff member types: only the results partial.
        "htmx": requester(client, ours_url, case.ours, hx_request="true", hx_target="user-results"),
        "admin": requester(client, admin_url, case.admin),
    }
    results: dict[str, Timings] = {}
    for side, request in sides.items():
        timings, body = measure(request, warmup=warmup, repeat=repeat, budget_s=budget_s)
        if case.expect and case.expect.encode() not in body:
            raise RuntimeError(f"{side}: the page for {case.query!r} does not show {case.expect}")
        timings.queries = queries_per_request(request)
        results[side] = timings
    matches = match_count(case.query) if case.query else None
    return CaseResult(case, matches, results["ours"], results["htmx"], results["admin"])


def explain_search(query: str) -> tuple[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the main SQL statement `user_search` runs for `query`.

    The statement is captured from the real selector rather than rebuilt here, so the plan is
    the plan of the code that ships.
    """
    with CaptureQueriesContext(connection) as captured:
        user_search(query=query)
    # The main statement is the one that orders and limits (the others look up an exact email
    # or the keyset boundary).
    sql = next(q["sql"] for q in reversed(captured.captured_queries) if "ORDER BY" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return sql, plan


# --- reporting --------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def environment() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "max_parallel_workers_per_gather"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    # Other work on the same two cores (a test run, a browser) shows up in the timings: say so.
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return {
        "when": _now(),
        "load average (1, 5, 15 min) at start": load,
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"Django {django.get_version()}",
        "database": f"{version}, database {connection.settings_dict['NAME']!r}",
        "postgres settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
    }


def table_rows(results: list[CaseResult]) -> list[list[str]]:
    rows = []
    for r in results:
        rows.append(
            [
                r.case.label,
                repr(r.case.query) if r.case.query else "(none)",
                f"{r.matches:,}" if r.matches is not None else "all",
                f"{_ms(r.ours.p50)} / {_ms(r.ours.p95)}",
                f"{_ms(r.htmx.p50)} / {_ms(r.htmx.p95)}",
                f"{_ms(r.admin.p50)} / {_ms(r.admin.p95)}",
                f"{r.ratio_p50:.3f} / {r.ratio_p95:.3f}",
                f"{r.ours.queries} / {r.admin.queries}",
                f"{len(r.ours.samples_ms)} / {len(r.admin.samples_ms)}",
                "yes" if r.meets_target else "NO",
            ]
        )
    searches = [r for r in results if r.case.is_search]
    ours = [s for r in searches for s in r.ours.samples_ms]
    htmx = [s for r in searches for s in r.htmx.samples_ms]
    admin = [s for r in searches for s in r.admin.samples_ms]
    # Overall: every search request pooled (each query weighs by its number of samples), and
    # the geometric mean of the per-query p95 ratios, which no single query can dominate.
    geomean = statistics.geometric_mean([r.ratio_p95 for r in searches])
    ours_p95, admin_p95 = percentile(ours, 95), percentile(admin, 95)
    rows.append(
        [
            "overall (searches)",
            "all of the above",
            "",
            f"{_ms(statistics.median(ours))} / {_ms(ours_p95)}",
            f"{_ms(statistics.median(htmx))} / {_ms(percentile(htmx, 95))}",
            f"{_ms(statistics.median(admin))} / {_ms(admin_p95)}",
            f"{statistics.median(ours) / statistics.median(admin):.3f} / {ours_p95 / admin_p95:.3f}"
            f" (geomean of p95 ratios {geomean:.3f})",
            "",
            f"{len(ours)} / {len(admin)}",
            "yes" if all(r.meets_target for r in searches) else "NO",
        ]
    )
    return rows


HEADERS = [
    "case",
    "typed",
    "matches",
    "ours p50 / p95 ms",
    "ours htmx partial p50 / p95 ms",
    "admin p50 / p95 ms",
    "ours/admin p50 / p95",
    "SQL per request ours / admin",
    "n ours / admin",
    f"target (p95 < {TARGET_P95_MS:.0f} ms and <= {TARGET_RATIO}x admin)",
]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def seed_summary(seed: SeedReport) -> str:
    if seed.seconds is not None:
        rate = seed.created / seed.seconds if seed.seconds else 0
        text = f"inserted {seed.created:,} users in {seed.seconds:.1f} s ({rate:,.0f} users/s)"
    elif seed.previous:
        text = (
            f"reused the {seed.users:,} users already there; the run that inserted them "
            f"({seed.previous['at']}) took {seed.previous['seconds']:.1f} s for {seed.previous['created']:,}"
        )
    else:
        text = f"reused the {seed.users:,} users already there (run with --fresh to time the seeding)"
    return f"{text}; VACUUM (ANALYZE) afterwards {seed.vacuum_seconds:.1f} s"


def report_write(
    *,
    env: dict[str, str],
    seed: SeedReport,
    results: list[CaseResult],
    rows: list[list[str]],
    explain: tuple[str, str],
    args: argparse.Namespace,
) -> Path:
    sql, plan = explain
    shortened = [
        f"{r.case.label} ({side})"
        for r in results
        for side, timings in (("ours", r.ours), ("htmx", r.htmx), ("admin", r.admin))
        if len(timings.samples_ms) < args.repeat
    ]
    lines = [
        "# User search benchmark",
        "",
        *(f"- {k}: {v}" for k, v in env.items()),
        f"- seeding: {seed_summary(seed)}",
        f"- requests: {args.warmup} warm-up then {args.repeat} measured per query and side, through Django's "
        "test client as a superuser (routing, middleware, session, view, SQL, template rendering)",
        "- ours: `accounts.views.user_list` (25 rows a page, keyset paging, no count); "
        "htmx partial: the same view as the search box calls it while typing (`HX-Target: user-results`)",
        "- admin: a stock `ModelAdmin` changelist, `search_fields = first_name, last_name, email` "
        "(100 rows a page, OFFSET paging, a filtered count and a full count)",
    ]
    if shortened:
        lines.append(
            f"- measured fewer than {args.repeat} times because slow (at most {args.budget:.0f} s per query "
            f"and side, never fewer than 20 requests): {', '.join(shortened)}"
        )
    lines += [
        "",
        markdown_table(rows),
        "",
        f"## EXPLAIN (ANALYZE, BUFFERS) of our search for {EXPLAIN_QUERY!r}",
        "",
        "```sql",
        sql,
        "```",
        "",
        "```",
        plan,
        "```",
        "",
    ]
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / "search.md"
    path.write_text("\n".join(lines))
    return path


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000, help="customers to seed (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=50, help="measured requests per query and side")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests first, per query and side")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of measuring one query on one side may take before it gets fewer repetitions "
        "(never fewer than 20)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="drop and recreate the bench database first, to time seeding"
    )
    args = parser.parse_args(argv)
    if args.repeat < 2 or args.warmup < 1:
        parser.error("--repeat must be at least 2 and --warmup at least 1")
    OUT_DIR.mkdir(exist_ok=True)

    if args.fresh:
        database_recreate()
    seed = database_seed(args.users)
    print(f"Seeding: {seed_summary(seed)}", flush=True)

    client = Client()
    client.force_login(bench_staff())
    env = environment()
    results = []
    for case in cases_build():
        print(f"Measuring {case.label} ({case.query!r})…", flush=True)
        results.append(case_run(client, case, warmup=args.warmup, repeat=args.repeat, budget_s=args.budget))
    explain = explain_search(EXPLAIN_QUERY)

    rows = table_rows(results)
    print()
    for key, value in env.items():
        print(f"{key}: {value}")
    print(f"seeding: {seed_summary(seed)}")
    print()
    print(text_table(rows))
    print()
    print(f"EXPLAIN (ANALYZE, BUFFERS) of our search for {EXPLAIN_QUERY!r}:")
    print(explain[1])
    path = report_write(env=env, seed=seed, results=results, rows=rows, explain=explain, args=args)
    print(f"\nWritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
