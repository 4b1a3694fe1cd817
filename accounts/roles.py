"""The portal's staff roles: Django groups and the permissions each carries.

Created by a migration (accounts 0004) from this table; permissions are checked in services and
views, never only hidden in templates. Limits (the Support credit-change cap, the approval
threshold, the daily refund cap) live in settings.
"""

SUPPORT = "Support"
FINANCE = "Finance"
ADMINISTRATOR = "Administrator"

SUPPORT_PERMISSIONS = [
    ("accounts", "view_user"),
    ("payments", "adjust_credits"),
]
FINANCE_PERMISSIONS = [
    *SUPPORT_PERMISSIONS,
    ("payments", "adjust_credits_any_amount"),
    ("refunds", "execute_refund"),
    ("refunds", "approve_refund"),
]
ADMINISTRATOR_PERMISSIONS = [
    *FINANCE_PERMISSIONS,
    ("accounts", "manage_staff"),
    ("accounts", "view_auditevent"),
    ("accounts", "export_auditevent"),
]

ROLES = {
    SUPPORT: SUPPORT_PERMISSIONS,
    FINANCE: FINANCE_PERMISSIONS,
    ADMINISTRATOR: ADMINISTRATOR_PERMISSIONS,
}


def roles_ensure() -> None:
    """Create the role groups with their permissions if they are missing (migration accounts 0004
    does this on deploy; tests that empty the database between them call it again)."""
    from django.contrib.auth.models import Group, Permission

    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in permissions]
        )
