"""The profile's Payments and Activity tabs on long histories, each beside the floor.

The floor is `bench.urls.user_floor`: the same routing, middleware, session and staff check as
every portal page, one user fetched by primary key and a line of HTML. Measured in the same run,
interleaved with the tabs, so that the ratio tab/floor holds on a noisy machine.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from bench.search import Timings, measure, requester
from bench.seed import LONG_HISTORY_EMAIL, MANY_PAYMENTS_EMAIL
from notifications.models import SmsMessage
from payments.models import LedgerEntry, Payment

TARGET_P95_MS = 100.0


@dataclass
class PageResult:
    label: str
    customer: str
    rows: str  # what the customer has (payments, ledger entries)
    page: Timings
    floor: Timings
    queries: int
    queries_typical: int | None  # the same page for a customer with three payments (first pages only)

    @property
    def ratio_p50(self) -> float:
        return self.page.p50 / self.floor.p50

    @property
    def ratio_p95(self) -> float:
        return self.page.p95 / self.floor.p95

    @property
    def meets_target(self) -> bool:
        return self.page.p95 <= TARGET_P95_MS and self.queries_typical in (None, self.queries)


def _queries(request) -> int:
    with CaptureQueriesContext(connection) as captured:
        request()
    return len(captured)


def _typical_customer() -> User:
    """A demo customer with three payments: what most profiles look like."""
    pk = (
        Payment.objects.values("user_id")
        .annotate(n=Count("id"))
        .filter(n=3, user_id__lt=1000)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .first()
    )
    return User.objects.get(pk=pk)


def pages_run(client: Client, *, warmup: int, repeat: int) -> list[PageResult]:
    many = User.objects.get(email=MANY_PAYMENTS_EMAIL)
    long = User.objects.get(email=LONG_HISTORY_EMAIL)
    typical = _typical_customer()
    cases = [
        ("Payments tab", many, "user_payments", {}, {}),
        (
            "Payments tab, htmx (tab switch)",
            many,
            "user_payments",
            {},
            {"hx_request": "true", "hx_target": "profile-tabs"},
        ),
        ("Payments tab, older payments (page 2)", many, "user_payments", "before", {}),
        ("Activity tab", long, "user_activity", {}, {}),
        (
            "Activity tab, htmx (tab switch)",
            long,
            "user_activity",
            {},
            {"hx_request": "true", "hx_target": "profile-tabs"},
        ),
        ("Activity tab, older entries (page 2)", long, "user_activity", "before", {}),
    ]
    results = []
    for label, customer, url_name, params, headers in cases:
        print(f"Measuring {label}…", flush=True)
        if params == "before":
            # The second page: before the 10th newest payment, or the 25th newest ledger entry.
            if url_name == "user_payments":
                ids = Payment.objects.filter(user=customer).order_by("-created_at", "-id").values_list("id", flat=True)
                params = {"before": str(ids[9])}
            else:
                ids = LedgerEntry.objects.filter(user=customer).order_by("-id").values_list("id", flat=True)
                params = {"before": str(ids[24])}
        page = requester(client, reverse(url_name, args=[customer.pk]), params, **headers)
        floor = requester(client, reverse("bench_user_floor", args=[customer.pk]), {})
        page_timings, floor_timings = Timings(), Timings()
        # Interleaved in rounds, so that a burst of noise hits both sides alike.
        rounds = 5
        for _ in range(rounds):
            t, _ = measure(page, warmup=max(1, warmup // rounds), repeat=repeat // rounds)
            page_timings.samples_ms += t.samples_ms
            t, _ = measure(floor, warmup=max(1, warmup // rounds), repeat=repeat // rounds)
            floor_timings.samples_ms += t.samples_ms
        first_page = not params
        typical_page = requester(client, reverse(url_name, args=[typical.pk]), {}, **headers) if first_page else None
        rows = (
            f"{Payment.objects.filter(user=customer).count():,} payments"
            if url_name == "user_payments"
            else f"{LedgerEntry.objects.filter(user=customer).count():,} ledger entries, "
            f"{SmsMessage.objects.filter(user=customer).count()} text messages"
        )
        results.append(
            PageResult(
                label=label,
                customer=customer.full_name,
                rows=rows,
                page=page_timings,
                floor=floor_timings,
                queries=_queries(page),
                queries_typical=_queries(typical_page) if typical_page else None,
            )
        )
    return results


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def pages_table(results: list[PageResult]) -> list[str]:
    headers = [
        "page",
        "customer has",
        "p50 / p95 ms",
        "floor p50 / p95 ms",
        "page/floor p50 / p95",
        "SQL per request (this customer / one with 3 payments)",
        "n",
        f"target (p95 <= {TARGET_P95_MS:.0f} ms, SQL count flat)",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in results:
        lines.append(
            "| "
            + " | ".join(
                [
                    r.label,
                    r.rows,
                    f"{_ms(r.page.p50)} / {_ms(r.page.p95)}",
                    f"{_ms(r.floor.p50)} / {_ms(r.floor.p95)}",
                    f"{r.ratio_p50:.1f}x / {r.ratio_p95:.1f}x",
                    f"{r.queries} / {r.queries_typical if r.queries_typical is not None else '—'}",
                    str(len(r.page.samples_ms)),
                    "yes" if r.meets_target else "NO",
                ]
            )
            + " |"
        )
    return lines
