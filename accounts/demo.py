"""Realistic, deterministic demo people.

The same `count` always yields the same people (fixed random seed, emails numbered by position),
so seeding twice inserts nothing the second time: rows are keyed by their email. They are
written, with the ledger entries that explain their balances, by `payments.demo`.
"""

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group
from faker import Faker

from accounts.models import CustomerNote, User
from accounts.roles import ADMINISTRATOR, FINANCE, roles_ensure

STAFF_EMAIL = "staff@statstak.test"
STAFF_PASSWORD = "statstak-demo"  # noqa: S105  (the local demo's login, printed by make run)

# The help article's example customer first; the others show accents and a missing phone.
FEATURED = [
    ("Elijah", "Herrick", "elijah.herrick@example.com", "+12025550143"),
    ("Zoë", "Brontë", "zoe.bronte@example.net", "+14155550188"),
    ("José", "Núñez", "jose.nunez@example.org", ""),
]
AREA_CODES = [201, 202, 212, 305, 312, 404, 415, 503, 512, 602, 617, 646, 702, 713, 718, 808, 917]
DOMAINS = ["example.com", "example.net", "example.org"]
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoPerson:
    index: int
    email: str
    first_name: str
    last_name: str
    phone: str
    date_joined: datetime


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def demo_people(count: int) -> Iterator[DemoPerson]:
    """The featured customers, then generated ones, `count` in all, the same every time."""
    faker = Faker(["en_US", "en_GB", "es_ES", "fr_FR", "de_DE", "it_IT"])
    faker.seed_instance(20261127)
    first_names = sorted({faker.first_name() for _ in range(3000)})
    last_names = sorted({faker.last_name() for _ in range(3000)})
    rng = random.Random(20261127)  # noqa: S311  (demo data, reproducible on purpose)
    for index in range(count):
        if index < len(FEATURED):
            first, last, email, phone = FEATURED[index]
            joined = EPOCH - timedelta(days=400 + index)
        else:
            first, last = rng.choice(first_names), rng.choice(last_names)
            email = f"{_ascii(first)}.{_ascii(last)}{index}@{rng.choice(DOMAINS)}"
            phone = "" if rng.random() < 0.05 else f"+1{rng.choice(AREA_CODES)}55501{rng.randrange(100):02d}"
            joined = EPOCH - timedelta(seconds=rng.randrange(5 * 365 * 24 * 3600))
        yield DemoPerson(index, email, first, last, phone, joined)


FINANCE_EMAIL = "finance@statstak.test"


def demo_staff() -> tuple[User, bool]:
    """The demo staff: Adam Hobson, Administrator (the login `make run` prints), and Fran Finance,
    Finance, who can approve Adam's large refunds (same password). Returns Adam."""
    roles_ensure()
    adam = User.objects.filter(email__iexact=STAFF_EMAIL).first()
    created = adam is None
    if created:
        adam = User.objects.create_user(
            STAFF_EMAIL, STAFF_PASSWORD, first_name="Adam", last_name="Hobson", is_staff=True
        )
        adam.groups.add(Group.objects.get(name=ADMINISTRATOR))
    if not User.objects.filter(email__iexact=FINANCE_EMAIL).exists():
        fran = User.objects.create_user(
            FINANCE_EMAIL, STAFF_PASSWORD, first_name="Fran", last_name="Finance", is_staff=True
        )
        fran.groups.add(Group.objects.get(name=FINANCE))
    return adam, created


DEMO_NOTES = {
    "elijah.herrick@example.com": [
        "Called about the March top-up: the card was declined twice, then went through. Nothing to refund.",
        "Prefers email to phone calls; the number on file is his office line (search it as #0143).",
    ],
    "zoe.bronte@example.net": ["Asked how credits expire: they do not. Sent her the help article."],
}


def demo_notes(*, author: User) -> int:
    """A few staff notes on the featured customers (through the service: audited like any note),
    unless they already have some. Returns how many were added."""
    from accounts.services import customer_note_add

    added = 0
    for email, texts in DEMO_NOTES.items():
        customer = User.objects.filter(email__iexact=email).first()
        if customer is None or CustomerNote.objects.filter(user=customer).exists():
            continue
        for text in texts:
            customer_note_add(customer=customer, author=author, text=text)
            added += 1
    return added
