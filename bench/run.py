"""`make bench`: every scenario of the scale benchmark, one command, one report (bench/REPORT.md).

1. the bench database: 1,000,000 customers, 3,000,000 payments, their ledger (bench/seed.py);
2. the Users search against Django's admin changelist search (bench/search.py's cases);
3. the profile's Payments and Activity tabs on long histories against the floor (bench/pages.py);
4. refunds: in-process, then over HTTP to gunicorn with 1 and 8 clients (bench/refunds.py);
5. the SMS worker draining 10,000 messages with 1 and with 2 workers (bench/sms.py, console);
6. flat cost (bench/flat.py): search shapes against the floor, their growth from 100,000 to
   1,000,000 customers, tabs of customers with 500 / 20,000 / 100,000 payments, the Audit log at
   two million events and its export, four typists over gunicorn beside a profile page;
7. EXPLAIN (ANALYZE, BUFFERS) of the main queries, captured from the real selectors.

Every measurement has its baseline measured in the same run, on the same data: ratios hold on a
noisy machine where milliseconds across runs do not. See bench/README.md.
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.selectors_search import user_search  # noqa: E402
from audit.models import AuditEvent  # noqa: E402
from audit.selectors import AuditFilter, audit_page  # noqa: E402
from bench import flat, pages, refunds, search, seed  # noqa: E402
from notifications.selectors import sms_message_list  # noqa: E402
from payments.models import Payment  # noqa: E402
from payments.selectors import ledger_history, payment_history  # noqa: E402
from refunds.services import payment_refundable  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
REPORT = BENCH_DIR / "REPORT.md"
NOTES = BENCH_DIR / "NOTES.md"  # hand-written findings (profiles, fixes, gaps), included as they are
OUT_DIR = BENCH_DIR / "out"
SMS_TARGET_PER_SECOND = 300
SMS_TARGET_SCALING = 1.6  # "near-linear": 2 workers at least 1.6 times 1 worker


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def _phase(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.perf_counter()


# --- EXPLAIN ----------------------------------------------------------------------------------


def _captured(run, table: str, must: str = "") -> str:
    with CaptureQueriesContext(connection) as captured:
        run()
    for query in reversed(captured.captured_queries):
        sql = query["sql"]
        if f'FROM "{table}"' in sql and must in sql:
            return sql
    raise RuntimeError(f"no query on {table} captured")


def explains() -> list[tuple[str, str, str]]:
    """(title, sql, plan) for the main statement of each page measured."""
    many = User.objects.get(email=seed.MANY_PAYMENTS_EMAIL)
    long = User.objects.get(email=seed.LONG_HISTORY_EMAIL)
    payment = Payment.objects.filter(user=many).order_by("id").first()
    huge = User.objects.get(email=seed.LONG_PAYMENTS[max(seed.LONG_PAYMENTS)])
    auditor = User.objects.get(email=f"auditor01@{seed.AUDIT_STAFF_DOMAIN}").pk
    newest = AuditEvent.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    month_end = (newest - timedelta(days=200)).date()
    month = AuditFilter(since=month_end - timedelta(days=30), until=month_end)
    statements = [
        (
            "Users search, 'elijah herr' (user_search)",
            _captured(lambda: user_search(query="elijah herr"), "accounts_user", "ORDER BY"),
        ),
        (
            "Users search, 'maria' (user_search)",
            _captured(lambda: user_search(query="maria"), "accounts_user", "ORDER BY"),
        ),
        (
            "Users search, 'xu' (user_search, word start)",
            _captured(lambda: user_search(query="xu"), "accounts_user", "ORDER BY"),
        ),
        (
            "Users search, 'o'b' (user_search, word start around punctuation: the trigram step)",
            _captured(lambda: user_search(query="o'b"), "accounts_user", "ORDER BY"),
        ),
        (
            "Users search, 'john' (user_search, a middling word: the window steps, index-only)",
            _captured(lambda: user_search(query="john"), "accounts_user", "ORDER BY"),
        ),
        (
            "Users search, ' alone (user_search, punctuation alone: bounded windows)",
            _captured(lambda: user_search(query="'"), "accounts_user", "ORDER BY"),
        ),
        ("Users list, no query (user_search)", _captured(lambda: user_search(query=""), "accounts_user", "ORDER BY")),
        (
            f"Payments tab: past payments of a customer with {seed.MANY_PAYMENTS} (payment_history)",
            _captured(lambda: payment_history(user=many), "payments_payment", "ORDER BY"),
        ),
        (
            f"Activity tab: credit history of a customer with {seed.LONG_HISTORY_ENTRIES:,} entries (ledger_history)",
            _captured(lambda: ledger_history(user=long), "payments_ledgerentry", "ORDER BY"),
        ),
        (
            "Activity tab: text messages (sms_message_list)",
            _captured(lambda: sms_message_list(user=long), "notifications_smsmessage", "ORDER BY"),
        ),
        (
            f"Payments tab: a customer with {max(seed.LONG_PAYMENTS):,} payments (payment_history)",
            _captured(lambda: payment_history(user=huge), "payments_payment", "ORDER BY"),
        ),
        (
            "Audit log: a past month (audit_page)",
            _captured(lambda: audit_page(filters=month), "audit_auditevent", "ORDER BY"),
        ),
        (
            "Audit log: a past month, one staff member (audit_page)",
            _captured(lambda: audit_page(filters=replace(month, actor_id=auditor)), "audit_auditevent", "ORDER BY"),
        ),
        (
            "Audit log: the busy customer (audit_page)",
            _captured(lambda: audit_page(filters=AuditFilter(target_user_id=many.pk)), "audit_auditevent", "ORDER BY"),
        ),
        (
            "Refund: what remains refundable (payment_refundable)",
            _captured(lambda: payment_refundable(payment=payment), "refunds_refund"),
        ),
    ]
    plans = []
    with connection.cursor() as cursor:
        for title, sql in statements:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plans.append((title, sql, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


# --- SMS --------------------------------------------------------------------------------------


def sms_run(messages: int) -> list[dict]:
    """bench/sms.py, console backend, with 1 then 2 workers (each its own process)."""
    results = []
    for workers in (1, 2):
        print(f"SMS: {messages:,} messages, {workers} worker(s)…", flush=True)
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        subprocess.run(  # noqa: S603  (our own command line)
            [
                sys.executable,
                "-m",
                "bench.sms",
                "--backend",
                "console",
                "--workers",
                str(workers),
                "--messages",
                str(messages),
                "--steady",
                "0",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
        )
        results += json.loads((OUT_DIR / "sms.json").read_text())["drain"]
    return results


# --- the report -------------------------------------------------------------------------------


def _git() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=settings.BASE_DIR, capture_output=True, text=True).stdout.strip()  # noqa: S603, S607

    changed = [line for line in git("status", "--porcelain").splitlines() if line and not line.endswith("REPORT.md")]
    state = f", plus {len(changed)} uncommitted changes in the checkout" if changed else ", clean checkout"
    return f"{git('rev-parse', '--short', 'HEAD')} ({git('log', '-1', '--format=%s')[:80]}){state}"


def _flat_targets(f: dict) -> list[str]:
    lines = []
    shapes = f.get("shapes")
    if shapes:
        worst = max(shapes, key=lambda r: r.side.p95)
        worst_ratio = max(shapes, key=lambda r: r.side.ratio_p95)
        met = all(r.meets_target for r in shapes)
        lines.append(
            f"| every search shape p95 <= {flat.TARGET_SEARCH_P95_MS:.0f} ms and "
            f"<= {flat.TARGET_SEARCH_FLOOR_RATIO:.0f}x the floor ({len(shapes)} shapes, htmx partial) | "
            f"slowest p95 {_ms(worst.side.p95)} ms ({worst.query!r}); "
            f"highest ratio {worst_ratio.side.ratio_p95:.1f}x ({worst_ratio.query!r}); "
            f"{sum(not r.meets_target for r in shapes)} missed | {'yes' if met else 'NO'} |"
        )
    if "growth_met" in f:
        lines.append(
            f"| search shapes grow <= {flat.TARGET_GROWTH}x from {f['growth']['customers']:,} to 1M customers "
            "(page p95) | "
            f"highest {f['growth_highest']:.2f}x | {'yes' if f['growth_met'] else 'NO'} |"
        )
    if "tab_growth" in f:
        for label, ratio in f["tab_growth"].items():
            lines.append(
                f"| {label} at {max(seed.LONG_PAYMENTS):,} payments p95 <= {flat.TARGET_TAB_GROWTH}x the "
                f"{seed.MANY_PAYMENTS}-payment customer's | {ratio:.2f}x | "
                f"{'yes' if ratio <= flat.TARGET_TAB_GROWTH else 'NO'} |"
            )
    if "audit" in f:
        worst = max(f["audit"], key=lambda r: r.side.p95)
        lines.append(
            f"| Audit log p95 <= {flat.TARGET_AUDIT_P95_MS:.0f} ms with every filter, {seed.AUDIT_EVENTS:,} events | "
            f"slowest p95 {_ms(worst.side.p95)} ms ({worst.label}) | "
            f"{'yes' if all(r.meets_target for r in f['audit']) else 'NO'} |"
        )
        export = f["export"]
        lines.append(
            f"| CSV export >= {flat.TARGET_EXPORT_ROWS_PER_S:,} rows/s, memory flat | {export.per_second:,.0f} rows/s; "
            f"resident memory {export.rss_mb[0]:.0f} → {max(export.rss_mb):.0f} MB over {export.rows:,} rows | "
            f"{'yes' if export.per_second >= flat.TARGET_EXPORT_ROWS_PER_S else 'NO'} |"
        )
    if "typists" in f:
        t = f["typists"]
        lines.append(
            f"| with 4 typists, another client's profile page p95 <= {flat.TARGET_TYPISTS_RATIO}x idle | "
            f"{_ms(t.busy.p95)} vs {_ms(t.idle.p95)} ms: {t.ratio_p95:.2f}x | "
            f"{'yes' if t.ratio_p95 <= flat.TARGET_TYPISTS_RATIO else 'NO'} |"
        )
    return lines


def _flat_sections(f: dict, args: argparse.Namespace) -> list[str]:
    lines = []
    if f.get("shapes"):
        lines += [
            "## 5. Flat cost",
            "",
            "### 5a. Search shapes against the floor (1M customers)",
            "",
            "The htmx partial the search box requests while typing, beside the floor (measured in alternating "
            f"rounds, {args.repeat} requests each); `user_search alone` is the selector called directly (its SQL and "
            "Python, no view, no template). `rows` is what the page shows (25 at most).",
            "",
            *flat.shapes_table(f["shapes"]),
            "",
        ]
    if f.get("growth_lines"):
        lines += [
            f"### 5b. Growth: {f['growth']['customers']:,} customers against 1,000,000",
            "",
            f"The same shapes on `{flat.GROWTH_DATABASE}` (100,000 demo customers, built once), measured by a child "
            "process in the same run; each side's floor is beside it.",
            "",
            *f["growth_lines"],
            "",
        ]
    if f.get("tabs"):
        lines += [
            "### 5c. Profile tabs on long histories",
            "",
            "Tab switches (htmx) for customers with 500, 20,000 and 100,000 payments (each with its purchase ledger "
            "entry; 50, 20 and 20 refunded), beside the floor.",
            "",
            *f["tab_lines"],
            "",
        ]
    if f.get("audit"):
        lines += [
            f"### 5d. Audit log at {seed.AUDIT_EVENTS:,} events",
            "",
            "The whole Audit log page (`audit.views.audit_log`, 50 rows) with each filter, beside the floor; events "
            "by 20 staff members (one in ten by the system) over two years.",
            "",
            *flat.audit_table(f["audit"], f["export"]),
            "",
        ]
    if f.get("typists"):
        lines += [
            "### 5e. Four typists over gunicorn, and someone else's profile page",
            "",
            "gunicorn with `gunicorn.conf.py`; four threads type punctuation prefixes (o, o', o'b … j.s, ', -p, d', _, "
            "%) into the search box, a key every 100 ms each, while a fifth client opens a profile page (20 ms "
            "apart); the same page is measured first with nobody typing.",
            "",
            *flat.typists_table(f["typists"]),
            "",
        ]
    return lines


def report_write(
    *,
    env: dict[str, str],
    seeded: seed.SeedReport,
    search_results: list,
    search_rows: list[list[str]],
    page_results: list[pages.PageResult],
    refund_result: refunds.RefundResult | None,
    sms_results: list[dict],
    plans: list[tuple[str, str, str]],
    args: argparse.Namespace,
    seconds: dict[str, float],
    flat_results: dict | None = None,
) -> Path:
    flat_results = flat_results or {}
    lines = ["# Scale benchmark report", ""]
    lines.append(
        "Written by `make bench` (`python -m bench`); the hand-written findings are at the end (bench/NOTES.md)."
    )
    lines.append("")
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines.append(f"- code: {_git()}")
    steps = ", ".join(
        f"{k} {v:.0f} s" for k, v in (seeded.seconds if seeded.rebuilt else (seeded.previous_seconds or {})).items()
    )
    lines.append(
        f"- data: {seeded.users:,} customers, {seeded.payments:,} payments, {seeded.ledger_entries:,} ledger entries, "
        f"{seeded.refunds:,} refunds; "
        + ("built by this run: " if seeded.rebuilt else f"built {seeded.seeded_at[:19]} UTC: ")
        + steps
    )
    lines.append(
        f"- `verify_ledger` on the bench database: {seeded.verify_mismatches} mismatches "
        f"({seeded.verify_seconds:.1f} s), checked again after the refunds below"
    )
    lines.append("- phases: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in seconds.items()))
    lines.append("")

    # Targets first.
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    searches = [r for r in search_results if r.case.is_search]
    if searches:
        worst = max(searches, key=lambda r: r.ours.p95)
        worst_ratio = max(searches, key=lambda r: r.ratio_p95)
        lines.append(
            f"| search p95 <= {search.TARGET_P95_MS:.0f} ms and <= {search.TARGET_RATIO}x the admin's, every query | "
            f"slowest p95 {_ms(worst.ours.p95)} ms ({worst.case.query!r}); highest ratio {worst_ratio.ratio_p95:.3f}x "
            f"({worst_ratio.case.query!r}) | {'yes' if all(r.meets_target for r in searches) else 'NO'} |"
        )
    for r in page_results:
        if r.queries_typical is not None and "htmx" not in r.label:
            lines.append(
                f"| {r.label}: p95 <= {pages.TARGET_P95_MS:.0f} ms, SQL count flat | {_ms(r.page.p95)} ms "
                f"({r.ratio_p95:.1f}x the floor), {r.queries} queries with {r.rows.split(', ')[0]} vs "
                f"{r.queries_typical} with 3 payments | {'yes' if r.meets_target else 'NO'} |"
            )
    if refund_result:
        rr = refund_result
        lines.append(
            f"| refund execution p95 <= {refunds.TARGET_P95_MS:.0f} ms (sandbox) | "
            f"in-process {_ms(rr.in_process.p95)} ms; "
            f"over HTTP, one client {_ms(rr.sequential.p95)} ms | "
            f"{'yes' if max(rr.in_process.p95, rr.sequential.p95) <= refunds.TARGET_P95_MS else 'NO'} |"
        )
        ok = rr.speedup >= refunds.TARGET_SPEEDUP and rr.concurrent.deadlocks == 0 and not rr.concurrent.errors
        lines.append(
            f"| 8 concurrent clients: no deadlock, >= {refunds.TARGET_SPEEDUP}x sequential throughput | "
            f"{rr.speedup:.2f}x ({rr.concurrent.per_second:.1f} vs {rr.sequential.per_second:.1f} refunds/s), "
            f"{rr.concurrent.deadlocks} deadlocks, {len(rr.concurrent.errors)} errors | {'yes' if ok else 'NO'} |"
        )
    if sms_results:
        one = next(r for r in sms_results if r["workers"] == 1)
        two = next(r for r in sms_results if r["workers"] == 2)
        scaling = two["sent_per_second"] / one["sent_per_second"]
        lines.append(
            f"| SMS drain >= {SMS_TARGET_PER_SECOND}/s (console), near-linear with 2 workers | "
            f"{one['sent_per_second']:,}/s with 1 worker, {two['sent_per_second']:,}/s with 2 ({scaling:.2f}x) | "
            f"{'yes' if one['sent_per_second'] >= SMS_TARGET_PER_SECOND else 'NO'} / "
            f"{'yes' if scaling >= SMS_TARGET_SCALING else 'NO'} |"
        )
    lines += _flat_targets(flat_results)
    lines.append("")

    if search_results:
        lines += [
            "## 1. User search against Django's admin changelist search",
            "",
            f"{args.warmup} warm-up then {args.repeat} measured requests per query and side (fewer for a side slower "
            f"than {args.budget:.0f} s in all, never under 20), through Django's test client as a superuser: routing, "
            "middleware, session, view, SQL, templates, with DEBUG off. Ours: `accounts.views.user_list` "
            "(25 rows, keyset paging, no count); the htmx partial is what the search box requests while typing. "
            "Admin: a stock `ModelAdmin` with `search_fields = first_name, last_name, email` (100 rows, OFFSET "
            "paging, two counts).",
            "",
            search.markdown_table(search_rows),
            "",
        ]
    if page_results:
        lines += [
            "## 2. Profile tabs on long histories, against the floor",
            "",
            "Floor: `bench.urls.user_floor`, the same routing, middleware, session and staff check, one user by "
            "primary key, a line of HTML: what any page costs before it does anything. Page and floor are measured "
            f"in alternating rounds ({args.repeat} requests each). The SQL count of the first pages is compared "
            "with a customer who has 3 payments; `tests/payments/test_payments_tab_queries.py` asserts it.",
            "",
            *pages.pages_table(page_results),
            "",
        ]
    if refund_result:
        rr = refund_result
        seq, conc = rr.sequential, rr.concurrent
        lines += [
            "## 3. Refunds (sandbox gateway)",
            "",
            "Each refund is the modal's Execute refund: Full refund, the purchased credits taken back, the customer "
            "told by SMS (queued in the same transaction), POSTed to `refunds.views.refund_create`, on a payment "
            "never refunded, each of a different customer. Over HTTP: gunicorn with `gunicorn.conf.py` "
            f"({rr.gunicorn}), warmed up first; clients are threads with keep-alive connections.",
            "",
            "| run | refunds | p50 / p95 ms | throughput | deadlocks | errors |",
            "|---|---|---|---|---|---|",
            f"| in-process, one after another (test client) | {len(rr.in_process.samples_ms)} | "
            f"{_ms(rr.in_process.p50)} / {_ms(rr.in_process.p95)} | | | 0 |",
            f"| floor, between those refunds | {len(rr.floor.samples_ms)} | "
            f"{_ms(rr.floor.p50)} / {_ms(rr.floor.p95)} | | | |",
            f"| HTTP, 1 client | {seq.refunds} | {_ms(seq.p50)} / {_ms(seq.p95)} | {seq.per_second:.1f}/s | "
            f"{seq.deadlocks} | {len(seq.errors)} |",
            f"| HTTP, {conc.clients} clients at once | {conc.refunds} | {_ms(conc.p50)} / {_ms(conc.p95)} | "
            f"{conc.per_second:.1f}/s (**{rr.speedup:.2f}x**) | {conc.deadlocks} | {len(conc.errors)} |",
            "",
            f"Checked afterwards in the database, for all {rr.checked} refunds (warm-up included): "
            + (
                "each payment refunded once and in full, one `refund` ledger entry and one text message per refund."
                if not rr.problems
                else "PROBLEMS: " + "; ".join(rr.problems[:10])
            ),
            "",
        ]
    if sms_results:
        lines += [
            "## 4. SMS worker draining 10,000 messages (console backend)",
            "",
            "`bench/sms.py` on a database of its own: the messages are queued first (through `sms_notify`, as the "
            "refund service does), then worker processes (`manage.py procrastinate worker --one-shot`, concurrency "
            f"{settings.PROCRASTINATE_WORKER_DEFAULTS['concurrency']} each) drain them. Rate: messages over the time "
            "from the first to the last `sent_at`; with start-up: over the processes' whole life.",
            "",
            "| workers | messages | sent/s | sent/s with start-up | enqueue-to-sent p50 / p95 s | enqueued/s |",
            "|---|---|---|---|---|---|",
        ]
        for r in sms_results:
            lines.append(
                f"| {r['workers']} | {r['messages']:,} | {r['sent_per_second']:,} | "
                f"{r['sent_per_second_with_startup']:,} | "
                f"{r['enqueue_to_sent_p50_s']} / {r['enqueue_to_sent_p95_s']} | {r['enqueue_per_second']:,} |"
            )
        lines.append("")
    lines += _flat_sections(flat_results, args)
    if plans:
        lines += [
            "## 7. Query plans",
            "",
            "`EXPLAIN (ANALYZE, BUFFERS)` of each statement as the real selector sends it.",
        ]
        for title, sql, plan in plans:
            lines += ["", f"### {title}", "", "```sql", sql, "```", "", "```", plan, "```"]
        lines.append("")
    if NOTES.exists():
        lines += ["", NOTES.read_text().strip(), ""]
    REPORT.write_text("\n".join(lines))
    return REPORT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="rebuild the bench database first")
    parser.add_argument(
        "--only",
        default="search,pages,shapes,growth,tabs,audit,typists,refunds,sms,explain",
        help="comma-separated scenarios",
    )
    parser.add_argument("--repeat", type=int, default=50, help="measured requests per case and side")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds one search case and side may take")
    parser.add_argument(
        "--refunds", type=int, default=200, help="refunds per run (in-process, 1 client; 8 clients: x2)"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--messages", type=int, default=10_000, help="SMS messages to drain")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    OUT_DIR.mkdir(exist_ok=True)
    seconds: dict[str, float] = {}

    started = _phase("Bench database")
    seeded = seed.database_seed(staff_get=search.bench_staff, fresh=args.fresh)
    seconds["database"] = time.perf_counter() - started
    started = time.perf_counter()
    extras = seed.extras_ensure(search.bench_staff())
    seconds["database"] += time.perf_counter() - started
    client = Client()
    client.force_login(search.bench_staff())
    env = search.environment()
    floor_pk = User.objects.get(email=seed.MANY_PAYMENTS_EMAIL).pk

    search_results, search_rows = [], []
    if "search" in only:
        started = _phase("User search vs the admin")
        for case in search.cases_build():
            print(f"Measuring {case.label} ({case.query!r})…", flush=True)
            search_results.append(
                search.case_run(client, case, warmup=args.warmup, repeat=args.repeat, budget_s=args.budget)
            )
        search_rows = search.table_rows(search_results)
        print(search.text_table(search_rows), flush=True)
        seconds["search"] = time.perf_counter() - started

    page_results = []
    if "pages" in only:
        started = _phase("Profile tabs vs the floor")
        page_results = pages.pages_run(client, warmup=args.warmup, repeat=args.repeat)
        print("\n".join(pages.pages_table(page_results)), flush=True)
        seconds["tabs"] = time.perf_counter() - started

    flat_results: dict = {"extras": extras}
    if "shapes" in only or "growth" in only:
        started = _phase("Search shapes vs the floor")
        flat_results["shapes"] = flat.shapes_run(client, warmup=args.warmup, repeat=args.repeat)
        print("\n".join(flat.shapes_table(flat_results["shapes"])), flush=True)
        seconds["shapes"] = time.perf_counter() - started
    if "growth" in only:
        started = _phase(f"Growth: the shapes at {flat.GROWTH_CUSTOMERS:,} customers (child process)")
        growth = flat.growth_child(warmup=args.warmup, repeat=args.repeat)
        lines, met = flat.growth_table(growth, flat_results["shapes"])
        by_key = {(s["query"], s["page"]): s["side"]["p95"] for s in growth["shapes"]}
        ratios = [r.side.p95 / by_key[(r.query, r.page)] for r in flat_results["shapes"] if (r.query, r.page) in by_key]
        flat_results |= {"growth": growth, "growth_lines": lines, "growth_met": met, "growth_highest": max(ratios)}
        print("\n".join(lines), flush=True)
        seconds["growth"] = time.perf_counter() - started
    if "tabs" in only:
        started = _phase("Profile tabs of long histories")
        tabs = flat.tabs_run(client, warmup=args.warmup, repeat=args.repeat)
        tab_lines, tab_growth = flat.tabs_table(tabs)
        flat_results |= {"tabs": tabs, "tab_lines": tab_lines, "tab_growth": tab_growth}
        print("\n".join(tab_lines), flush=True)
        seconds["long tabs"] = time.perf_counter() - started
    if "audit" in only:
        started = _phase("Audit log at two million events")
        audit_results, export = flat.audit_run(client, warmup=args.warmup, repeat=args.repeat)
        flat_results |= {"audit": audit_results, "export": export}
        print("\n".join(flat.audit_table(audit_results, export)), flush=True)
        seconds["audit"] = time.perf_counter() - started
    if "typists" in only:
        started = _phase("Four typists over gunicorn")
        flat_results["typists"] = flat.typists_run(client)
        print("\n".join(flat.typists_table(flat_results["typists"])), flush=True)
        seconds["typists"] = time.perf_counter() - started

    refund_result = None
    if "refunds" in only:
        started = _phase("Refunds")
        refund_result = refunds.refunds_run(
            client,
            floor_pk=floor_pk,
            in_process=args.refunds,
            sequential=args.refunds,
            concurrent=2 * args.refunds,
            clients=args.clients,
        )
        rr = refund_result
        print(
            f"in-process p50/p95 {_ms(rr.in_process.p50)}/{_ms(rr.in_process.p95)} ms; HTTP 1 client "
            f"{rr.sequential.per_second:.1f}/s, {args.clients} clients {rr.concurrent.per_second:.1f}/s "
            f"({rr.speedup:.2f}x), deadlocks {rr.concurrent.deadlocks}, errors {len(rr.concurrent.errors)}; "
            f"problems: {rr.problems or 'none'}",
            flush=True,
        )
        verified = seed.ledger_verify(show=10)
        seeded.verify_mismatches = verified.mismatch_count
        seconds["refunds"] = time.perf_counter() - started

    sms_results = []
    if "sms" in only:
        started = _phase("SMS worker")
        sms_results = sms_run(args.messages)
        seconds["sms"] = time.perf_counter() - started

    plans = []
    if "explain" in only:
        _phase("Query plans")
        plans = explains()

    path = report_write(
        env=env,
        seeded=seeded,
        search_results=search_results,
        search_rows=search_rows,
        page_results=page_results,
        refund_result=refund_result,
        sms_results=sms_results,
        plans=plans,
        args=args,
        seconds=seconds,
        flat_results=flat_results,
    )
    print(f"\nWritten to {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
