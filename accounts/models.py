from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Lower, Right
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from accounts.phone_search import LAST_DIGITS_MIN
from accounts.search import PUNCTUATED, SearchableText


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
    # What the Users search matches: names and email, lower-cased and unaccented, computed by
    # PostgreSQL on every write. Stored, so that testing a row is a LIKE on text, not an
    # unaccent() of it (3 µs a row: the whole cost of a search at a million users).
    search_text = models.GeneratedField(expression=SearchableText(), output_field=models.TextField(), db_persist=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        permissions = [
            ("manage_staff", "Can give staff members roles and deactivate them"),
            ("erase_user", "Can erase a customer's personal data"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with this email address already exists.",
            ),
            models.CheckConstraint(condition=models.Q(credits__gte=0), name="accounts_user_credits_non_negative"),
        ]
        indexes = [
            GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name="accounts_user_search_text_trgm"),
            # The Users list: newest first, paged by keyset. It carries `search_text`, so that a
            # search's bounded steps test a window of the newest users from the index alone
            # (index-only scan), with no random read of the table for each row.
            models.Index(fields=["-date_joined", "-id"], include=["search_text"], name="accounts_user_newest_text"),
            # The same for the few users whose text has punctuation other than "@" and "." (see
            # accounts.search.PUNCTUATED): a word no trigram serves ("o'", "-p", "_") walks this.
            models.Index(
                fields=["-date_joined", "-id"],
                include=["search_text"],
                condition=models.Q(search_text__regex=PUNCTUATED),
                name="accounts_user_punctuated",
            ),
            # Search by phone (accounts/phone_search.py), newest first as every search: a whole
            # number by its E.164 text, the last digits ("#0143") by the last four, then the rest
            # of the ending tested on the rows of that group in order.
            models.Index(
                "phone",
                models.F("date_joined").desc(),
                models.F("id").desc(),
                condition=~models.Q(phone=""),
                name="accounts_user_phone_newest",
            ),
            models.Index(
                Right("phone", LAST_DIGITS_MIN),
                models.F("date_joined").desc(),
                models.F("id").desc(),
                condition=~models.Q(phone=""),
                name="accounts_user_phone_end_newest",
            ),
            # Staff lists (the Audit log's staff filter, the Staff page): a few rows out of a million.
            models.Index(fields=["first_name", "email"], condition=models.Q(is_staff=True), name="accounts_user_staff"),
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

    def is_same_person_as(self, other: "User") -> bool:
        """Whether `other` is this person's own account: the same user, the same email (case
        does not matter) or the same phone number. Staff and customers share this table, so a
        staff member may also be a customer; the money controls refuse them their own account."""
        if self.pk is not None and self.pk == other.pk:
            return True
        if self.email and self.email.casefold() == (other.email or "").casefold():
            return True
        return bool(self.phone) and bool(other.phone) and str(self.phone) == str(other.phone)


class CustomerNote(models.Model):
    """A staff member's note on a customer: append-only, like the ledger.

    A Postgres trigger (migration 0009) refuses UPDATE and DELETE; the one exception is an erasure
    of the customer's personal data (privacy/services.py), which may replace the text with a
    placeholder and nothing else. A correction is a new note.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="accounts_note_user_newest")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(text=""), name="accounts_customernote_text_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Note by {self.author_id} on {self.user_id}"
