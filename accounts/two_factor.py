"""Two-factor authentication for staff: an authenticator app (TOTP), or a single-use recovery code.

django-otp keeps the devices: a `TOTPDevice` per staff member (the app's shared secret) and a
`StaticDevice` holding 10 recovery codes, each deleted as it is used. `OTPMiddleware` marks a
session that passed the second factor (`request.user.is_verified()`).

With `STATSTAK_REQUIRE_2FA` on, `TwoFactorRequiredMiddleware` lets a staff session that passed
only the password reach nothing but these pages (and the public ones: login, logout, webhooks):
a page redirects to the verify step, an HTMX request or a POST gets 403. It is the one place the
rule lives, so a new view is covered without remembering to be.

Enrolment is open to a staff member with no confirmed authenticator yet (their first login):
once one is confirmed, a new one can only be set up after an Administrator removed the old one
(`two_factor_reset`, `manage.py two_factor_reset <email>`), so a stolen password is never enough
to enrol the thief's phone.
"""

import math
import re
from base64 import b32encode
from collections.abc import Callable
from urllib.parse import urlencode

import qrcode
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode.image.svg import SvgPathFillImage

from accounts.audit import AccountAction
from accounts.models import User
from audit.services import audit_record

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

# The audit actions this module writes.
TWO_FACTOR_ENROLLED = AccountAction.TWO_FACTOR_ENROLLED
TWO_FACTOR_FAILED = AccountAction.TWO_FACTOR_FAILED
RECOVERY_CODE_USED = AccountAction.RECOVERY_CODE_USED
TWO_FACTOR_RESET = AccountAction.TWO_FACTOR_RESET

_TOTP_CODE = re.compile(r"^\d{6}$")
_RECOVERY_CODE = re.compile(r"^[a-z2-7]{8}$")


def two_factor_exempt(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Marks a view a password-only session may reach: the 2FA pages themselves."""
    view.two_factor_exempt = True
    return view


class TwoFactorRequiredMiddleware:
    """With STATSTAK_REQUIRE_2FA, a staff session that has not passed the second factor reaches no
    portal page or partial. Public views (`login_not_required`: login, logout, webhooks) and the
    2FA pages (`two_factor_exempt`) are let through; everything else is stopped before the view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if not settings.STATSTAK_REQUIRE_2FA:
            return None
        if not getattr(view_func, "login_required", True) or getattr(view_func, "two_factor_exempt", False):
            return None
        user = request.user
        if not (user.is_authenticated and user.is_staff) or user.is_verified():
            return None
        verify_url = reverse("two_factor_verify")
        if request.headers.get("HX-Request") == "true" or request.method not in ("GET", "HEAD"):
            # Nothing to swap into a page region, and no write goes through: the whole page goes
            # to the verify step instead (htmx follows HX-Redirect on any status).
            response = HttpResponseForbidden("Enter the code from your authenticator app first.")
            if request.headers.get("HX-Request") == "true":
                response["HX-Redirect"] = verify_url
            return response
        return redirect(f"{verify_url}?{urlencode({'next': request.get_full_path()})}")


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        max_length=32,
        error_messages={"required": "Enter the 6-digit code from your authenticator app, or a recovery code."},
    )

    def clean_code(self) -> str:
        # People type codes with spaces or dashes, as they are shown ("abcd efgh"), and in capitals.
        return re.sub(r"[\s-]", "", self.cleaned_data["code"]).lower()


def _staff_check(request: HttpRequest) -> User:
    # Not `staff_required`: that also asks for a role, and a staff member verifies before any role matters.
    user = request.user
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("The admin portal is for StatStak Labs staff only.")
    return user


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if safe:
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-id").first()


def _secret_text(device: TOTPDevice) -> str:
    """The shared secret as an authenticator app takes it typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(data: str) -> str:
    """`data` as an inline SVG QR code with no style attributes (the CSP allows none): qrcode's
    path image draws with presentation attributes (`fill="#000000"`), which CSS may size."""
    svg = qrcode.make(data, image_factory=SvgPathFillImage, border=4).to_string(encoding="unicode")
    # Its own size is in millimetres; the stylesheet sizes it instead, and a screen reader names it.
    svg = re.sub(
        r'^<svg width="[^"]*" height="[^"]*"',
        '<svg class="qr-code" role="img" aria-label="QR code for your authenticator app"',
        svg,
    )
    if "style" in svg:  # a qrcode upgrade that adds inline styles must not pass silently
        raise ValueError("The QR code SVG has a style attribute, which the CSP would block.")
    return svg


def _recovery_codes_issue(user: User) -> list[str]:
    """Replace the user's recovery codes with 10 new ones; returns them (shown once, never again)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def two_factor_reset(*, user: User, actor: User | None = None, actor_label: str = "") -> int:
    """Remove `user`'s authenticator apps and recovery codes (a lost phone), with an audit event;
    their next login sets up a new app. Returns how many devices went."""
    devices = [*TOTPDevice.objects.filter(user=user), *StaticDevice.objects.filter(user=user)]
    for device in devices:
        device.delete()  # a StaticDevice takes its codes with it
    audit_record(action=TWO_FACTOR_RESET, actor=actor, actor_label=actor_label, target_user=user)
    return len(devices)


