"""Logins and logouts in the audit trail.

Django's auth signals are the only place these moments can be observed; the receivers only
record them, through the same `audit_record` every other privileged action uses.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.models import AuditEvent
from accounts.services import audit_record


@receiver(user_logged_in, dispatch_uid="audit_login_succeeded")
def login_succeeded(sender, request, user, **kwargs) -> None:
    audit_record(action=AuditEvent.Action.LOGIN_SUCCEEDED, actor=user, target_user=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the address typed in: never the password (Django already masks it in `credentials`).
    username = str(credentials.get("username", ""))[:254]
    audit_record(action=AuditEvent.Action.LOGIN_FAILED, actor_label="Unknown", after={"username": username})


@receiver(user_logged_out, dispatch_uid="audit_logout")
def logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action=AuditEvent.Action.LOGOUT, actor=user, target_user=user)
