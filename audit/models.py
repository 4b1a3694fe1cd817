from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now

from audit.actions import audit_action_label


class AuditEvent(models.Model):
    """One privileged action, who did it and what changed: the record auditors read.

    Written in the same transaction as the action itself (`audit.services.audit_record`), and
    append-only like the ledger: a Postgres trigger refuses UPDATE and DELETE.
    """

    created_at = models.DateTimeField(db_default=Now())
    # The staff member, or null with `actor_label` naming the system that acted ("Stripe", "Twilio").
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    # One of the registered actions (audit/actions.py); no choices here, so that an app adding an
    # action needs no migration of the audit trail.
    action = models.CharField(max_length=32)
    # The customer (or staff member) the action was about.
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    about_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("about_type", "about_id")
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        permissions = [("export_auditevent", "Can export the audit log")]
        # Index names from when the trail lived in accounts (renaming them would rebuild nothing).
        indexes = [
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="accounts_audit_newest"),
            # Each filter of the Audit log, newest first, and its date range in the same index
            # (at two million events, a date range read in id order filtered 1.9M rows).
            models.Index(fields=["actor", "-created_at", "-id"], name="audit_actor_newest"),
            models.Index(fields=["target_user", "-created_at", "-id"], name="audit_target_newest"),
            models.Index(fields=["action", "-created_at", "-id"], name="audit_action_newest"),
            # What an object's events are (the books check: every staff ledger entry has one).
            models.Index(fields=["about_type", "about_id"], name="audit_about"),
        ]

    def __str__(self) -> str:
        return f"{self.action_label} by {self.actor_label or self.actor_id}"

    @property
    def action_label(self) -> str:
        return audit_action_label(self.action)
