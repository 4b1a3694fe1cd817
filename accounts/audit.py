"""What accounts writes to the audit trail, and the login moments it records.

Django's auth signals are the only place logins and logouts can be observed; the receivers only
record them, through the same `audit_record` every other privileged action uses.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models
from django.dispatch import receiver

from audit.services import audit_record


class AccountAction(models.TextChoices):
    LOGIN_SUCCEEDED = "login_succeeded", "Logged in"
    LOGIN_FAILED = "login_failed", "Login failed"
    LOGIN_LOCKED_OUT = "login_locked_out", "Login locked out"
    TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Two-factor set up"
    TWO_FACTOR_FAILED = "two_factor_failed", "Two-factor code refused"
    RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
    TWO_FACTOR_RESET = "two_factor_reset", "Two-factor reset"
    LOGOUT = "logout", "Logged out"
    STAFF_CHANGED = "staff_changed", "Staff member changed"
    NOTE_ADDED = "customer_note_added", "Note added"


@receiver(user_logged_in, dispatch_uid="audit_login_succeeded")
def login_succeeded(sender, request, user, **kwargs) -> None:
    audit_record(action=AccountAction.LOGIN_SUCCEEDED, actor=user, target_user=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the address typed in: never the password (Django already masks it in `credentials`).
    username = str(credentials.get("username", ""))[:254]
    audit_record(action=AccountAction.LOGIN_FAILED, actor_label="Unknown", after={"username": username})


@receiver(user_logged_out, dispatch_uid="audit_logout")
def logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action=AccountAction.LOGOUT, actor=user, target_user=user)
