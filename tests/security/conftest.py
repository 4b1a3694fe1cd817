"""Who is asking: the people of the permission matrix, and helpers for the second factor."""

import time
from base64 import b32decode

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.roles import ADMINISTRATOR, FINANCE, SUPPORT, roles_ensure  # noqa: F401 (the tests import them from here)
from tests.factories import STAFF_PASSWORD, CustomerFactory, StaffFactory


def staff_with_role(role: str | None, **fields) -> User:
    """A staff member with exactly `role` (accounts/roles.py; None: no role, no permission at all)."""
    staff = StaffFactory(**fields)
    staff.user_permissions.clear()
    staff.groups.clear()
    if role is not None:
        roles_ensure()  # tests that empty the database between them lose the migration's groups
        staff.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=staff.pk)  # no stale permission cache


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    # The real hasher takes half a second per password by design; these tests log in a lot.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def require_2fa(settings) -> None:
    settings.STATSTAK_REQUIRE_2FA = True


def totp_device_confirmed(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def totp_code(device_or_secret: TOTPDevice | str, *, at: float | None = None) -> str:
    """The code an authenticator app shows now (or at `at`), from the device or the typed-in key."""
    if isinstance(device_or_secret, str):
        key = b32decode(device_or_secret.replace(" ", ""))
        totp = TOTP(key, 30, 0, 6, 0)
    else:
        device = device_or_secret
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():06d}"


def password_login(client: Client, email: str, password: str = STAFF_PASSWORD, **extra):
    return client.post("/login/", {"username": email, "password": password}, **extra)


@pytest.fixture
def customer_account(db) -> User:
    """A customer who somehow has a password: the portal must still refuse them."""
    customer = CustomerFactory(email="someone@example.com")
    customer.set_password(STAFF_PASSWORD)
    customer.save()
    return customer
