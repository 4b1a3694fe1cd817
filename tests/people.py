"""Staff as the security and browser tests need them: with exactly one role, logged in by password,
with a second factor. Plain helpers (fixtures are in the conftest files)."""

import time
from base64 import b32decode

from django.contrib.auth.models import Group
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.roles import roles_ensure
from tests.factories import STAFF_PASSWORD, StaffFactory


def staff_with_role(role: str | None, **fields) -> User:
    """A staff member with exactly `role` (accounts/roles.py; None: no role, no permission at all)."""
    staff = StaffFactory(**fields)
    staff.user_permissions.clear()
    staff.groups.clear()
    if role is not None:
        roles_ensure()  # tests that empty the database between them lose the migration's groups
        staff.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=staff.pk)  # no stale permission cache


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
