"""Protecting staff logins: the lockout answer (django-axes counts the failures) and idle sessions.

Axes counts failed logins per (typed email, client address) and, past `LOGIN_FAILURE_LIMIT`,
refuses that pair for `LOGIN_LOCKOUT_MINUTES`, whether or not the email belongs to an account,
even with the right password. `login_locked_out` is its answer: the login page again, status
429, with one form error that reads the same for every email, so it tells nobody which accounts
exist.
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.audit import AccountAction
from accounts.forms import StaffAuthenticationForm
from audit.services import audit_record
from core.correlation import request_client

logger = logging.getLogger(__name__)

# The audit action this module writes.
LOGIN_LOCKED_OUT = AccountAction.LOGIN_LOCKED_OUT

SESSION_LAST_SEEN = "statstak_last_seen"
SESSION_STARTED = "statstak_session_started"
# The last-seen time is written at most this often: not a session save on every request.
LAST_SEEN_RESOLUTION_SECONDS = 60


def lockout_message() -> str:
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    return (
        f"Too many failed attempts to log in. For your security, logging in is paused for {minutes} minutes; "
        "try again after that."
    )


def login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The email a login attempt is counted against, as the login matches it: trimmed, any case."""
    value = (credentials or {}).get("username") if credentials else request.POST.get("username")
    return str(value or "").strip().lower()[:254] or None


def login_client_address(request: HttpRequest) -> str | None:
    """The address axes counts failures against: the one the audit trail records (the request's
    REMOTE_ADDR, or X-Forwarded-For's first address with TRUST_X_FORWARDED_FOR)."""
    address, _ = request_client()
    return address or request.META.get("REMOTE_ADDR")


def login_locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None):
    """Axes' lockout answer (AXES_LOCKOUT_CALLABLE): the login form, 429, the lockout as its error."""
    context = dict(getattr(original_response, "context_data", None) or {})
    form = context.get("form")
    if not isinstance(form, StaffAuthenticationForm):
        form = StaffAuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")})
    username = str((credentials or {}).get("username") or request.POST.get("username", ""))[:254]
    audit_record(action=LOGIN_LOCKED_OUT, actor_label="Unknown", after={"username": username})
    logger.warning("Login refused: too many failed attempts (lockout for %s minutes)", settings.LOGIN_LOCKOUT_MINUTES)
    context.update(form=form, lockout_message=lockout_message(), next=request.POST.get("next", ""))
    return render(request, "registration/login.html", context, status=429)


class SessionIdleTimeoutMiddleware:
    """Logs out a session that made no request for SESSION_IDLE_SECONDS, or that is older than
    SESSION_COOKIE_AGE however busy, and says why on the login page the next request leads to.

    Saving the session every minute keeps its cookie alive, so the absolute limit is kept here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._session_check(request)
        return self.get_response(request)

    def _session_check(self, request: HttpRequest) -> None:
        now = int(time.time())
        session = request.session
        # Until the session notes its own times, the login's (User.last_login, written at login)
        # stands in: the first requests after a login write nothing.
        last_login = request.user.last_login
        logged_in = int(last_login.timestamp()) if last_login else now
        last_seen = session.get(SESSION_LAST_SEEN, logged_in)
        started = session.get(SESSION_STARTED, logged_in)
        idle_limit = settings.SESSION_IDLE_SECONDS
        if now - last_seen > idle_limit:
            reason = f"You were logged out after {idle_limit // 60} minutes without activity. Log in again to continue."
        elif now - started > settings.SESSION_COOKIE_AGE:
            hours = settings.SESSION_COOKIE_AGE // 3600
            reason = f"Your session ended after {hours} hours. Log in again to continue."
        else:
            if now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS:
                session[SESSION_LAST_SEEN] = now
                session[SESSION_STARTED] = started
            return
        logout(request)
        messages.info(request, reason)
