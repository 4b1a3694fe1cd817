"""Bulk credits benchmark: a 10,000-row CSV file checked (the dry run) and applied.

    .venv/bin/python -m bench.bulk_credits                 # 10,000 rows
    .venv/bin/python -m bench.bulk_credits --rows 2000

Not part of `make bench`'s default run (it takes minutes). It makes that many new customers, a
file with one credit change for each (under the approval threshold, so every row is applied), then
times `credit_batch_check` (parse, two lookups, every row judged, the batch stored) and the apply
job run by a real procrastinate worker in this process (each row through `credits_adjust` in its own
transaction: row lock, customer lock, ledger entry, audit event), from Apply to the batch applied.
Afterwards every row is checked applied and `verify_ledger` runs.

It works in its own database on the embedded server (`statstak_bench_bulk_credits`), never the
portal's.
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

BENCH_DATABASE = "statstak_bench_bulk_credits"
os.environ["STATSTAK_EMBEDDED_DATABASE"] = BENCH_DATABASE
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statstak.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
if os.environ.get("DATABASE_URL"):
    sys.exit("bench.bulk_credits runs on the embedded server's own benchmark database: unset DATABASE_URL.")

import django  # noqa: E402  (settings need the environment above)

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from procrastinate.contrib.django import app  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.roles import FINANCE, roles_ensure  # noqa: E402
from payments.models import CreditBatch, CreditBatchRow  # noqa: E402
from payments.services.credit_batches import credit_batch_apply_start, credit_batch_check  # noqa: E402

OUT = Path(settings.BASE_DIR) / "bench" / "out"


def customers_make(rows: int, run: str) -> list[User]:
    """New customers at 0 credits (an empty ledger explains 0), unique to this run."""
    return User.objects.bulk_create(
        [
            User(email=f"bulk.{run}.{n}@example.com", first_name="Bulk", last_name=f"Customer {n}", password="!")  # noqa: S106 (unusable)
            for n in range(rows)
        ],
        batch_size=2000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    if not 1 <= args.rows <= 20_000:
        sys.exit("--rows must be between 1 and 20,000 (the file limit).")

    call_command("migrate", verbosity=0)
    roles_ensure()
    run = uuid.uuid4().hex[:8]
    staff = User.objects.create_user(email=f"bulk.finance.{run}@statstak.test", password=None, is_staff=True)
    staff.groups.add(Group.objects.get(name=FINANCE))
    staff = User.objects.get(pk=staff.pk)  # fresh permission cache
    customers = customers_make(args.rows, run)
    threshold = settings.CREDITS_APPROVAL_THRESHOLD
    lines = ["customer,credits_delta,note"]
    lines += [f"{c.email},{1 + n % threshold},Bench run {run}" for n, c in enumerate(customers)]
    content = ("\n".join(lines) + "\n").encode()

    started = time.perf_counter()
    batch = credit_batch_check(upload=SimpleUploadedFile(f"bench-{run}.csv", content), actor=staff)
    check_seconds = time.perf_counter() - started
    ready = batch.rows.filter(verdict=CreditBatchRow.Verdict.READY).count()

    started = time.perf_counter()
    credit_batch_apply_start(batch=batch, actor=staff)  # commits, and defers the job
    conn_max_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    try:
        with app.replace_connector(app.connector.get_worker_connector()):
            app.run_worker(
                queues=["payments"], wait=False, install_signal_handlers=False, listen_notify=False, concurrency=1
            )
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = conn_max_age
    apply_seconds = time.perf_counter() - started

    batch.refresh_from_db()
    applied = batch.rows.filter(outcome=CreditBatchRow.Outcome.APPLIED).count()
    if batch.status != CreditBatch.Status.APPLIED or applied != args.rows:
        sys.exit(f"bench.bulk_credits: batch {batch.status}, {applied:,} of {args.rows:,} rows applied")
    call_command("verify_ledger", verbosity=0)
    result = {
        "rows": args.rows,
        "file_bytes": len(content),
        "dry_run_seconds": round(check_seconds, 2),
        "ready_rows": ready,
        "apply_seconds": round(apply_seconds, 2),
        "rows_applied": applied,
        "rows_per_second": round(applied / apply_seconds, 1),
        "ms_per_row": round(1000 * apply_seconds / applied, 2),
    }
    print(
        f"bulk credits: {args.rows:,} rows ({len(content) / 1024:,.0f} KiB): dry run {check_seconds:.2f} s; "
        f"apply {apply_seconds:.2f} s ({result['rows_per_second']:,} rows/s, {result['ms_per_row']} ms a row); "
        "every row applied, verify_ledger clean",
        flush=True,
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bulk_credits.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"Written to {OUT / 'bulk_credits.json'}")


if __name__ == "__main__":
    main()
