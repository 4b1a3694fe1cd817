"""Realistic, deterministic demo people.

The same `count` always yields the same people (fixed random seed, emails numbered by position),
so seeding twice inserts nothing the second time: rows are keyed by their email. They are
written, with the ledger entries that explain their balances, by `payments.demo`.
"""

import random
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from faker import Faker

from accounts.models import User

STAFF_EMAIL = "staff@statstak.test"
STAFF_PASSWORD = "statstak-demo"  # noqa: S105  (the local demo's login, printed by make run)

# The help article's example customer, always present and always first.
FEATURED = [
    ("Elijah", "Herrick", "elijah.herrick@example.com", "+12025550143", 120),
    ("Zoë", "Brontë", "zoe.bronte@example.net", "+14155550188", 40),
    ("José", "Núñez", "jose.nunez@example.org", "+13055550117", 0),
]
AREA_CODES = [
    201,
    202,
    212,
    213,
    305,
    312,
    404,
    415,
    503,
    512,
    602,
    617,
    646,
    702,
    713,
    718,
    720,
    808,
    917,
    971,
]
DOMAINS = ["example.com", "example.net", "example.org"]
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
COLUMNS = ["email", "first_name", "last_name", "phone", "credits", "date_joined"]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def demo_customers(count: int) -> Iterator[tuple]:
    """Rows in COLUMNS order: the featured customers, then generated ones, `count` in all."""
    faker = Faker(["en_US", "en_GB", "es_ES", "fr_FR", "de_DE", "it_IT"])
    faker.seed_instance(20261127)
    first_names = sorted({faker.first_name() for _ in range(3000)})
    last_names = sorted({faker.last_name() for _ in range(3000)})
    rng = random.Random(20261127)  # noqa: S311  (demo data, reproducible on purpose)
    for index in range(count):
        if index < len(FEATURED):
            first, last, email, phone, credits = FEATURED[index]
            joined = EPOCH - timedelta(days=400 + index)
        else:
            first, last = rng.choice(first_names), rng.choice(last_names)
            email = f"{_ascii(first)}.{_ascii(last)}{index}@{rng.choice(DOMAINS)}"
            phone = "" if rng.random() < 0.05 else f"+1{rng.choice(AREA_CODES)}55501{rng.randrange(100):02d}"
            credits = 0 if rng.random() < 0.3 else rng.randrange(1, 50) * 10
            joined = EPOCH - timedelta(seconds=rng.randrange(5 * 365 * 24 * 3600))
        yield (email, first, last, phone, credits, joined.isoformat())


def demo_staff() -> tuple[User, bool]:
    """The demo staff member that `make run` prints the login of."""
    staff = User.objects.filter(email__iexact=STAFF_EMAIL).first()
    if staff is not None:
        return staff, False
    staff = User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD, first_name="Adam", last_name="Hobson")
    return staff, True
