"""Settings for the search benchmark: the portal's own settings, on a database of its own, plus
Django's admin as the baseline to compare with.

The admin is installed here and only here: the portal leaves it out on purpose, because it would
let anyone with a staff login edit balances without going through the ledger.
"""

import os
import sys

# Must happen before statstak.settings is imported: statstak.database reads the name of the
# embedded database at import time. A million demo customers must never land in the database
# that `make run` and the tests use, so the embedded name is forced, not defaulted.
if not os.environ.get("DATABASE_URL"):
    # BENCH_DATABASE: the growth scenario's smaller database (bench/flat.py), same rule for its name.
    os.environ["STATSTAK_EMBEDDED_DATABASE"] = os.environ.get("BENCH_DATABASE", "statstak_bench")

from statstak.settings import *  # noqa: F403
from statstak.settings import ALLOWED_HOSTS, DATABASES, INSTALLED_APPS

if not str(DATABASES["default"]["NAME"]).endswith("bench"):
    sys.exit(
        f"bench: refusing to run against database {DATABASES['default']['NAME']!r}: "
        "its name must end in 'bench' (it gets a million users)."
    )

INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.admin"]
ROOT_URLCONF = "bench.urls"

# Production-like rendering: DEBUG would keep every SQL query in memory and skip the cached
# template loader, which is not what a deployed portal (or admin) does.
DEBUG = False
# Django's test client sends Host: testserver.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]

# One staff member runs every refund of a benchmark run (hundreds a minute), far past the limits
# meant for people; their checks (the daily cap's sum, the rate limit's upsert) still run on every
# refund, so their cost is measured.
REFUND_DAILY_CAP = 10**15
REFUND_RATE_LIMIT_PER_MINUTE = 10**9
