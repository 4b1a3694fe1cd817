"""Writes about people: staff members' roles and access, staff notes on customers."""

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.audit import AccountAction
from accounts.models import CustomerNote, User
from accounts.roles import ROLES, roles_ensure
from audit.services import audit_record

NOTE_MAX_LENGTH = 2000


class NoteRefused(ValueError):
    """The note cannot be added (empty, too long); nothing was written."""


class StaffChangeRefused(ValueError):
    """The change to a staff member is not allowed; nothing was written."""


def staff_role(member: User) -> str:
    """The portal role (accounts/roles.py) a staff member holds, or "" for none."""
    names = {group.name for group in member.groups.all()}
    return next((role for role in reversed(list(ROLES)) if role in names), "")


@transaction.atomic
def staff_update(*, member: User, role: str, is_active: bool, actor: User) -> User:
    """Give a staff member one role (or none) and (de)activate them, with an audit event.

    Administrators only; nobody changes their own role or deactivates themselves, so the last
    Administrator cannot lock everyone out by accident.
    """
    if not actor.has_perm("accounts.manage_staff"):
        raise PermissionDenied("Only Administrators manage staff.")
    if role and role not in ROLES:
        raise StaffChangeRefused(f"Unknown role {role!r}.")
    locked = User.objects.select_for_update().get(pk=member.pk, is_staff=True)
    if locked.pk == actor.pk:
        raise StaffChangeRefused("You cannot change your own role or access; ask another Administrator.")
    before = {"role": staff_role(locked), "active": locked.is_active}
    if before == {"role": role, "active": is_active}:
        raise StaffChangeRefused("Nothing to change.")
    roles_ensure()
    locked.groups.remove(*Group.objects.filter(name__in=list(ROLES)))
    if role:
        locked.groups.add(Group.objects.get(name=role))
    locked.is_active = is_active
    locked.save(update_fields=["is_active"])
    audit_record(
        action=AccountAction.STAFF_CHANGED,
        actor=actor,
        target_user=locked,
        before=before,
        after={"role": role, "active": is_active},
    )
    return locked


@transaction.atomic
def customer_note_add(*, customer: User, author: User, text: str) -> CustomerNote:
    """Add a staff note on a customer, with an audit event. Notes are never edited or deleted
    (the database refuses it): a correction is a new note.

    The audit event names the note, not its text: the note itself is the record, and an erasure
    replaces its text in one place.
    """
    if not author.has_perm("accounts.add_customernote"):
        raise PermissionDenied("You do not have permission to add notes.")
    text = text.strip()
    if not text:
        raise NoteRefused("Write the note before adding it.")
    if len(text) > NOTE_MAX_LENGTH:
        raise NoteRefused(f"A note can be at most {NOTE_MAX_LENGTH:,} characters long.")
    note = CustomerNote.objects.create(user=customer, author=author, text=text)
    audit_record(
        action=AccountAction.NOTE_ADDED,
        actor=author,
        target_user=customer,
        about=note,
        after={"note": note.pk, "length": len(text)},
    )
    return note
