"""The portal's staff roles: Django groups and the permissions each carries.

Created by migrations (accounts 0004 and 0009 (notes), with each app granting its own permissions: payments 0006,
payments 0007, refunds 0003) from this table; permissions are checked in services and
views, never only hidden in templates. Limits (the Support credit-change cap, the approval
threshold, the daily refund cap) live in settings.
"""

SUPPORT = "Support"
FINANCE = "Finance"
ADMINISTRATOR = "Administrator"

SUPPORT_PERMISSIONS = [
    ("accounts", "view_user"),
    ("accounts", "add_customernote"),
    ("payments", "adjust_credits"),
]
FINANCE_PERMISSIONS = [
    *SUPPORT_PERMISSIONS,
    ("payments", "adjust_credits_any_amount"),
    ("payments", "approve_credit_change"),
    ("refunds", "execute_refund"),
    ("refunds", "approve_refund"),
    ("books", "view_books"),
    ("refunds", "view_all_refunds"),  # the Refunds page across customers, and its CSV
    ("payments", "apply_credit_batch"),  # bulk credit changes from a CSV
]
ADMINISTRATOR_PERMISSIONS = [
    *FINANCE_PERMISSIONS,
    ("accounts", "manage_staff"),
    ("accounts", "erase_user"),
    ("audit", "view_auditevent"),
    ("audit", "export_auditevent"),
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


def role_permissions_grant(app_label: str, grants: list[tuple[str, str]]):
    """A migration operation: give roles (by name) permissions of `app_label` (by codename).

    Each app grants its own permissions to the roles in its own migration, so that accounts
    depends on no app above it. Adding a grant twice changes nothing; reversing removes it.
    The operation uses only the migration's historical models, never this module's tables.
    """
    from django.contrib.auth.management import create_permissions
    from django.db import migrations

    def grant(apps, schema_editor) -> None:
        # Permissions are normally created after all migrations ran; the grants need them now.
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        for role, codename in grants:
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))

    def revoke(apps, schema_editor) -> None:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        for role, codename in grants:
            for group in Group.objects.filter(name=role):
                group.permissions.remove(
                    *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                )

    return migrations.RunPython(grant, revoke)
