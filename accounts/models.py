from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Lower, Now
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from accounts.search import SearchableText


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> "User":
        return self.alias(email_lower=Lower("email")).get(email_lower=username.lower())

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("Users must have an email address.")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)  # None gives an unusable password: customers do not log in
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: a customer, or (with `is_staff`) a StatStak Labs staff member.

    `credits` is a cache of the ledger: it only ever changes in the same transaction as the
    ledger entry that explains it.
    """

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    phone = PhoneNumberField(blank=True)
    credits = models.BigIntegerField(default=0)
    is_staff = models.BooleanField(default=False, help_text="Staff members can log in to the admin portal.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        permissions = [("manage_staff", "Can give staff members roles and deactivate them")]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with this email address already exists.",
            ),
            models.CheckConstraint(condition=models.Q(credits__gte=0), name="accounts_user_credits_non_negative"),
        ]
        indexes = [
            GinIndex(OpClass(SearchableText(), name="gin_trgm_ops"), name="accounts_user_search_trgm"),
            # The Users list without a query: newest first, paged by keyset.
            models.Index(models.F("date_joined").desc(), models.F("id").desc(), name="accounts_user_newest"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.first_name or self.email


class SmsStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"


class SmsMessage(models.Model):
    """A text message to a customer, from the moment it is queued to what the carrier made of it.

    Written by `sms_notify` in the caller's transaction together with its send job; moved on by
    the send job (`sending`, then `sent` or `failed`) and by the provider's delivery-status
    callbacks (`delivered`, `undelivered`, `failed`), never backwards. `to` is the number it was
    addressed to at the time, so a later change of the customer's number does not rewrite history.
    """

    Status = SmsStatus

    # No index of its own: the (user, newest first) index below serves every lookup by user.
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="sms_messages", db_index=False)
    to = PhoneNumberField(blank=True, help_text="The number it was addressed to; blank when the user had none.")
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    provider = models.CharField(max_length=16, blank=True, help_text="The SMS backend that sent it.")
    provider_message_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # What the message is about (a refund, later): a generic link, so accounts imports no later app.
    about_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("about_type", "about_id")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=SmsStatus.values), name="accounts_sms_status_valid"),
            models.CheckConstraint(
                condition=models.Q(about_type__isnull=True, about_id__isnull=True)
                | models.Q(about_type__isnull=False, about_id__isnull=False),
                name="accounts_sms_about_complete",
            ),
            # One message at the provider is one of ours: a status callback can never match two.
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="accounts_sms_provider_message_unique",
            ),
        ]
        indexes = [
            # A user's messages, newest first (the profile's Activity tab).
            models.Index(fields=["user", "-created_at", "-id"], name="accounts_sms_user_newest"),
            models.Index(fields=["about_type", "about_id"], name="accounts_sms_about"),
        ]

    def __str__(self) -> str:
        return f"SMS {self.pk} ({self.status})"


class AuditEvent(models.Model):
    """One privileged action, who did it and what changed: the record auditors read.

    Written in the same transaction as the action itself (`accounts.services.audit_record`), and
    append-only like the ledger: a Postgres trigger refuses UPDATE and DELETE.
    """

    class Action(models.TextChoices):
        LOGIN_SUCCEEDED = "login_succeeded", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGIN_LOCKED_OUT = "login_locked_out", "Login locked out"
        TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Two-factor set up"
        TWO_FACTOR_FAILED = "two_factor_failed", "Two-factor code refused"
        RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
        TWO_FACTOR_RESET = "two_factor_reset", "Two-factor reset"
        LOGOUT = "logout", "Logged out"
        CREDITS_ADJUSTED = "credits_adjusted", "Credits changed"
        REFUND_REQUESTED = "refund_requested", "Refund requested"
        REFUND_APPROVED = "refund_approved", "Refund approved"
        REFUND_REJECTED = "refund_rejected", "Refund rejected"
        REFUND_EXECUTED = "refund_executed", "Refund executed"
        REFUND_FAILED = "refund_failed", "Refund failed"
        REFUND_REVERSED = "refund_reversed", "Refund reversed"
        REFUND_EXTERNAL = "refund_external", "Refund made outside the portal"
        PAYMENT_RECORDED = "payment_recorded", "Payment recorded"
        SMS_STATUS = "sms_status", "SMS status from the provider"
        STAFF_CHANGED = "staff_changed", "Staff member changed"
        AUDIT_EXPORTED = "audit_exported", "Audit log exported"

    created_at = models.DateTimeField(db_default=Now())
    # The staff member, or null with `actor_label` naming the system that acted ("Stripe", "Twilio").
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action)
    # The customer (or staff member) the action was about.
    target_user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
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
        indexes = [
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="accounts_audit_newest"),
            models.Index(fields=["actor", "-id"], name="accounts_audit_actor"),
            models.Index(fields=["target_user", "-id"], name="accounts_audit_target"),
            models.Index(fields=["action", "-id"], name="accounts_audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_label or self.actor_id}"