def _device_verified(request: HttpRequest, device) -> None:
    """This session passed the second factor with `device`: remember it, under a new session key."""
    otp_login(request, device)
    # A session that gained privileges gets a new key, as at login: a key seen earlier is useless.
    request.session.cycle_key()


def _throttle_seconds(device) -> int:
    """How long `device` refuses codes after wrong ones (0: it takes one now)."""
    allowed, details = device.verify_is_allowed()
    if allowed:
        return 0
    return max(1, math.ceil((details["locked_until"] - timezone.now()).total_seconds()))


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {"two_factor_pending": True, **context}, status=status)


@two_factor_exempt
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = _staff_check(request)
    next_url = _next_url(request)
    if _confirmed_totp_device(user) is not None:
        if user.is_verified():
            return redirect(next_url)
        return redirect(f"{reverse('two_factor_verify')}?{urlencode({'next': next_url})}")

    # The same secret until it is confirmed, so reloading the page does not break a scan in progress.
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)

    form = TwoFactorCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            with transaction.atomic():
                device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
                code = form.cleaned_data["code"]
                wait = _throttle_seconds(device)
                confirmed = not wait and bool(_TOTP_CODE.match(code)) and device.verify_token(code)
                if confirmed:
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
                    codes = _recovery_codes_issue(user)
                    audit_record(action=TWO_FACTOR_ENROLLED, actor=user, target_user=user)
            if confirmed:
                _device_verified(request, device)
                context = {"codes": codes, "next_url": next_url}
                return _render(request, "accounts/two_factor_recovery_codes.html", context)
            audit_record(action=TWO_FACTOR_FAILED, actor=user, target_user=user, after={"step": "enrolment"})
            if wait:
                message = f"Too many wrong codes in a row: wait {wait} seconds, then enter the current code."
            else:
                message = "That code is not right. Check the time on your phone, then enter the current code."
            form.add_error("code", message)

    context = {
        "form": form,
        "next_url": next_url,
        "qr_svg": qr_code_svg(device.config_url),
        "secret": _secret_text(device),
    }
    return _render(request, "accounts/two_factor_setup.html", context, status=status)


@two_factor_exempt
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = _staff_check(request)
    next_url = _next_url(request)
    if user.is_verified():
        return redirect(next_url)
    totp_device = _confirmed_totp_device(user)
    if totp_device is None:
        return redirect(f"{reverse('two_factor_setup')}?{urlencode({'next': next_url})}")

    form = TwoFactorCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            code = form.cleaned_data["code"]
            # A code's shape says which device it is for: a mistyped recovery code must not slow
            # down the app (django-otp makes a device wait 1, 2, 4… seconds after each failure).
            if _TOTP_CODE.match(code):
                device = totp_device
            elif _RECOVERY_CODE.match(code):
                device = StaticDevice.objects.devices_for_user(user).first()
            else:
                device = None
            wait = _throttle_seconds(device) if device is not None else 0
            verified = verify_token(user, device.persistent_id, code) if device is not None and not wait else None
            if verified is not None:
                _device_verified(request, verified)
                if isinstance(verified, StaticDevice):
                    # Said on a page of its own: someone using a recovery code has likely lost their phone.
                    left = verified.token_set.count()
                    audit_record(action=RECOVERY_CODE_USED, actor=user, target_user=user, after={"codes_left": left})
                    context = {"left": left, "total": RECOVERY_CODE_COUNT, "next_url": next_url}
                    return _render(request, "accounts/two_factor_recovery_used.html", context)
                return redirect(next_url)
            audit_record(action=TWO_FACTOR_FAILED, actor=user, target_user=user, after={"step": "verification"})
            if wait:
                message = f"Too many wrong codes in a row: wait {wait} seconds, then enter the current code."
            else:
                message = (
                    "That code is not right. Enter the current code from your authenticator app, or a recovery code."
                )
            form.add_error("code", message)

    return _render(request, "accounts/two_factor_verify.html", {"form": form, "next_url": next_url}, status=status)
