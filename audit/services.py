"""Writing the audit trail."""

from django.contrib.contenttypes.models import ContentType
from django.db import models

from audit.actions import audit_action_is_known
from audit.models import AuditEvent
from core.correlation import correlation_id, request_client


def audit_record(
    *,
    action: str,
    actor: models.Model | None = None,
    actor_label: str = "",
    target_user: models.Model | None = None,
    about: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Write one audit event, in the caller's transaction: if the action rolls back, so does its record.

    `actor` is the staff member who acted; a system actor (a webhook, a job) has `actor=None` and
    says who it is in `actor_label` ("Stripe", "Twilio", "Reconciliation"). The request's client
    address, user agent and correlation id are taken from the current request, if any. `action`
    must be registered by the app that performs it (audit/actions.py).
    """
    if not audit_action_is_known(action):
        raise ValueError(f"Unknown audit action {action!r}: register it in its app's AppConfig.ready().")
    ip_address, user_agent = request_client()
    if actor is not None and not actor_label:
        actor_label = actor.get_full_name() or actor.get_username()
    about_link = {}
    if about is not None:
        about_link = {"about_type": ContentType.objects.get_for_model(about), "about_id": about.pk}
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=actor_label or "System",
        target_user=target_user,
        before=before,
        after=after,
        ip_address=ip_address,
        user_agent=user_agent,
        correlation_id=correlation_id(),
        **about_link,
    )
